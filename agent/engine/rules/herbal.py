"""Herbal slices the fund does not pay (中药饮片单复方均不予支付, 中药饮片单方使用不予支付).

- mode "never": the slice is never paid, alone or in a compound prescription; every line violates.
- mode "single": the slice is not paid alone, nor in a prescription made only of such slices. The
  encounter's herbal lines (hilist_type in the KB parameter `herbal_list_types`, or a `T…` code) are grouped
  by prescription number; a group whose herbal lines are all "single"- or "never"-listed slices in force on
  their dates violates, and each current "single" line of it is flagged (the group's other lines are listed
  as involved). One other slice makes the prescription compound and payable. Lines with a prescription
  number are grouped with the earlier lines (curr_drord_flag 0) of the same number; lines without one form
  one group of the current lines only, since nothing ties them to earlier orders.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import KbInvalid
from ..index import CompiledPoint, KbParameters
from ..model import OrderLine
from ._base import Context, Family, Finding, Hit, line_amount

__all__ = ["FAMILY", "TEXTS"]

MODES = frozenset({"single", "never"})

TEXTS = {
    "herbal.never": {
        "zh-CN": "【{item}】为不得纳入基金支付范围的中药饮片，单方、复方使用均不予支付（{rule}）。",
        "en": "[{item}] is a herbal slice the fund never pays, alone or in a compound prescription ({rule}).",
    },
    "herbal.alone": {
        "zh-CN": "【{item}】单独使用时统筹基金不予支付，处方{rxno}中仅此一味饮片（{rule}）。",
        "en": "[{item}] is not paid when used alone; "
        "it is the only herbal slice of prescription {rxno_en} ({rule}).",
    },
    "herbal.single": {
        "zh-CN": "【{item}】单独使用或处方全部由此类饮片组成时统筹基金不予支付；"
        "处方{rxno}共{count}味饮片，均属此类（{rule}）。",
        "en": "[{item}] is not paid alone or in a prescription made only of such slices; "
        "all {count} slice(s) of prescription {rxno_en} are such slices ({rule}).",
    },
}


@dataclass(frozen=True, slots=True)
class HerbalParams:
    """`single`: not paid alone / in an all-listed prescription; `never`: not paid at all."""

    mode: str


def compile_params(raw: Mapping[str, Any], _kb: KbParameters, where: str) -> HerbalParams:
    """`{"mode": "single"|"never"}`."""
    mode = str(raw.get("mode", ""))
    if mode not in MODES:
        raise KbInvalid("mode must be 'single' or 'never'", f"{where}.mode")
    return HerbalParams(mode)


def _is_herbal(ctx: Context, line: OrderLine) -> bool:
    return line.hilist_type in ctx.params.herbal_list_types or line.hilist_code.startswith("T")


def _listed(ctx: Context, line: OrderLine) -> bool:
    """True when the line's slice is under an herbal point (either mode) in force on the line's date."""
    day = ctx.line_date(line)
    return any(p.family == "herbal" and p.applies_on(day) for p in ctx.kb.points_for(line.hilist_code))


def _group(ctx: Context, line: OrderLine) -> tuple[OrderLine, ...]:
    """The herbal lines of the prescription `line` belongs to."""
    pool = ctx.encounter.orders if line.rxno else ctx.current_lines
    return tuple(o for o in pool if o.rxno == line.rxno and _is_herbal(ctx, o))


def check(ctx: Context, hits: Sequence[Hit]) -> list[Finding]:
    """Flag never-paid slices always, and single-listed slices whose prescription holds only listed slices."""
    out: list[Finding] = []
    singles: dict[str, list[tuple[OrderLine, CompiledPoint]]] = {}
    for line, point in hits:
        if point.params.mode == "never":
            item = line.hilist_name or point.item_name
            text = ctx.say("herbal.never", item=item, rule=point.rule.rule_name)
            out.append(Finding(point, ((line, line_amount(line)),), text))
        else:
            singles.setdefault(line.rxno, []).append((line, point))

    for rxno, group_hits in singles.items():
        group = _group(ctx, group_hits[0][0])
        if not all(_listed(ctx, o) for o in group):
            continue  # at least one other slice: a compound prescription, paid
        for line, point in group_hits:
            text = ctx.say(
                "herbal.single" if len(group) > 1 else "herbal.alone",
                item=line.hilist_name or point.item_name,
                rxno=rxno or "（无处方号）",
                rxno_en=rxno or "(no number)",
                count=len(group),
                rule=point.rule.rule_name,
            )
            related = tuple(o for o in group if o.rx_id != line.rx_id)
            out.append(Finding(point, ((line, line_amount(line)),), text, related))
    return out


FAMILY = Family("herbal", compile_params, check)
