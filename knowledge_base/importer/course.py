"""Derive time limits: paid course (限支付疗程), minimum interval (周期超频次), frequency (限定频次).

- course: `max_days` from 支付不超过14天, 最多支付14天, 总时间不超过90天, 不超过12个月 (= 365 days),
  不超过一年 (= 365); `scope` "encounter" when the limit is per stay (单次住院…, 住院方可支付，单次最多…),
  else "course"; `mode` "span" when the published detect logic counts a 连续时间跨度 from the first use, the
  text limits the 总时间, or the limit comes with a minimum interval between uses; else "days" (days of use);
  `min_interval_days` from 间隔时间不短于14天 or 每周最多支付一次 (7), else null.
- interval: 不短于14天 → 14; "2-3个月" → 60 and "2-3周" → 14 (the lower end of the range);
  每周最多支付一次 → 7.
- frequency: the constraint is the unit — 日/天 → at most "1" per day; 小时 → unit hour, at most "24" per day.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ._source import SourcePoint, fold
from ._types import Derivation

__all__ = ["derive_course", "derive_frequency", "derive_interval", "parse_days"]

DAYS_PER_WEEK = 7
DAYS_PER_YEAR = 365
MONTHS_PER_YEAR = 12
CN_DIGITS = dict(zip("一二三四五六七八九十", range(1, 11), strict=True)) | {"两": 2}

NUMBER = r"(\d+|[一两二三四五六七八九十])"
LIMIT = re.compile(rf"(?:不超过|最多支付|最多)\s*{NUMBER}\s*(个月|月|天|日|年|周)")
NOT_SHORTER = re.compile(r"不短于\s*(\d+)\s*天")
RANGE = re.compile(r"(\d+)\s*[-~至]\s*\d+\s*(个月|周)")
WEEKLY = re.compile(r"每周最多(?:支付)?(?:一|1)次")
PER_STAY = re.compile(r"单次住院|住院方可支付.{0,6}单次")


def _number(raw: str) -> int:
    return CN_DIGITS[raw] if raw in CN_DIGITS else int(raw)


def parse_days(n: int, unit: str) -> int:
    """A duration in days: 12个月 and 一年 are 365, a week 7, a month a twelfth of a year."""
    if unit == "年":
        return n * DAYS_PER_YEAR
    if unit in ("个月", "月"):
        return n * DAYS_PER_YEAR // MONTHS_PER_YEAR
    if unit == "周":
        return n * DAYS_PER_WEEK
    return n


def _min_interval(text: str) -> int | None:
    found = NOT_SHORTER.search(text)
    if found:
        return int(found.group(1))
    if WEEKLY.search(text):
        return DAYS_PER_WEEK
    return None


def derive_course(point: SourcePoint, _kb: Mapping[str, Any]) -> Derivation:
    """`{"max_days", "scope", "mode", "min_interval_days"}` from the constraint and detect logic."""
    text = fold(point.constraint)
    limits = [parse_days(_number(m.group(1)), m.group(2)) for m in LIMIT.finditer(text)]
    if not limits:
        return Derivation.missing(f"no paid-days limit (支付不超过N天 …) in {point.constraint!r}")
    notes = (f"several limits {limits}: the largest kept",) if len(set(limits)) > 1 else ()
    min_interval = _min_interval(text)
    # a span, not a count of days of use: 连续时间跨度 (detect logic), 总时间 (total time), or a limit paired with a
    # minimum interval between uses (e.g. 支付不超过一年，每周最多支付一次 — counted days could never reach it)
    span = "连续时间跨度" in point.detect_logic or "总时间" in text or min_interval is not None
    return Derivation.of(
        {
            "max_days": max(limits),
            "scope": "encounter" if PER_STAY.search(text) else "course",
            "mode": "span" if span else "days",
            "min_interval_days": min_interval,
        },
        *notes,
    )


def derive_interval(point: SourcePoint, _kb: Mapping[str, Any]) -> Derivation:
    """`{"min_interval_days": n}` from 不短于N天, a N-M个月/周 range or 每周最多一次."""
    text = fold(point.constraint)
    days = _min_interval(text)
    if days is None:
        found = RANGE.search(text)
        if found is None:
            return Derivation.missing(f"no interval (不短于N天, N-M个月 …) in {point.constraint!r}")
        days = parse_days(int(found.group(1)), found.group(2))
    return Derivation.of({"min_interval_days": days})


def derive_frequency(point: SourcePoint, _kb: Mapping[str, Any]) -> Derivation:
    """`{"unit", "max_per_day"}` from the unit the constraint names."""
    unit = fold(point.constraint).strip()
    if unit in ("日", "天"):
        return Derivation.of({"unit": "day", "max_per_day": "1"})
    if unit == "小时":
        return Derivation.of({"unit": "hour", "max_per_day": "24"})
    return Derivation.missing(f"unknown frequency unit {point.constraint!r}")
