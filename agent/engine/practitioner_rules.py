"""The practitioner (医保支付资格) rule family: built-in rules judging who ordered each line against the statuses
snapshot (`PractitionerFacts`) the edge took from the agent's cache before the check.

Two rules, each needing no knowledge point (like `unmapped`):
- FG-PRACT-SUSPENDED: a line ordered by a practitioner whose payment qualification is suspended (on the line's date,
  before `until`) or terminated is not paid by the fund — block, the whole line amount at risk. Emergency encounters
  (visit class "emergency", from med_type) are exempt, as the rules exempt emergency and rescue.
- FG-PRACT-CODE: a practitioner code that is not a national 医保医师代码 (`D`/`N` + 12 digits) cannot be matched with
  the bureau's statuses — information, once per distinct code per encounter, naming every line it ordered (no
  amount at risk). Only when the snapshot's `check_code_format` is on.

The practitioner of a line is its `drord_dr_codg`, else the encounter's `dr_codg`; a line with neither is not
judged. As everywhere, only current lines with cnt > 0 and no negative total are judged.
"""

from __future__ import annotations

from decimal import Decimal

from .index import CompiledPoint, RuleMeta
from .model import OrderLine, WorkflowImpact
from .practitioner_model import TERMINATED, PractitionerFacts, Qualification, is_national_code
from .rules import Context, Finding
from .rules._base import line_amount
from .texts import register

__all__ = ["CODE", "CODE_CLASS", "RULES", "SUSPENDED", "SUSPENDED_CLASS", "TEXTS", "findings"]

SUSPENDED_CLASS = "医师医保支付资格"
CODE_CLASS = "医保医师代码"
ZERO = Decimal(0)
MAX_ITEMS_NAMED = 3  # a CODE text names this many of the code's items, then "…"


def _point(rule: RuleMeta, constraint: str) -> CompiledPoint:
    return CompiledPoint(rule.rule_id, rule, "practitioner", "", constraint, (), None, None, None, frozenset(), True)


SUSPENDED = _point(
    RuleMeta(SUSPENDED_CLASS, "FG-PRACT-SUSPENDED", "医师医保支付资格暂停或终止", "local", "practitioner", "1",
             WorkflowImpact.BLOCK),
    "医保支付资格暂停或终止期间，该人员提供服务的费用医保基金不予结算（急诊、抢救除外）",
)  # fmt: skip
CODE = _point(
    RuleMeta(CODE_CLASS, "FG-PRACT-CODE", "医师代码不是国家医保医师代码", "local", "practitioner", "3",
             WorkflowImpact.INFO),
    "医师代码应为国家医保医师代码（D或N加12位数字，共13位）",
)  # fmt: skip
RULES = (SUSPENDED, CODE)

TEXTS = {
    "practitioner.suspended": {
        "zh-CN": "【{item}】开单医师{doctor}的医保支付资格暂停中（{until}起恢复），暂停期间其医药费用医保基金不予"
        "支付；请改由具备医保支付资格的医师开具，或告知患者自费（急诊、抢救除外）（{rule}）。",
        "en": "[{item}] the payment qualification of ordering doctor {doctor} is suspended (restored from {until}); "
        "meanwhile the fund does not pay for this doctor's orders. Have a doctor with payment qualification order "
        "it, or tell the patient it is self-paid (emergency and rescue excepted) ({rule}).",
    },
    "practitioner.suspended.open": {
        "zh-CN": "【{item}】开单医师{doctor}的医保支付资格暂停中（恢复日期待医保部门通知），暂停期间其医药费用"
        "医保基金不予支付；请改由具备医保支付资格的医师开具，或告知患者自费（急诊、抢救除外）（{rule}）。",
        "en": "[{item}] the payment qualification of ordering doctor {doctor} is suspended (until the insurer lifts "
        "it); meanwhile the fund does not pay for this doctor's orders. Have a doctor with payment qualification "
        "order it, or tell the patient it is self-paid (emergency and rescue excepted) ({rule}).",
    },
    "practitioner.terminated": {
        "zh-CN": "【{item}】开单医师{doctor}的医保支付资格已终止，其医药费用医保基金不予支付；"
        "请改由具备医保支付资格的医师开具，或告知患者自费（急诊、抢救除外）（{rule}）。",
        "en": "[{item}] the payment qualification of ordering doctor {doctor} is terminated: the fund does not pay "
        "for this doctor's orders. Have a doctor with payment qualification order it, or tell the patient it is "
        "self-paid (emergency and rescue excepted) ({rule}).",
    },
    "practitioner.code": {
        "zh-CN": "医师代码{doctor}（{n}条医嘱：{items}）不是国家医保医师代码（D或N加12位数字），医保无法核验"
        "其支付资格；请信息科将院内医师代码对照为国家医保医师代码后上传（{rule}）。",
        "en": "Doctor code {doctor} ({n} order(s): {items}) is not a national practitioner code (D or N and 12 "
        "digits), so the insurer cannot check the doctor's payment qualification; have IT map the hospital's "
        "doctor codes to the national codes ({rule}).",
    },
}
register(TEXTS)


def _judged(line: OrderLine) -> bool:
    return line.current and line.cnt > 0 and line.sumamt >= 0


def findings(ctx: Context, facts: PractitionerFacts) -> list[Finding]:
    """SUSPENDED per blocked line, then (with `check_code_format`) CODE per distinct non-national code."""
    statuses = facts.statuses
    if not statuses and not facts.check_code_format:
        return []
    exempt = ctx.visit_class == "emergency"
    fallback = ctx.encounter.dr_codg.strip()
    by_code: dict[str, list[OrderLine]] = {}
    out: list[Finding] = []
    for line in ctx.current_lines:
        if not _judged(line):
            continue
        code = line.drord_dr_codg.strip() or fallback
        if not code:
            continue
        by_code.setdefault(code, []).append(line)
        qualification = statuses.get(code) if statuses and not exempt else None
        if qualification is not None and qualification.blocks_on(ctx.line_date(line)):
            out.append(_blocked(ctx, line, code, qualification))
    if facts.check_code_format:
        out.extend(_malformed(ctx, code, lines) for code, lines in by_code.items() if not is_national_code(code))
    return out


def _item(line: OrderLine) -> str:
    return line.hilist_name or line.hilist_code or line.hosplist_code or line.rx_id


def _blocked(ctx: Context, line: OrderLine, code: str, qualification: Qualification) -> Finding:
    """The SUSPENDED finding on one line (the whole line amount at risk)."""
    if qualification.status == TERMINATED:
        key = "practitioner.terminated"
    else:
        key = "practitioner.suspended" if qualification.until is not None else "practitioner.suspended.open"
    text = ctx.say(key, item=_item(line), doctor=code, until=qualification.until, rule=SUSPENDED.rule.rule_name)
    return Finding(SUSPENDED, ((line, line_amount(line)),), text)


def _malformed(ctx: Context, code: str, lines: list[OrderLine]) -> Finding:
    """The CODE finding for one code: every line it ordered, nothing at risk."""
    sep = ", " if ctx.locale == "en" else "、"
    names = list(dict.fromkeys(_item(line) for line in lines))
    items = sep.join(names[:MAX_ITEMS_NAMED]) + ("…" if len(names) > MAX_ITEMS_NAMED else "")
    text = ctx.say("practitioner.code", doctor=code, n=len(lines), items=items, rule=CODE.rule.rule_name)
    return Finding(CODE, tuple((line, ZERO) for line in lines), text)
