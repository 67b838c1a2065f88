"""Minimum spacing between two uses of a service (医疗服务项目周期超频次): 糖化血红蛋白 every 60 days, 评定 every 14.

A point gives `min_interval_days` N: two uses of the point's codes whose dates differ by fewer than N days are too
close. Uses are the lines of this encounter (current and earlier, curr_drord_flag 0) and of `request.history`
(a history line without a date takes its encounter's admission, else discharge date; with neither it is skipped;
lines with cnt ≤ 0, refunds, are not uses).
A line with a stop date covers begn..stop; two lines are as far apart as the gap between what they cover.

Earlier lines and history are facts that were already paid. The current lines are taken in date order and
each is accepted unless it is too close to a use already accepted (a fact, or a current line accepted before
it); a rejected line is flagged (whole amount) with the uses it is too close to listed as involved, and does not
count against later lines. A current line whose own cnt exceeds what its span allows (one use per N days, so
cnt 2 on one date) is flagged for the surplus share of its amount. `course.py` reuses `spacing_findings`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from ..errors import KbInvalid
from ..index import CompiledPoint, KbParameters
from ._base import Context, Family, Finding, Use, line_amount, once_per_point

__all__ = ["FAMILY", "TEXTS", "Use", "collect_uses", "spacing_findings"]

TEXTS = {
    "interval.too_close": {
        "zh-CN": "【{item}】两次收费间隔不应短于{n}天，本次（{date}）与{other}的同一项目收费仅相隔{gap}天（{rule}）。",
        "en": "[{item}] may be billed only once every {n} days; this use ({date}) is {gap} day(s) "
        "from the one on {other} ({rule}).",
    },
    "interval.too_many": {
        "zh-CN": "【{item}】两次收费间隔不应短于{n}天，本条医嘱{span}收取{cnt}次，超出{excess}次（{rule}）。",
        "en": "[{item}] may be billed only once every {n} days; this line bills {cnt} use(s) {span_en}, "
        "{excess} too many ({rule}).",
    },
}


@dataclass(frozen=True, slots=True)
class IntervalParams:
    """Fewest days between two paid uses."""

    min_interval_days: int


def positive_days(raw: Any, where: str) -> int:
    """A whole number of days ≥ 1 from bundle JSON (int or decimal string), else `KbInvalid` at `where`."""
    try:
        days = int(str(raw))
    except ValueError:
        days = 0
    if days < 1:
        raise KbInvalid("must be a whole number of days ≥ 1", where)
    return days


def compile_params(raw: Mapping[str, Any], _kb: KbParameters, where: str) -> IntervalParams:
    """`{"min_interval_days": 14}`."""
    return IntervalParams(positive_days(raw.get("min_interval_days"), f"{where}.min_interval_days"))


def collect_uses(ctx: Context, point: CompiledPoint, with_history: bool) -> list[Use]:
    """Every use of the point's codes: this encounter's lines, then (optionally) dated history lines."""
    uses: list[Use] = []
    for line in ctx.point_lines(point):
        if line.cnt > 0:
            first, last = ctx.line_span(line)
            uses.append((first, last, line, line.current))
    if with_history:
        uses.extend(ctx.point_history(point))
    return uses


def _first(use: Use) -> date:
    return use[0]


def _gap(x: Use, y: Use) -> int:
    """Days between two uses: 0 when what they cover overlaps."""
    if x[1] < y[0]:
        return (y[0] - x[1]).days
    if y[1] < x[0]:
        return (x[0] - y[1]).days
    return 0


def spacing_findings(ctx: Context, point: CompiledPoint, n: int, uses: Sequence[Use], prefix: str) -> list[Finding]:
    """Findings for current uses closer than `n` days to an accepted use; texts `<prefix>.too_close/too_many`."""
    accepted: list[Use] = []
    current: list[Use] = []
    for u in uses:
        (current if u[3] else accepted).append(u)
    current.sort(key=_first)  # stable: HIS order within a date
    item = point.item_name
    out: list[Finding] = []
    within = timedelta(days=n)
    for use in current:
        first, last, line, _ = use
        lo, hi = first - within, last + within  # _gap(u, use) < n, without a call per accepted use
        close = [u for u in accepted if u[1] > lo and u[0] < hi]
        name = line.hilist_name or item
        if close:
            nearest = min(close, key=lambda u: (_gap(u, use), u[0]))
            text = ctx.say(
                f"{prefix}.too_close",
                item=name,
                n=n,
                date=first.isoformat(),
                other=nearest[0].isoformat(),
                gap=_gap(nearest, use),
                rule=point.rule.rule_name,
            )
            out.append(Finding(point, ((line, line_amount(line)),), text, tuple([u[2] for u in close])))
            continue
        accepted.append(use)
        allowed = (last - first).days // n + 1
        if line.cnt > allowed:
            surplus = line.cnt - allowed
            span = "同日" if first == last else f"{first.isoformat()}至{last.isoformat()}"
            span_en = f"on {first.isoformat()}" if first == last else f"from {first.isoformat()} to {last.isoformat()}"
            text = ctx.say(
                f"{prefix}.too_many",
                item=name,
                n=n,
                span=span,
                span_en=span_en,
                cnt=format(line.cnt.normalize(), "f"),
                excess=format(surplus.normalize(), "f"),
                rule=point.rule.rule_name,
            )
            out.append(Finding(point, ((line, line_amount(line) * surplus / line.cnt),), text))
    return out


def _findings(ctx: Context, point: CompiledPoint) -> list[Finding]:
    """Flag current uses of an item closer than its minimum interval to another use."""
    n: int = point.params.min_interval_days
    return spacing_findings(ctx, point, n, collect_uses(ctx, point, True), "interval")


check = once_per_point(_findings)


FAMILY = Family("interval", compile_params, check)
