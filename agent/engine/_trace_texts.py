"""Alert texts of the traceability-code (`trace`) rules, zh-CN and en, and `LineTexts`, which renders them for one
order line and wraps them in findings.

Each text says what is wrong, names the codes concerned and what the pharmacist or clinician does next. Fields:
`item` (drug name), `rule` (rule name), `code` (the line's national code, or in a clause the scanned code).
`REASONS` holds the format-problem reason keys of `agent.trace.codes` that have a text of their own; any other key
a ledger may report renders through `trace.reason.other` with its detail.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from .index import CompiledPoint
from .model import OrderLine, WorkflowImpact
from .rules import Context, Finding
from .rules._base import line_amount
from .texts import register
from .trace_model import CodeFacts

__all__ = ["REASONS", "TEXTS", "LineTexts", "num"]

REASONS = frozenset({"empty", "chars", "length", "prefix", "gs1", "gs1_gtin", "gs1_serial"})

TEXTS = {
    # --- FG-TRACE-FORMAT -------------------------------------------------------------------------------------
    "trace.format": {
        "zh-CN": "【{item}】追溯码无法识别：{problems}。请核对药品包装，重新扫描该盒的追溯码（{rule}）。",
        "en": "[{item}] malformed traceability code: {problems}. Check the box and scan its code again ({rule}).",
    },
    "trace.reason.empty": {"zh-CN": "{code}未读到码内容", "en": "{code}: no code content ({detail})"},
    "trace.reason.chars": {"zh-CN": "{code}含非数字字符", "en": "{code}: {detail}"},
    "trace.reason.length": {"zh-CN": "{code}位数不符，国内追溯码为20位数字", "en": "{code}: {detail}"},
    "trace.reason.prefix": {"zh-CN": "{code}不是8开头，不是国内追溯码", "en": "{code}: {detail}"},
    "trace.reason.gs1": {"zh-CN": "{code}无法按GS1码解析（{detail}）", "en": "{code}: not a valid GS1 code ({detail})"},
    "trace.reason.gs1_gtin": {
        "zh-CN": "{code}的GS1商品码(01)缺失或校验位错误（{detail}）",
        "en": "{code}: GS1 GTIN (01) missing or wrong ({detail})",
    },
    "trace.reason.gs1_serial": {
        "zh-CN": "{code}缺少GS1序列号(21)，不能唯一标识一盒药",
        "en": "{code}: no GS1 serial (21), so it does not identify one box",
    },
    "trace.reason.other": {"zh-CN": "{code}格式错误（{detail}）", "en": "{code}: {detail}"},
    # --- FG-TRACE-PRODUCT ------------------------------------------------------------------------------------
    "trace.product": {
        "zh-CN": "【{item}】追溯码{pairs}对应的医保药品与所开药品{code}不符，疑似串换药品；"
        "请核对实际发出的药品，扫描所开药品的追溯码（{rule}）。",
        "en": "[{item}] traceability code {pairs}, not the ordered {code}: possibly a switched drug; check the box "
        "actually dispensed and scan the code of the drug ordered ({rule}).",
    },
    "trace.product.pair": {"zh-CN": "{code}（属{other}）", "en": "{code} belongs to national drug {other}"},
    # --- FG-TRACE-RESOLD -------------------------------------------------------------------------------------
    "trace.resold": {
        "zh-CN": "【{item}】追溯码重复销售：{parts}。一盒药只能销售一次，疑似回流药；"
        "请核对实物，扫描本盒药品自己的追溯码，退货须先登记（{rule}）。",
        "en": "[{item}] traceability code sold twice: {parts}. A box may be sold once only (possibly a resold drug, "
        "回流药); check the box, scan its own code, and record any return first ({rule}).",
    },
    "trace.resold.elsewhere": {
        "zh-CN": "{code}已在其他就诊中售出且未登记退货",
        "en": "{code} was sold in another encounter and no return is recorded",
    },
    "trace.resold.here": {
        "zh-CN": "{code}已在本次就诊医嘱{first}中售出",
        "en": "{code} was already sold on order {first} of this encounter",
    },
    "trace.resold.same_line": {"zh-CN": "{code}在本医嘱中重复扫描", "en": "{code} is scanned twice on this order"},
    "trace.resold.twice": {
        "zh-CN": "{code}已在本次就诊医嘱{first}中扫描",
        "en": "{code} is already scanned on order {first} of this encounter",
    },
    # --- FG-TRACE-UNKNOWN ------------------------------------------------------------------------------------
    "trace.unknown": {
        "zh-CN": "【{item}】{parts}；请药房核实该药品的入库记录和药品标识码对照，补登后再结算（{rule}）。",
        "en": "[{item}] {parts}; pharmacy: check the inbound (入库) record and the product catalogue entry, and "
        "register what is missing before settlement ({rule}).",
    },
    "trace.unknown.stock": {"zh-CN": "追溯码{codes}无入库记录", "en": "traceability code {codes}: no inbound record"},
    "trace.unknown.catalogue": {
        "zh-CN": "追溯码{codes}的药品标识码未对照医保药品",
        "en": "traceability code {codes}: product code not in the catalogue",
    },
    # --- FG-TRACE-EXPIRED ------------------------------------------------------------------------------------
    "trace.expired": {
        "zh-CN": "【{item}】追溯码{pairs}的药品已过有效期（用药日期{day}）；请更换有效期内的药品并重新扫码（{rule}）。",
        "en": "[{item}] the drug of traceability code {pairs} has expired (used on {day}); dispense an in-date box "
        "and scan its code ({rule}).",
    },
    "trace.expired.pair": {"zh-CN": "{code}（有效期至{expiry}）", "en": "{code} (expiry {expiry})"},
    # --- FG-TRACE-COUNT --------------------------------------------------------------------------------------
    "trace.count.boxes": {
        "zh-CN": "【{item}】整盒发药{cnt}盒应扫{need}个追溯码，实扫{n}个（{codes}）；"
        "请按一盒一码补扫或删除多余的码，确有原因请说明（{rule}）。",
        "en": "[{item}] {cnt} whole boxes need {need} traceability codes, {n} scanned ({codes}); scan one code per "
        "box or remove the extra ones, or give the reason ({rule}).",
    },
    "trace.count.split": {
        "zh-CN": "【{item}】拆零发药{cnt}个最小单位，已拆零的盒（{codes}）仅剩{left}个；"
        "需新拆一盒并扫描其追溯码（{rule}）。",
        "en": "[{item}] split dispensing of {cnt} units, but the opened box(es) {codes} have only {left} left; "
        "a new box code is needed: open a new box and scan its code ({rule}).",
    },
    # --- FG-TRACE-MISSING ------------------------------------------------------------------------------------
    "trace.missing": {
        "zh-CN": "【{item}】药品{code}未扫描追溯码，无码不付：医保不予结算；请扫描每盒药品的追溯码后再结算（{rule}）。",
        "en": "[{item}] no traceability code scanned for drug {code}: without a code the fund does not pay "
        "(无码不付); scan the code of each box before settlement ({rule}).",
    },
    "trace.missing.nocode": {
        "zh-CN": "【{item}】药品{code}未扫描追溯码，无码库存仅余{left}，不足本次{cnt}；"
        "请扫描每盒药品的追溯码后再结算（{rule}）。",
        "en": "[{item}] no traceability code scanned for drug {code} and the no-code stock (无码库) has only {left} "
        "left of the {cnt} needed; scan the code of each box before settlement ({rule}).",
    },
}
register(TEXTS)


def num(value: Decimal) -> str:
    """A count as people write it: 2, 0.5, 10 (no trailing zeros, no exponent)."""
    return f"{value.normalize():f}"


def shown(code: str) -> str:
    """A scanned code as printed in a text (the GS1 separator made visible)."""
    return code.replace("\x1d", "<GS>")


class LineTexts:
    """Renders one line's alert texts in the request's locale, and its findings (the whole line amount at risk)."""

    def __init__(self, ctx: Context, line: OrderLine) -> None:
        self.ctx, self.line = ctx, line
        english = ctx.locale == "en"
        self.sep = ", " if english else "、"  # between codes
        self.clause_sep = "; " if english else "；"  # between clauses
        self.item = line.hilist_name or line.hilist_code or line.hosplist_code

    def codes(self, facts: Sequence[CodeFacts]) -> str:
        """The codes, as shown to the user, joined."""
        return self.sep.join(shown(f.code) for f in facts)

    def part(self, key: str, code: CodeFacts | None = None, **fields: object) -> str:
        """One clause of a text (about `code`, when given)."""
        return self.ctx.say(key, code=shown(code.code) if code else "", **fields)

    def finding(
        self,
        point: CompiledPoint,
        key: str,
        parts: Sequence[str] = (),
        *,
        related: tuple[OrderLine, ...] = (),
        sev_deg: str | None = None,
        impact: WorkflowImpact | None = None,
        **fields: object,
    ) -> Finding:
        """The finding of `point` on this line, with text `key` (clauses `parts` joined into `{parts}`)."""
        text = self.ctx.say(key, item=self.item, rule=point.rule.rule_name, code=self.line.hilist_code,
                            parts=self.clause_sep.join(parts), **fields)  # fmt: skip
        return Finding(point, ((self.line, line_amount(self.line)),), text, related, sev_deg, impact)
