"""Which engine family each published rule class belongs to, how its parameter is derived, and its defaults.

`RULE_CLASSES` is the one table the importer reads: a rule class not listed here is reported as not compiled
(never dropped). Severity and workflow defaults follow the bundle format: 政策类/管理类 block at severity 1,
医疗类 asks for a reason at severity 2; 药品限适应症 (2) and 药品限二线使用 (3) ask for a reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._types import Deriver
from .age import derive_age
from .billing import derive_herbal, derive_pair, derive_surgery
from .course import derive_course, derive_frequency, derive_interval
from .drugs import derive_indication_params, derive_second_line
from .setting import derive_insurance, derive_internet, derive_level, derive_visit
from .sex import derive_sex

__all__ = ["RULE_CLASSES", "FamilySpec", "defaults"]


@dataclass(frozen=True, slots=True)
class FamilySpec:
    """The engine family of a rule class and the function deriving a point's params."""

    family: str
    derive: Deriver


RULE_CLASSES: dict[str, FamilySpec] = {
    "药品区分性别使用": FamilySpec("sex", derive_sex),
    "医疗服务项目区分性别使用": FamilySpec("sex", derive_sex),
    "药品儿童专用": FamilySpec("age", derive_age),
    "药品限儿童使用": FamilySpec("age", derive_age),
    "医疗服务项目儿童专用": FamilySpec("age", derive_age),
    "医疗服务项目限年龄": FamilySpec("age", derive_age),
    "药品限工伤保险": FamilySpec("insurance", derive_insurance),
    "药品限生育保险": FamilySpec("insurance", derive_insurance),
    "药品限就医方式": FamilySpec("visit", derive_visit),
    "药品限医疗机构级别": FamilySpec("level", derive_level),
    "药品限适应症": FamilySpec("indication", derive_indication_params),
    "药品限二线使用": FamilySpec("second_line", derive_second_line),
    "中药饮片单方使用不予支付": FamilySpec("herbal", derive_herbal),
    "中药饮片单复方均不予支付": FamilySpec("herbal", derive_herbal),
    "医疗服务项目重复收费": FamilySpec("pair", derive_pair),
    "医疗服务项目限定频次": FamilySpec("frequency", derive_frequency),
    "药品限支付疗程": FamilySpec("course", derive_course),
    "医疗服务项目限支付疗程": FamilySpec("course", derive_course),
    "医疗服务项目周期超频次": FamilySpec("interval", derive_interval),
    "手术项目未按规定折价收费": FamilySpec("surgery", derive_surgery),
    "超互联网医院药品支付范围": FamilySpec("internet", derive_internet),
}

# rule class -> (sev_deg, workflow_impact) where it differs from the tier default
EXCEPTIONS = {
    "药品限适应症": ("2", "reason-required"),
    "药品限二线使用": ("3", "reason-required"),
}
TIER_DEFAULTS = {"政策类": ("1", "block"), "管理类": ("1", "block"), "医疗类": ("2", "reason-required")}


def defaults(rule_class: str, tier: str) -> tuple[str, str]:
    """(sev_deg, workflow_impact) of a rule class in tier `tier`."""
    if rule_class in EXCEPTIONS:
        return EXCEPTIONS[rule_class]
    return TIER_DEFAULTS.get(tier, ("2", "reason-required"))
