"""The cross-visit (history) and institution rules: built-in rules judging a request against the patient's earlier
encounters (`PatientHistory`, from the agent's history store) and the hospital's own state (`InstitutionState`).

`prepare(request, facts)` runs first: it merges the snapshot's encounters into `request.history` (the request's own
history encounters win for the same mdtrt_id; the encounter under check is never its own history), so the course,
interval and second-line families see the store's history too, and fills the encounter's empty `medins_lv` /
`medins_type` from the institution's configured level and type. Then `findings(ctx, facts, merged)`:
- FG-INST-GUIDANCE (block): in the 政策辅导期 (the first months after the agreement start) an encounter whose
  out_setl_flag is non-local (3 省内异地, 4 跨省异地) cannot be settled directly: every current line at risk;
- FG-HIST-SPLIT (分解住院, reason-required): an inpatient admission within `split_days` of an earlier stay's discharge
  with a main diagnosis of the same ICD-10 category (first `diagnosis_head` characters), neither an excepted planned
  cycle (`split_exempt_diagnoses`);
- FG-HIST-READMIT (非计划再入院, information): otherwise an inpatient admission within `readmission_days` of the
  latest discharge (planned cycles excepted);
- FG-HIST-DUPLICATE (重复开药, reason-required): a current drug line started while the same drug (`drug_key`) of an
  earlier visit still had more than `duplicate_overlap_days` days of supply left; the share of those days at risk;
- FG-HIST-FREQUENT (频繁就医, information): more than `frequent_visits` visits within `frequent_window_days`.
Encounter-level alerts name the current lines as involved (涉及项), with nothing at risk.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import replace
from datetime import date, timedelta

from ._history_texts import NONLOCAL_KIND, TEXTS
from .history_model import (
    DRUG_PREFIXES,
    HistoryFacts,
    HistoryPolicy,
    InstitutionState,
    PatientHistory,
    Stay,
    compile_history,
    drug_key,
    encounter_date,
    main_diagnosis,
)
from .index import CompiledPoint, RuleMeta
from .model import CheckRequest, OrderLine, WorkflowImpact
from .rules import Context, Finding
from .rules._base import line_amount
from .texts import register

__all__ = ["DUPLICATE", "FREQUENT", "GUIDANCE", "READMIT", "RULES", "SPLIT", "TEXTS", "findings", "prepare"]

register(TEXTS)


def _point(rule: RuleMeta, constraint: str) -> CompiledPoint:
    return CompiledPoint(rule.rule_id, rule, "history", "", constraint, (), None, None, None, frozenset(), True)


GUIDANCE = _point(
    RuleMeta("政策辅导期异地结算", "FG-INST-GUIDANCE", "政策辅导期内不得开展异地就医直接结算", "local", "history",
             "1", WorkflowImpact.BLOCK),
    "新定点医疗机构政策辅导期内不开通异地就医直接结算",
)  # fmt: skip
SPLIT = _point(
    RuleMeta("分解住院", "FG-HIST-SPLIT", "分解住院", "local", "history", "2", WorkflowImpact.REASON_REQUIRED),
    "同一患者同一机构相邻两次住院间隔异常（同病种短期内再入院，特殊情况除外）",
)
READMIT = _point(
    RuleMeta("非计划再入院", "FG-HIST-READMIT", "出院31天内再住院（非计划再入院监测）", "local", "history", "3",
             WorkflowImpact.INFO),
    "出院后31天内再次住院，纳入非计划再入院率监测（计划再入院除外）",
)  # fmt: skip
DUPLICATE = _point(
    RuleMeta("重复开药", "FG-HIST-DUPLICATE", "重复开药", "local", "history", "2", WorkflowImpact.REASON_REQUIRED),
    "前次处方药品尚未用完即再次开具同一药品",
)
FREQUENT = _point(
    RuleMeta("频繁就医", "FG-HIST-FREQUENT", "频繁就医", "local", "history", "3", WorkflowImpact.INFO),
    "单位时间内就诊次数超过设定值",
)
RULES = (GUIDANCE, SPLIT, READMIT, DUPLICATE, FREQUENT)


def prepare(request: CheckRequest, facts: HistoryFacts) -> tuple[CheckRequest, PatientHistory | None]:
    """The request as the families judge it (history merged, institution defaults filled) and the merged history."""
    inst = facts.institution
    enc = request.encounter
    if (inst.level and not enc.medins_lv) or (inst.type and not enc.medins_type):
        enc = replace(enc, medins_lv=enc.medins_lv or inst.level, medins_type=enc.medins_type or inst.type)
    snap, own, current = facts.patient, request.history, enc.mdtrt_id
    merged: PatientHistory | None
    if snap is not None and current not in snap.mdtrt_ids and all(e.mdtrt_id in snap.stored_ids for e in own):
        merged = snap  # the usual case: the store already holds everything (no work per check)
    elif snap is None or not snap.encounters:
        merged = compile_history(e for e in own if e.mdtrt_id != current) if own else None
    else:
        skip = {current, *(e.mdtrt_id for e in own)}
        mine = [e for e in own if e.mdtrt_id != current]
        merged = compile_history([*mine, *(e for e in snap.encounters if e.mdtrt_id not in skip)])
    history = merged.encounters if merged is not None else ()
    if enc is not request.encounter or history is not request.history:  # positional: dataclasses.replace costs ~2 µs
        r = request
        request = CheckRequest(r.trig_scen, r.patient, enc, history, r.task_id, r.locale)
    return request, merged


def findings(ctx: Context, facts: HistoryFacts, merged: PatientHistory | None) -> list[Finding]:
    """Every history and institution finding for the request (see the module docstring)."""
    out: list[Finding] = []
    guidance = _guidance(ctx, facts.institution)
    if guidance is not None:
        out.append(guidance)
    if merged is None or not merged.encounters:
        return out
    policy = facts.policy
    if ctx.visit_class == "inpatient" and merged.stays:
        readmission = _readmission(ctx, policy, merged)
        if readmission is not None:
            out.append(readmission)
    if merged.supplies:
        out.extend(_duplicates(ctx, policy, merged))
    if merged.visits:
        frequent = _frequent(ctx, policy, merged)
        if frequent is not None:
            out.append(frequent)
    return out


def _judged(ctx: Context) -> tuple[OrderLine, ...]:
    return tuple([line for line in ctx.current_lines if line.cnt > 0 and line.sumamt >= 0])


def _guidance(ctx: Context, inst: InstitutionState) -> Finding | None:
    flag = ctx.encounter.out_setl_flag
    until = inst.guidance_until
    if until is None or ctx.service_date >= until or flag not in inst.nonlocal_out_setl_flags:
        return None
    kind, kind_en = NONLOCAL_KIND.get(flag, ("异地就医", "a non-local encounter"))
    text = ctx.say("institution.guidance", start=inst.agreement_start, until=until, kind=kind, kind_en=kind_en,
                   flag=flag, rule=GUIDANCE.rule.rule_name)  # fmt: skip
    return Finding(GUIDANCE, tuple((line, line_amount(line)) for line in _judged(ctx)), text)


def _exempt(policy: HistoryPolicy, *codes: str) -> bool:
    return any(code.startswith(policy.split_exempt_diagnoses) for code in codes if code)


def _readmission(ctx: Context, policy: HistoryPolicy, merged: PatientHistory) -> Finding | None:
    """SPLIT for the latest earlier stay of the same category within split_days, else READMIT for the latest stay
    within readmission_days; nothing when a planned cycle is involved."""
    adm = ctx.encounter.adm_date or ctx.service_date
    horizon = adm - timedelta(days=max(policy.split_days, policy.readmission_days))
    dx = main_diagnosis(ctx.encounter)
    head = dx[: policy.diagnosis_head]
    latest: Stay | None = None
    end = bisect_right(merged.stay_ends, adm)
    for stay in reversed(merged.stays[bisect_left(merged.stay_ends, horizon) : end]):
        if _visit_class(ctx, stay) != "inpatient" or stay.adm_date >= adm:
            continue
        gap = (adm - stay.dscg_date).days
        if dx and gap <= policy.split_days and stay.main_dise_codg[: policy.diagnosis_head] == head:
            if _exempt(policy, dx, stay.main_dise_codg):
                return None
            return _stay_finding(ctx, SPLIT, stay, adm=adm, gap=gap, days=policy.split_days, dx=dx, head=head)
        if latest is None and gap <= policy.readmission_days:
            latest = stay
    if latest is None or _exempt(policy, dx, latest.main_dise_codg):
        return None
    gap = (adm - latest.dscg_date).days
    return _stay_finding(ctx, READMIT, latest, adm=adm, gap=gap, days=policy.readmission_days, dx=dx, head=head)


def _visit_class(ctx: Context, stay: Stay) -> str | None:
    params = ctx.params
    return params.visit_class_by_med_type.get(stay.med_type) or params.visit_class_by_med_mdtrt_type.get(
        stay.med_mdtrt_type
    )


def _stay_finding(
    ctx: Context, point: CompiledPoint, stay: Stay, *, adm: date, gap: int, days: int, dx: str, head: str
) -> Finding:
    key = "history.split" if point is SPLIT else "history.readmission"
    text = ctx.say(key, adm=adm, dscg=stay.dscg_date, prev=stay.mdtrt_id, gap=gap, days=days, dx=dx, head=head,
                   prev_dx=stay.main_dise_codg or "-", rule=point.rule.rule_name)  # fmt: skip
    return Finding(point, (), text, related=_judged(ctx))


def _duplicates(ctx: Context, policy: HistoryPolicy, merged: PatientHistory) -> list[Finding]:
    out: list[Finding] = []
    limit = policy.duplicate_overlap_days
    by_drug = merged.supplies
    for line in ctx.current_lines:
        code = line.hilist_code
        if not code.startswith(DRUG_PREFIXES) or line.cnt <= 0 or line.sumamt < 0:
            continue
        supplies = by_drug.get(drug_key(code))
        if not supplies:
            continue
        first = line.begn_date or ctx.service_date  # = ctx.line_span(line)[0]; the span's end only for a finding
        worst, left = None, limit
        for supply in reversed(supplies):  # by last day, latest first: stop at the first that ended before
            if supply.last < first:
                break
            remaining = (supply.last - first).days + 1
            if supply.first <= first and remaining > left:
                worst, left = supply, remaining
        if worst is None:
            continue
        last = ctx.line_span(line)[1]
        days = (last - first).days + 1
        over = min(left, days)
        text = ctx.say("history.duplicate", item=line.hilist_name or line.hilist_code, prev=worst.mdtrt_id,
                       prior_last=worst.last, first=first, overlap=left, limit=limit,
                       rule=DUPLICATE.rule.rule_name)  # fmt: skip
        out.append(Finding(DUPLICATE, ((line, line_amount(line) * over / days),), text))
    return out


def _frequent(ctx: Context, policy: HistoryPolicy, merged: PatientHistory) -> Finding | None:
    day = encounter_date(ctx.encounter) or ctx.service_date
    since = day - timedelta(days=policy.frequent_window_days - 1)
    count = bisect_right(merged.visits, day) - bisect_left(merged.visits, since) + 1
    if count <= policy.frequent_visits:
        return None
    text = ctx.say("history.frequent", window=policy.frequent_window_days, since=since, day=day, count=count,
                   limit=policy.frequent_visits, rule=FREQUENT.rule.rule_name)  # fmt: skip
    return Finding(FREQUENT, (), text, related=_judged(ctx))
