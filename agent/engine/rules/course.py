"""Paid-course limits of drugs and services (药品限支付疗程, 医疗服务项目限支付疗程): "支付不超过14天".

A point gives `max_days`, a `scope` ("encounter": this encounter only, for 单次住院…; "course": this encounter
plus `request.history`), a `mode` and optionally `min_interval_days`:
- mode "days": the days used are the distinct dates covered by the point's codes' lines (a line with a stop date
  covers begn..stop). Over `max_days`, the surplus days are charged to dates only current lines cover, latest
  first (earlier lines and history were already paid);
- mode "span" (连续时间跨度): from the first use on, `max_days` calendar days are paid; dates after that are over.
A current line with dates over the limit is flagged with the share of its amount for those dates.
- `min_interval_days` (手功能评定 "评定间隔时间不短于14天"): the spacing check of `interval.py` over the same uses.
History lines without a date take their encounter's admission (else discharge) date, or are skipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from ..errors import KbInvalid
from ..index import CompiledPoint, KbParameters
from ._base import Context, Family, Finding, line_amount, once_per_point
from .interval import Use, collect_uses, positive_days, spacing_findings

__all__ = ["FAMILY", "TEXTS"]

SCOPES = frozenset({"course", "encounter"})
MODES = frozenset({"days", "span"})
ONE_DAY = timedelta(days=1)

TEXTS = {
    "course.days": {
        "zh-CN": "【{item}】支付不超过{max}天，{scope}已累计使用{used}天；本条医嘱有{over}天（{first_over}起）"
        "超出限定支付天数（{rule}）。",
        "en": "[{item}] is paid for at most {max} days; {scope_en} it has been used on {used} days, "
        "{over} day(s) of this line (from {first_over}) are beyond the limit ({rule}).",
    },
    "course.span": {
        "zh-CN": "【{item}】自首次使用（{first}）起支付不超过{max}天（至{last_paid}）；本条医嘱有{over}天"
        "（{first_over}起）超出限定疗程（{rule}）。",
        "en": "[{item}] is paid for at most {max} days from its first use on {first} (until {last_paid}); "
        "{over} day(s) of this line (from {first_over}) are beyond the limit ({rule}).",
    },
    "course.too_close": {
        "zh-CN": "【{item}】两次收费间隔不应短于{n}天，本次（{date}）与{other}的同一项目收费仅相隔{gap}天（{rule}）。",
        "en": "[{item}] may be billed only once every {n} days; this use ({date}) is {gap} day(s) "
        "from the one on {other} ({rule}).",
    },
    "course.too_many": {
        "zh-CN": "【{item}】两次收费间隔不应短于{n}天，本条医嘱{span}收取{cnt}次，超出{excess}次（{rule}）。",
        "en": "[{item}] may be billed only once every {n} days; this line bills {cnt} use(s) {span_en}, "
        "{excess} too many ({rule}).",
    },
}

SCOPE_TEXT = {"encounter": ("本次就诊", "in this encounter"), "course": ("本疗程（含既往就诊）", "over the course")}


@dataclass(frozen=True, slots=True)
class CourseParams:
    """Most paid days, where they are counted, how, and the optional minimum spacing of uses."""

    max_days: int
    scope: str
    mode: str
    min_interval_days: int | None


def compile_params(raw: Mapping[str, Any], _kb: KbParameters, where: str) -> CourseParams:
    """`{"max_days": 14, "scope": "course"|"encounter", "mode": "days"|"span", "min_interval_days": 14|null}`."""
    max_days = positive_days(raw.get("max_days"), f"{where}.max_days")
    scope = str(raw.get("scope") or "course")
    if scope not in SCOPES:
        raise KbInvalid("scope must be 'course' or 'encounter'", f"{where}.scope")
    mode = str(raw.get("mode") or "days")
    if mode not in MODES:
        raise KbInvalid("mode must be 'days' or 'span'", f"{where}.mode")
    gap = raw.get("min_interval_days")
    min_gap = None if gap is None else positive_days(gap, f"{where}.min_interval_days")
    return CourseParams(max_days, scope, mode, min_gap)


def _dates(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _over_days(p: CourseParams, uses: Sequence[Use]) -> tuple[set[date], int, date, date]:
    """The dates beyond the limit, the days used, the first use and the last paid date."""
    first_use = min(u[0] for u in uses)
    if p.mode == "span":
        last_paid = first_use + timedelta(days=p.max_days - 1)
        last_use = max(u[1] for u in uses)
        over = set(_dates(last_paid + ONE_DAY, last_use)) if last_use > last_paid else set()
        return over, (last_use - first_use).days + 1, first_use, last_paid
    if sum((u[1] - u[0]).days + 1 for u in uses) <= p.max_days:
        return set(), 0, first_use, first_use  # even counted with repeats, within the limit
    paid: set[date] = set()
    mine: set[date] = set()
    for first, last, _, current in uses:
        (mine if current else paid).update(_dates(first, last))
    new = sorted(mine - paid, reverse=True)
    used = len(paid) + len(new)
    surplus = used - p.max_days
    over = set(new[:surplus]) if surplus > 0 else set()
    return over, used, first_use, first_use


def _findings(ctx: Context, point: CompiledPoint) -> list[Finding]:
    p: CourseParams = point.params
    uses = collect_uses(ctx, point, p.scope == "course")
    if not uses:
        return []
    out: list[Finding] = []
    over, used, first_use, last_paid = _over_days(p, uses)
    if over:
        scope_zh, scope_en = SCOPE_TEXT[p.scope]
        for first, last, line, current in uses:
            if not current:
                continue
            mine = [d for d in _dates(first, last) if d in over]
            if not mine:
                continue
            days = (last - first).days + 1
            text = ctx.say(
                f"course.{p.mode}",
                item=line.hilist_name or point.item_name,
                max=p.max_days,
                scope=scope_zh,
                scope_en=scope_en,
                used=used,
                over=len(mine),
                first_over=mine[0].isoformat(),
                first=first_use.isoformat(),
                last_paid=last_paid.isoformat(),
                rule=point.rule.rule_name,
            )
            out.append(Finding(point, ((line, line_amount(line) * len(mine) / days),), text))
    if p.min_interval_days is not None:
        out.extend(spacing_findings(ctx, point, p.min_interval_days, uses, "course"))
    return out


check = once_per_point(_findings)


FAMILY = Family("course", compile_params, check)
