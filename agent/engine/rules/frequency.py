"""Per-day quantity caps of services (医疗服务项目限定频次): bed days, nursing days, monitoring hours.

A point gives the pricing unit ("day": at most one unit per date, e.g. 普通病房床位费; "hour": at most 24 units
per date, e.g. 呼吸机辅助呼吸). The quantity (`cnt`) of every line of the point's codes in this encounter, current
and earlier, is added up per date; a line with a stop date spreads its cnt evenly over begn..stop (inclusive),
so a 5-day stay billed as one line of cnt 5 uses one unit a day. A date whose total exceeds the cap is over.

The excess of an over date is charged to the current lines of that date, last-listed first (earlier lines
were already accepted), each up to its own share of the date. A current line that carries excess is flagged
with vola_amt = excess quantity × unit price, capped at the line amount; current lines of an over date that
carry none, and the earlier lines of those dates, are listed as involved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from ..errors import KbInvalid
from ..index import CompiledPoint, KbParameters
from ..model import OrderLine
from ._base import Context, Family, Finding, line_amount, once_per_point, unit_price

__all__ = ["FAMILY", "TEXTS"]

UNITS = frozenset({"day", "hour"})
ZERO = Decimal(0)
EPSILON = Decimal("0.000001")  # per-day shares of spread lines are rounded divisions
ONE_DAY = timedelta(days=1)

TEXTS = {
    "frequency.day": {
        "zh-CN": "【{item}】每日限收取{max}次，{when}收取次数超出上限，本条多收{excess}次（{rule}）。",
        "en": "[{item}] may be billed at most {max} time(s) a day; the total {when_en} is over the cap, "
        "this line bills {excess} too many ({rule}).",
    },
    "frequency.hour": {
        "zh-CN": "【{item}】按小时计费，每日最多{max}小时，{when}累计时长超出上限，本条多收{excess}小时（{rule}）。",
        "en": "[{item}] is billed by the hour, at most {max} hours a day; the total {when_en} is over the cap, "
        "this line bills {excess} hour(s) too many ({rule}).",
    },
}


@dataclass(frozen=True, slots=True)
class FrequencyParams:
    """Pricing unit and the most units payable per date."""

    unit: str
    max_per_day: Decimal


def compile_params(raw: Mapping[str, Any], _kb: KbParameters, where: str) -> FrequencyParams:
    """`{"unit": "day"|"hour", "max_per_day": "1"|"24"}`."""
    unit = str(raw.get("unit", ""))
    if unit not in UNITS:
        raise KbInvalid("unit must be 'day' or 'hour'", f"{where}.unit")
    try:
        cap = Decimal(str(raw.get("max_per_day", "")))
    except InvalidOperation:
        cap = ZERO
    if not cap.is_finite() or cap <= 0:
        raise KbInvalid("must be a positive decimal", f"{where}.max_per_day")
    return FrequencyParams(unit, cap)


def _num(value: Decimal) -> str:
    """A quantity as a clerk writes it: 2, 1.5, 0.33."""
    return format(value.quantize(Decimal("0.01")).normalize(), "f")


def _findings(ctx: Context, point: CompiledPoint) -> list[Finding]:
    cap: Decimal = point.params.max_per_day
    lines = ctx.point_lines(point)
    if len(lines) == 1:
        line = lines[0]
        first, last = ctx.line_span(line)
        days = (last - first).days + 1
        if line.cnt <= cap * days:
            return []  # the usual case: one line within its days' worth
        if line.current:  # the usual violation: one line over on each of its days (what the general walk gives)
            share = line.cnt / days if days > 1 else line.cnt
            if share - cap <= EPSILON:
                return []
            qty = ZERO
            for _ in range(days):
                qty += share - cap
            return [_finding(ctx, point, line, qty, first=first, n_days=days)]
    elif sum(line.cnt for line in lines) <= cap and all(line.cnt >= 0 for line in lines):
        return []  # all of it would fit in one day (a refund on another day could hide an over day)
    return walk(ctx, point, lines)


def walk(ctx: Context, point: CompiledPoint, lines: list[OrderLine]) -> list[Finding]:
    """The per-date walk over all of the point's lines in this encounter (see the module docstring)."""
    cap: Decimal = point.params.max_per_day
    # (line, first date, days covered, per-day share) for every line of the point in this encounter
    spread: list[tuple[OrderLine, date, int, Decimal]] = []
    totals: dict[date, Decimal] = {}
    for line in lines:
        first, last = ctx.line_span(line)
        days = (last - first).days + 1
        share = line.cnt / days if days > 1 else line.cnt
        spread.append((line, first, days, share))
        day = first
        for _ in range(days):
            totals[day] = totals.get(day, ZERO) + share
            day += ONE_DAY
    over = sorted(day for day, total in totals.items() if total - cap > EPSILON)
    if not over:
        return []

    excess: dict[int, Decimal] = {}
    dates: dict[int, list[date]] = {}
    on_day: dict[date, list[int]] = {}
    for day in over:
        left = totals[day] - cap
        for i in range(len(spread) - 1, -1, -1):
            line, first, days, share = spread[i]
            if not 0 <= (day - first).days < days:
                continue
            on_day.setdefault(day, []).append(i)
            if line.current and share > 0 and left > EPSILON:
                take = min(share, left)
                left -= take
                excess[i] = excess.get(i, ZERO) + take
                dates.setdefault(i, []).append(day)

    out: list[Finding] = []
    for i, qty in sorted(excess.items()):
        on = dates[i]
        related = tuple(spread[j][0] for j in sorted({j for d in on for j in on_day[d]}) if j != i)
        out.append(_finding(ctx, point, spread[i][0], qty, first=on[0], n_days=len(on), related=related))
    return out


def _finding(
    ctx: Context,
    point: CompiledPoint,
    line: OrderLine,
    qty: Decimal,
    *,
    first: date,
    n_days: int,
    related: tuple[OrderLine, ...] = (),
) -> Finding:
    """`line` carries `qty` units of excess on `n_days` over dates from `first`."""
    amount = min(qty * unit_price(line), line_amount(line))
    day = first.isoformat()
    text = ctx.say(
        f"frequency.{point.params.unit}",
        item=line.hilist_name or point.item_name,
        max=_num(point.params.max_per_day),
        when=day if n_days == 1 else f"{day}等{n_days}日",
        when_en=f"on {day}" if n_days == 1 else f"on {n_days} days from {day}",
        excess=_num(qty),
        rule=point.rule.rule_name,
    )
    return Finding(point, ((line, amount),), text, related)


check = once_per_point(_findings)


FAMILY = Family("frequency", compile_params, check)
