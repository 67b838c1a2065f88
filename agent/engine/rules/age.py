"""Age-restricted drugs and services (药品儿童专用, 药品限儿童使用, 医疗服务项目儿童专用,
医疗服务项目限年龄).

A point gives an allowed age band: `min` (inclusive) and/or `below` (exclusive), each `[n, unit]` with unit
year, month or day, plus a `label` (儿童, 新生儿, 法定就业年龄段 …). The patient's age is counted in
completed units on the line's date (order start date, else the date of service); a line violates when age <
min or age >= below.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from ..errors import KbInvalid
from ..index import KbParameters
from ._base import Context, Family, Finding, Hit, line_amount

__all__ = ["FAMILY", "TEXTS"]

YEARS_FROM = 2  # from this age on, the text gives the age in years whatever the bound's unit
# unit -> (Chinese, English plural)
UNITS = {"year": ("岁", "years"), "month": ("个月", "months"), "day": ("天", "days")}

TEXTS = {
    "age.out_of_range": {
        "zh-CN": "【{item}】限{allowed}使用，参保人年龄为{actual}（{rule}）。",
        "en": "[{item}] is for patients aged {allowed_en} only; the patient is {actual_en} old ({rule}).",
    },
}


@dataclass(frozen=True, slots=True)
class AgeBound:
    """One bound of an age band: `n` completed `unit`s."""

    n: int
    unit: str

    def zh(self) -> str:
        """Chinese wording, e.g. 18岁, 29天."""
        return f"{self.n}{UNITS[self.unit][0]}"

    def en(self) -> str:
        """English wording, e.g. 18 years."""
        return f"{self.n} {UNITS[self.unit][1]}"


@dataclass(frozen=True, slots=True)
class AgeParams:
    """Allowed age band [min, below) and the population's label; allowed_zh/en are the precomputed wording."""

    min: AgeBound | None
    below: AgeBound | None
    label: str
    allowed_zh: str
    allowed_en: str


def _bound(raw: Any, where: str) -> AgeBound | None:
    if raw is None:
        return None
    if not isinstance(raw, (list, tuple)) or len(raw) != 2:
        raise KbInvalid("must be [n, unit] or null", where)
    n, unit = raw
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise KbInvalid("n must be a non-negative integer", where)
    if unit not in UNITS:
        raise KbInvalid("unit must be year, month or day", where)
    return AgeBound(n, str(unit))


def _allowed(lo: AgeBound | None, hi: AgeBound | None, label: str) -> tuple[str, str]:
    """("儿童（未满18岁）", "under 18 years") and the like."""
    if lo and hi:
        zh, en = f"{lo.zh()}至未满{hi.zh()}", f"{lo.en()} to under {hi.en()}"
    elif lo:
        zh, en = f"{lo.zh()}及以上", f"{lo.en()} and over"
    elif hi:
        zh, en = f"未满{hi.zh()}", f"under {hi.en()}"
    else:
        zh, en = "", ""
    return (f"{label}（{zh}）" if label else zh), en


def compile_params(raw: Mapping[str, Any], _kb: KbParameters, where: str) -> AgeParams:
    """`{"min": [n, unit]|null, "below": [n, unit]|null, "label": str}`; at least one bound."""
    lo = _bound(raw.get("min"), f"{where}.min")
    hi = _bound(raw.get("below"), f"{where}.below")
    if lo is None and hi is None:
        raise KbInvalid("an age point needs min or below", f"{where}.below")
    label = raw.get("label") or ""
    if not isinstance(label, str):
        raise KbInvalid("must be a string", f"{where}.label")
    allowed_zh, allowed_en = _allowed(lo, hi, label)
    return AgeParams(lo, hi, label, allowed_zh, allowed_en)


def _violated(ctx: Context, params: AgeParams, on: date) -> AgeBound | None:
    """The bound the patient's age breaks on `on`, else None."""
    lo, hi = params.min, params.below
    if lo is not None and ctx.age(lo.unit, on) < lo.n:
        return lo
    if hi is not None and ctx.age(hi.unit, on) >= hi.n:
        return hi
    return None


def _age_words(ctx: Context, unit: str, on: date) -> tuple[str, str]:
    """The patient's age for the text: in the bound's unit, but in years from 2 years of age on."""
    if unit != "year" and ctx.age("year", on) >= YEARS_FROM:
        unit = "year"
    n = ctx.age(unit, on)
    return f"{n}{UNITS[unit][0]}", f"{n} {UNITS[unit][1]}"


def check(ctx: Context, hits: Sequence[Hit]) -> list[Finding]:
    """Flag each line whose patient is outside the point's age band on the line's date."""
    out: list[Finding] = []
    for line, point in hits:
        params: AgeParams = point.params
        on = ctx.line_date(line)
        bound = _violated(ctx, params, on)
        if bound is None:
            continue
        actual, actual_en = _age_words(ctx, bound.unit, on)
        text = ctx.say(
            "age.out_of_range",
            item=line.hilist_name or point.item_name,
            allowed=params.allowed_zh,
            allowed_en=params.allowed_en,
            actual=actual,
            actual_en=actual_en,
            rule=point.rule.rule_name,
        )
        out.append(Finding(point, ((line, line_amount(line)),), text))
    return out


FAMILY = Family("age", compile_params, check)
