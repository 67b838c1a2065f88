"""The only entry point of the pure check engine: `check(request, kb, service_date, judgement_id, trace=...,
practitioners=..., history=...)`.

For each current order line it looks the national code up in the compiled KB, keeps the points in force on the
line's date, hands them to their rule family and turns the families' findings into alerts. With a traceability
snapshot (`trace`, taken from the ledger by the edge) the `trace` rules judge the lines' drug codes too; with the
practitioners' 医保支付资格 statuses (`practitioners`, from the agent's status cache) the `practitioner` rules judge
who ordered each line; with the patient's history and the institution's state (`history`, from the agent's
history cache) the store's earlier encounters join `request.history` and the `history` rules judge across visits
(分解住院, readmission, 重复开药, 频繁就医) and the 政策辅导期.
No I/O, no clock: the date of service, the judgement id and the snapshots come in as
arguments.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from . import history_rules, practitioner_rules, trace_rules
from . import unmapped as unmapped_rule
from .history_model import HistoryFacts
from .index import CompiledKB, CompiledPoint
from .model import Alert, AlertLine, CheckRequest, CheckResult, OrderLine
from .practitioner_model import PractitionerFacts
from .rules import FAMILIES, Context, Finding
from .trace_model import TraceFacts

__all__ = ["check"]

CENT = Decimal("0.01")
ZERO_CENTS = Decimal("0.00")


def check(
    request: CheckRequest,
    kb: CompiledKB,
    service_date: date,
    judgement_id: str,
    *,
    trace: TraceFacts | None = None,
    practitioners: PractitionerFacts | None = None,
    history: HistoryFacts | None = None,
) -> CheckResult:
    """Judge `request` against `kb` as of `service_date`; alerts are ordered deterministically. With `trace`, the
    lines' traceability codes are judged against that ledger snapshot as well (None: no code checks at all); with
    `practitioners`, the lines' doctors against their payment-qualification statuses (None: no such checks); with
    `history`, across the patient's visits and against the institution's state (None: request.history only)."""
    merged = None
    if history is not None:
        request, merged = history_rules.prepare(request, history)
    ctx = Context(request, kb, service_date, merged.by_code if merged is not None else None)
    by_family: dict[str, list[tuple[OrderLine, CompiledPoint]]] = {}
    ids_by_code, kb_points = kb.ids_by_code, kb.points
    unmapped: list[OrderLine] = []
    for line in ctx.current_lines:
        ids = ids_by_code.get(line.hilist_code)
        if not ids or line.cnt <= 0 or line.sumamt < 0:
            # a refund, cancel or price-adjustment line (cnt <= 0, negative total) is never a violation
            if not line.hilist_code and line.cnt > 0:
                unmapped.append(line)  # no national code: the hospital code maps to none
            continue
        day = line.begn_date or service_date
        for kp_id in ids:
            point = kb_points[kp_id]
            if point.always or point.applies_on(day):
                hits = by_family.get(point.family)
                if hits is None:
                    by_family[point.family] = [(line, point)]
                else:
                    hits.append((line, point))

    findings: list[Finding] = unmapped_rule.findings(ctx, unmapped) if unmapped else []
    for family_name, hits in by_family.items():
        findings.extend(FAMILIES[family_name].check(ctx, hits))
    if trace is not None:
        findings.extend(trace_rules.findings(ctx, trace))
    if practitioners is not None:
        findings.extend(practitioner_rules.findings(ctx, practitioners))
    if history is not None:
        findings.extend(history_rules.findings(ctx, history, merged))
    findings.sort(key=_order_key)
    mdtrt_id = request.encounter.mdtrt_id
    alerts = tuple([_to_alert(f, f"{judgement_id}-{n:03d}", mdtrt_id) for n, f in enumerate(findings, 1)])
    return CheckResult(judgement_id=judgement_id, kb_revision=kb.revision, service_date=service_date, alerts=alerts)


def _order_key(f: Finding) -> tuple[str, str, list[str]]:
    return (f.point.rule.rule_id, f.point.kp_id, [line.rx_id for line, _ in f.violating])


def _to_alert(f: Finding, jr_id: str, mdtrt_id: str) -> Alert:
    rule = f.point.rule
    lines = []
    rx_ids = []
    total = ZERO_CENTS
    for line, raw_amount in f.violating:
        amount = raw_amount.quantize(CENT) if raw_amount > 0 else ZERO_CENTS  # an amount at risk is never negative
        total += amount
        lines.append(AlertLine(line.rx_id, "1", amount))
        rx_ids.append(line.rx_id)
    if f.related:
        seen = set(rx_ids)
        for line in f.related:
            if line.rx_id not in seen:
                seen.add(line.rx_id)
                lines.append(AlertLine(line.rx_id, "2", ZERO_CENTS))
                rx_ids.append(line.rx_id)
    return Alert(  # positional: the order of Alert's fields
        jr_id,
        rule.rule_id,
        rule.rule_name,
        rule.rule_class,
        f.point.kp_id,
        f.text,
        f.sev_deg or rule.sev_deg,
        f.workflow_impact or rule.workflow_impact,
        total,
        tuple(rx_ids),
        tuple(lines),
        f.point.constraint,
        mdtrt_id,
        f.violating[0][0].drord_dr_codg if f.violating else "",
    )
