"""Derive where and under which scheme a drug is paid: visit type, institution level, scheme, internet.

- 药品限就医方式: the visit classes the constraint names — 住院 → inpatient, 急诊 → emergency, 门诊 →
  outpatient ("限急诊或住院患者" → ["emergency", "inpatient"]; "…的住院患者方予支付" → ["inpatient"]).
- 药品限医疗机构级别: the lowest level the constraint accepts — 二级及以上 → 2, 三级 → 3, 一级及以上 → 1.
  A text that accepts a 二级及以上 specialist hospital besides a 三级 general one (the anti-VEGF eye drugs)
  gets 2: the agent cannot tell specialist from general hospitals, and the lower bar never flags a lawful
  prescription.
- 药品限工伤保险 / 药品限生育保险: the scheme is the rule class itself; 超互联网医院药品支付范围 has no
  parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._source import SourcePoint, fold
from ._types import Derivation

__all__ = ["derive_insurance", "derive_internet", "derive_level", "derive_visit"]

# visit word -> visit class, in the order the classes are listed
VISIT_WORDS = (("门诊", "outpatient"), ("急诊", "emergency"), ("住院", "inpatient"))

SCHEMES = {"药品限工伤保险": "work_injury", "药品限生育保险": "maternity"}


def derive_visit(point: SourcePoint, _kb: Mapping[str, Any]) -> Derivation:
    """`{"allowed": [visit class, ...]}` from the visit words of the constraint."""
    text = fold(point.constraint)
    allowed = [cls for word, cls in VISIT_WORDS if word in text]
    if not allowed:
        return Derivation.missing(f"no visit type (门诊, 急诊, 住院) in {point.constraint!r}")
    return Derivation.of({"allowed": allowed})


def derive_level(point: SourcePoint, _kb: Mapping[str, Any]) -> Derivation:
    """`{"min_rank": n}`: the lowest institution level the constraint accepts."""
    text = fold(point.constraint)
    if "二级及以上" in text or "二级以上" in text:
        if "三级" in text:
            return Derivation.of({"min_rank": 2}, "also names 三级 (三级 general or 二级+ specialist): lowest bar kept")
        return Derivation.of({"min_rank": 2})
    if "三级" in text:
        return Derivation.of({"min_rank": 3})
    if "一级及以上" in text or "一级以上" in text:
        return Derivation.of({"min_rank": 1})
    return Derivation.missing(f"no institution level (一级/二级/三级) in {point.constraint!r}")


def derive_insurance(point: SourcePoint, _kb: Mapping[str, Any]) -> Derivation:
    """`{"scheme": "work_injury" | "maternity"}` from the rule class."""
    scheme = SCHEMES.get(point.rule_class)
    if scheme is None:
        return Derivation.missing(f"rule class {point.rule_class} names no insurance scheme")
    return Derivation.of({"scheme": scheme})


def derive_internet(_point: SourcePoint, _kb: Mapping[str, Any]) -> Derivation:
    """`{}`: the rule class is the whole parameter."""
    return Derivation.of({})
