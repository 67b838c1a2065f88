"""Discount of second and later operations through one incision (手术项目未按规定折价收费).

A point puts an operation code in a surgery group ("胃肠手术组"). When lines of two or more distinct codes of one
group are billed on the same date (the proxy for "经同一切口"; an undated line counts on the date of service),
the operation with the highest reference price (`hilist_pric`, else the billed `pric`) is the main one and every
other line of the group and date is a second or later operation, payable at most at the KB parameter
`surgery_discount_ratio` (default 0.5) × its reference price `hilist_pric`, rounded to the cent.

A current second line billed above that violates: vola_amt = (pric − limit) × cnt, with the main operation listed
as involved. A current second line without `hilist_pric` cannot be verified: a reason-required finding (sev 2)
asks the clinician to confirm it was discounted. Earlier lines (curr_drord_flag 0) of the date count when
choosing the main operation but are never flagged; lines with cnt ≤ 0 (refunds) are ignored. A code may sit in
several groups; a line gets one finding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ..errors import KbInvalid
from ..index import CompiledPoint, KbParameters
from ..model import OrderLine, WorkflowImpact
from ._base import Context, Family, Finding, Hit, unit_price

__all__ = ["FAMILY", "TEXTS"]

CENT = Decimal("0.01")
ZERO = Decimal(0)

TEXTS = {
    "surgery.not_discounted": {
        "zh-CN": "【{item}】与同日【{main}】同属{group}，作为第二及以后的手术应按{pct}%收费（不超过{limit}元），"
        "实际单价{pric}元，未按规定折价（{rule}）。",
        "en": "[{item}] and [{main}] on the same day are both in {group}; as a second operation it is payable "
        "at {pct}% (at most {limit}), but is billed at {pric} ({rule}).",
    },
    "surgery.unverifiable": {
        "zh-CN": "【{item}】与同日【{main}】同属{group}，作为第二及以后的手术应按{pct}%折价收费；"
        "医嘱未提供医保目录价格，无法核实，请确认已按规定折价（{rule}）。",
        "en": "[{item}] and [{main}] on the same day are both in {group}; as a second operation it is payable "
        "at {pct}%. The list price is missing, so please confirm it was discounted ({rule}).",
    },
}


@dataclass(frozen=True, slots=True)
class SurgeryParams:
    """The surgery group of the point's code, and the payable share of a second operation."""

    group: str
    ratio: Decimal


def compile_params(raw: Mapping[str, Any], kb: KbParameters, where: str) -> SurgeryParams:
    """`{"group": "胃肠手术组"}`; the ratio is the KB parameter `surgery_discount_ratio`."""
    group = str(raw.get("group") or "")
    if not group:
        raise KbInvalid("missing surgery group", f"{where}.group")
    ratio = kb.surgery_discount_ratio
    if not ratio.is_finite() or not 0 < ratio <= 1:
        raise KbInvalid("must be a decimal in (0, 1]", "parameters.surgery_discount_ratio")
    return SurgeryParams(group, ratio)


def _reference(line: OrderLine) -> Decimal:
    return line.hilist_pric if line.hilist_pric is not None else unit_price(line)


def _buckets(ctx: Context, groups: set[str]) -> dict[tuple[str, date], list[OrderLine]]:
    """This encounter's lines of the wanted groups, by (group, date of use), in HIS order."""
    kb = ctx.kb
    out: dict[tuple[str, date], list[OrderLine]] = {}
    for line in ctx.encounter.orders:
        points = kb.points_for(line.hilist_code)
        if not points or line.cnt <= 0:
            continue
        day = ctx.line_date(line)
        for p in points:
            if p.family == "surgery" and p.params.group in groups and p.applies_on(day):
                lines = out.setdefault((p.params.group, day), [])
                if not lines or lines[-1] is not line:
                    lines.append(line)
    return out


def _name(ctx: Context, line: OrderLine) -> str:
    """The operation's name: the HIS one, else the KB's, else its code."""
    if line.hilist_name:
        return line.hilist_name
    points = ctx.kb.points_for(line.hilist_code)
    return points[0].item_name if points else line.hilist_code


def _judge(ctx: Context, point: CompiledPoint, line: OrderLine, main: OrderLine) -> Finding | None:
    p: SurgeryParams = point.params
    fields: dict[str, object] = {
        "item": line.hilist_name or point.item_name,
        "main": _name(ctx, main),
        "group": p.group,
        "pct": format((p.ratio * 100).normalize(), "f"),
        "rule": point.rule.rule_name,
    }
    pric = unit_price(line)
    if line.hilist_pric is None:
        if pric <= 0:
            return None  # nothing charged: nothing to discount
        text = ctx.say("surgery.unverifiable", **fields)
        return Finding(point, ((line, ZERO),), text, (main,), "2", WorkflowImpact.REASON_REQUIRED)
    limit = (p.ratio * line.hilist_pric).quantize(CENT, ROUND_HALF_UP)
    if pric <= limit:
        return None
    text = ctx.say("surgery.not_discounted", limit=limit, pric=pric.quantize(CENT), **fields)
    return Finding(point, ((line, (pric - limit) * line.cnt),), text, (main,))


def check(ctx: Context, hits: Sequence[Hit]) -> list[Finding]:
    """Flag current second-and-later operations of a group and date billed above the discounted price."""
    points: dict[tuple[str, str], CompiledPoint] = {}  # (rx_id, group) -> point of that current line
    for line, point in hits:
        points.setdefault((line.rx_id, point.params.group), point)
    groups = {group for _, group in points}
    out: list[Finding] = []
    judged: set[str] = set()
    for (group, _), lines in sorted(_buckets(ctx, groups).items()):
        if len({o.hilist_code for o in lines}) < 2:
            continue
        main = max(lines, key=_reference)  # first listed wins a tie
        for line in lines:
            hit = points.get((line.rx_id, group))
            if line is main or hit is None or line.rx_id in judged:
                continue
            finding = _judge(ctx, hit, line, main)
            if finding is not None:
                judged.add(line.rx_id)
                out.append(finding)
    return out


FAMILY = Family("surgery", compile_params, check)
