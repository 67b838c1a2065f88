"""Age-band derivation: explicit ranges, population words, and the child age as a KB parameter."""

from __future__ import annotations

from typing import Any

import pytest

from fundguard.knowledge_base.importer.age import derive_age

from .factory import KB, point

LIMITED = "药品限儿童使用"


@pytest.mark.parametrize(
    ("constraint", "low", "below"),
    [
        ("限3-12岁特发性或先天性肺动脉高压患者。", [3, "year"], [13, "year"]),
        ("限5至12岁以下单纯性甲型和乙型流感儿童患者。", [5, "year"], [12, "year"]),
        ("限6-17岁儿童和青少年的注意缺陷多动障碍(ADHD)。", [6, "year"], [18, "year"]),
        ("限：1.1岁至14岁儿童哮喘；2.2岁至14岁儿童过敏性鼻炎。", [1, "year"], [15, "year"]),
        ("限2岁至11岁儿童慢性便秘。", [2, "year"], [12, "year"]),
        ("限3岁及3岁以上伴有症状的儿童患者。", [3, "year"], [18, "year"]),
        ("限３－１２岁患者。", [3, "year"], [13, "year"]),  # full-width digits and dash
        ("用于1月以上婴儿和儿童的急性腹泻。", [1, "month"], [18, "year"]),
        ("限儿童。", None, [18, "year"]),
    ],
)
def test_limited_to_children(constraint: str, low: Any, below: Any) -> None:
    """A 限…儿童 drug takes explicit ages from its text, else the child band."""
    expected = {"min": low, "below": below, "label": "儿童"}
    assert expected == derive_age(point(LIMITED, constraint), KB).params


@pytest.mark.parametrize(
    ("constraint", "below", "label"),
    [
        ("新生儿专用项目", [29, "day"], "新生儿"),
        ("婴儿专用项目", [1, "year"], "婴儿"),
        ("婴幼儿专用项目", [3, "year"], "婴幼儿"),
        ("小儿专用项目", [18, "year"], "儿童"),
        ("儿童专用项目", [18, "year"], "儿童"),
    ],
)
def test_children_only_services(constraint: str, below: list[Any], label: str) -> None:
    """Service population words: 新生儿 ≤ 28 days, 婴儿 < 1 year, 婴幼儿 < 3 years, 儿童/小儿 < 18."""
    expected = {"min": None, "below": below, "label": label}
    assert expected == derive_age(point("医疗服务项目儿童专用", constraint), KB).params


def test_children_only_drug_keeps_the_child_band() -> None:
    """A 儿童专用 drug is below the child age even when its label speaks of 婴儿 or 早产儿."""
    expected = {"min": None, "below": [18, "year"], "label": "儿童"}
    assert expected == derive_age(point("药品儿童专用", "治疗和预防早产婴儿的呼吸窘迫综合征。"), KB).params


def test_child_age_is_a_parameter() -> None:
    """child_below_years flows into every child band."""
    expected = {"min": [3, "year"], "below": [14, "year"], "label": "儿童"}
    kb = {**KB, "child_below_years": 14}
    assert expected == derive_age(point(LIMITED, "限3岁及以上儿童。"), kb).params


def test_working_age() -> None:
    """法定就业年龄段 is [working_age_min_years, working_age_below_years)."""
    expected = {"min": [16, "year"], "below": [60, "year"], "label": "法定就业年龄段"}
    assert expected == derive_age(point("医疗服务项目限年龄", "限法定就业年龄段患者"), KB).params


def test_no_age_word_is_missing() -> None:
    """A 限儿童使用 text without any age or population word is not guessed."""
    assert derive_age(point(LIMITED, "限重症感染。"), KB).params is None
