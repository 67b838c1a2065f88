"""Duplicate billing of a service already included in another (医疗服务项目重复收费).

A point names item A and item B, where A's price already includes B ("含监护、床位、诊查、护理"). Both billed in
the window is a violation: for an outpatient, emergency or unknown visit the two lines must cover a common date
(a line with a stop date covers begn..stop); for an inpatient stay anywhere in the encounter (window "encounter").
Window "day" means a common date whatever the visit. At least one of the two lines must be current; lines with
cnt ≤ 0 (refunds) are not charges.

The B line is the duplicate charge: it is flagged when it is current; when only A is current (B was billed
earlier), the A line is. A line is flagged once per point, with every line it clashes with listed as involved,
so its amount is never counted twice. The point is indexed under both codes, so the engine may hand it over twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from ..errors import KbInvalid
from ..index import CompiledPoint, KbParameters
from ..model import OrderLine
from ._base import Context, Family, Finding, Hit, line_amount

__all__ = ["FAMILY", "TEXTS"]

WINDOWS = frozenset({"encounter", "day"})

TEXTS = {
    "pair.same_day": {
        "zh-CN": "【{item_b}】已包含在同日收取的【{item_a}】中，不应重复收费（{rule}）。",
        "en": "[{item_b}] is already included in [{item_a}] billed on the same day "
        "and must not be charged again ({rule}).",
    },
    "pair.same_stay": {
        "zh-CN": "【{item_b}】已包含在本次住院收取的【{item_a}】中，不应重复收费（{rule}）。",
        "en": "[{item_b}] is already included in [{item_a}] billed during this stay "
        "and must not be charged again ({rule}).",
    },
}


@dataclass(frozen=True, slots=True)
class PairParams:
    """Item `a` includes item `b`; `window` "encounter" (same day outpatient, same stay inpatient) or "day"."""

    a: str
    b: str
    window: str


def compile_params(raw: Mapping[str, Any], _kb: KbParameters, where: str) -> PairParams:
    """`{"a": code, "b": code, "window": "encounter"|"day"}`."""
    a = str(raw.get("a") or "")
    b = str(raw.get("b") or "")
    if not a:
        raise KbInvalid("missing item A code", f"{where}.a")
    if not b or b == a:
        raise KbInvalid("item B code missing or equal to A", f"{where}.b")
    window = str(raw.get("window") or "encounter")
    if window not in WINDOWS:
        raise KbInvalid("window must be 'encounter' or 'day'", f"{where}.window")
    return PairParams(a, b, window)


def _overlap(x: tuple[date, date], y: tuple[date, date]) -> bool:
    return x[0] <= y[1] and y[0] <= x[1]


def _names(point: CompiledPoint) -> tuple[str, str]:
    a, sep, b = point.item_name.partition("×")
    return (a, b) if sep else (point.item_name, point.item_name)


def check(ctx: Context, hits: Sequence[Hit]) -> list[Finding]:
    """Each distinct point once: most name a pair this encounter does not bill both items of (two dict probes)."""
    by_code = ctx.encounter_by_code
    out: list[Finding] = []
    seen: set[str] = set()
    for _, point in hits:
        if point.kp_id in seen:
            continue
        seen.add(point.kp_id)
        p: PairParams = point.params
        a_lines = by_code.get(p.a)
        if a_lines:
            b_lines = by_code.get(p.b)
            if b_lines:
                out.extend(_findings(ctx, point, a_lines, b_lines))
    return out


def _findings(ctx: Context, point: CompiledPoint, a_lines: list[OrderLine], b_lines: list[OrderLine]) -> list[Finding]:
    p: PairParams = point.params
    same_day = p.window == "day" or ctx.visit_class != "inpatient"
    # violating line -> lines it clashes with (insertion order keeps the output deterministic)
    clashes: dict[str, tuple[OrderLine, list[OrderLine]]] = {}
    for a in a_lines:
        if a.cnt <= 0:
            continue  # a refund is not a charge
        a_span = ctx.line_span(a) if same_day else None
        for b in b_lines:
            if b.cnt <= 0 or not (a.current or b.current):
                continue
            if a_span is not None and not _overlap(a_span, ctx.line_span(b)):
                continue
            bad, other = (b, a) if b.current else (a, b)
            clashes.setdefault(bad.rx_id, (bad, []))[1].append(other)
    if not clashes:
        return []
    name_a, name_b = _names(point)
    out: list[Finding] = []
    for bad, others in clashes.values():
        a_line = bad if bad.hilist_code == p.a else others[0]
        b_line = bad if bad.hilist_code == p.b else others[0]
        text = ctx.say(
            "pair.same_day" if same_day else "pair.same_stay",
            item_a=a_line.hilist_name or name_a,
            item_b=b_line.hilist_name or name_b,
            rule=point.rule.rule_name,
        )
        out.append(Finding(point, ((bad, line_amount(bad)),), text, tuple(others)))
    return out


FAMILY = Family("pair", compile_params, check)
