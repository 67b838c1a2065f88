"""Derive the allowed age band of the age rules (药品儿童专用, 药品限儿童使用, 医疗服务项目儿童专用, 限年龄).

Bands are `{"min": [n, unit] | null, "below": [n, unit] | null, "label": str}` (min inclusive, below
exclusive, completed units). What counts as a child is a KB parameter, not a constant here:
- a children-only item (儿童专用, 小儿, 儿童) is below `child_below_years` (18); 新生儿 below 29 days
  (≤ 28 days); 婴儿 below 1 year; 婴幼儿 below 3 years. A children-only *drug* keeps the child band even
  when its label mentions 婴儿 or 早产儿: the rule (参保人年龄超出儿童年龄限制) is about adults, not the
  label's dosing ages;
- a drug limited to children (限…儿童) may name explicit ages: "3-12岁" is [3, 13), "5至12岁以下" is
  [5, 12), "6-17岁" is [6, 18), "1岁至14岁" is [1, 15), "3岁及以上儿童" is [3, child); two ranges in one
  text make one band spanning both;
- 法定就业年龄段 is [working_age_min_years, working_age_below_years).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ._source import SourcePoint, fold
from ._types import Derivation

__all__ = ["derive_age"]

NEWBORN_BELOW_DAYS = 29  # 新生儿: the first 28 days of life
INFANT_BELOW_YEARS = 1  # 婴儿
TODDLER_BELOW_YEARS = 3  # 婴幼儿

# "3-12岁", "5至12岁以下", "1岁至14岁", "2岁至11岁": an inclusive range, or exclusive with 以下
RANGE = re.compile(r"(\d+)\s*(?:岁|周岁)?\s*(?:-|—|~|至|到)\s*(\d+)\s*(?:周岁|岁)(以下)?")
# "3岁及以上", "3岁及3岁以上", "12岁以上"
AT_LEAST = re.compile(r"(\d+)\s*(?:周岁|岁)(?:及\s*(?:\d+\s*(?:周岁|岁))?)?以上")
AT_LEAST_MONTHS = re.compile(r"(\d+)\s*(?:个)?月(?:龄)?(?:及)?以上")
# "11周岁以下", "12岁以下"
BELOW = re.compile(r"(\d+)\s*(?:周岁|岁)以下")

Bound = list[Any]  # [n, unit]


def _child(kb: Mapping[str, Any]) -> Bound:
    return [int(kb["child_below_years"]), "year"]


def _band(lo: Bound | None, hi: Bound | None, label: str) -> dict[str, Any]:
    return {"min": lo, "below": hi, "label": label}


def _population(text: str, kb: Mapping[str, Any]) -> tuple[Bound, str] | None:
    """The upper bound and label a population word implies (the narrowest word wins)."""
    if "新生儿" in text:
        return [NEWBORN_BELOW_DAYS, "day"], "新生儿"
    if "婴幼儿" in text:
        return [TODDLER_BELOW_YEARS, "year"], "婴幼儿"
    if "婴儿" in text:
        return [INFANT_BELOW_YEARS, "year"], "婴儿"
    if "儿童" in text or "小儿" in text:
        return _child(kb), "儿童"
    return None


def _explicit(text: str, kb: Mapping[str, Any]) -> tuple[Bound | None, Bound | None] | None:
    """Explicit ages in a 限…岁 text: (min, below), or None when the text names no age."""
    mins: list[int] = []
    belows: list[int] = []
    for found in RANGE.finditer(text):
        lo, hi = int(found.group(1)), int(found.group(2))
        mins.append(lo)
        belows.append(hi if found.group(3) else hi + 1)
    rest = RANGE.sub("", text)
    mins += [int(m.group(1)) for m in AT_LEAST.finditer(rest)]
    belows += [int(m.group(1)) for m in BELOW.finditer(rest)]
    months = [int(m.group(1)) for m in AT_LEAST_MONTHS.finditer(rest)]
    if not (mins or belows or months):
        return None
    low: Bound | None = [min(mins), "year"] if mins else ([min(months), "month"] if months else None)
    high: Bound = [max(belows), "year"] if belows else _child(kb)
    return low, high


def derive_age(point: SourcePoint, kb: Mapping[str, Any]) -> Derivation:
    """The age band of one point (see the module docstring for the wording it reads)."""
    text = fold(point.constraint)
    if point.rule_class == "医疗服务项目限年龄":
        if "就业年龄" not in text:
            return Derivation.missing(f"no 法定就业年龄 in constraint: {text!r}")
        lo = [int(kb["working_age_min_years"]), "year"]
        hi = [int(kb["working_age_below_years"]), "year"]
        return Derivation.of(_band(lo, hi, "法定就业年龄段"))
    if point.rule_class == "药品儿童专用":
        return Derivation.of(_band(None, _child(kb), "儿童"))
    if point.rule_class == "医疗服务项目儿童专用":
        found = _population(text, kb) or _population(fold(point.item_name), kb)
        if found is None:
            return Derivation.missing(f"no population word (新生儿, 婴儿, 儿童 …) in {text!r}")
        return Derivation.of(_band(None, found[0], found[1]))
    explicit = _explicit(text, kb)
    if explicit is not None:
        band = _band(explicit[0], explicit[1], "儿童")
        return Derivation.of(band, f"ages read from text: {point.constraint}")
    found = _population(text, kb)
    if found is None:
        return Derivation.missing(f"no age or population word in {text!r}")
    return Derivation.of(_band(None, found[0], found[1]))
