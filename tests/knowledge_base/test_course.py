"""Course, interval and frequency derivations from the published wording."""

from __future__ import annotations

from typing import Any

import pytest

from fundguard.knowledge_base.importer.course import derive_course, derive_frequency, derive_interval

from .factory import KB, point

DAYS = "使用药品的日期总计超过限制天数"
SPAN = "第一次使用药品的日期开始计算的连续时间跨度超过限制天数"


@pytest.mark.parametrize(
    ("constraint", "detect", "expected"),
    [
        ("支付不超过14天。", DAYS, (14, "course", "days", None)),
        (
            "限二级及以上医疗机构脑梗死恢复期患者，单次住院最多支付14天。",
            DAYS,
            (14, "encounter", "days", None),
        ),
        (
            "限二级及以上医疗机构肿瘤患者，住院方可支付，单次最多支付14天。",
            DAYS,
            (14, "encounter", "days", None),
        ),
        (
            "急性失代偿性心力衰竭短期治疗。住院方可支付，单次支付不超过3天。",
            DAYS,
            (3, "encounter", "days", None),
        ),
        ("限以下情况方可支付，且支付不超过12个月：1.HER2阳性…", SPAN, (365, "course", "span", None)),
        ("总时间不超过90天，评定间隔时间不短于14天。", DAYS, (90, "course", "span", 14)),
        ("一个疾病过程支付不超过90天。", DAYS, (90, "course", "days", None)),
        ("支付不超过一年，每周最多支付一次。", DAYS, (365, "course", "span", 7)),
        (
            "限新发的急性缺血性脑卒中患者在发作48小时内开始使用，支付不超过14天。",
            DAYS,
            (14, "course", "days", None),
        ),
    ],
)
def test_course(constraint: str, detect: str, expected: tuple[Any, ...]) -> None:
    """max_days, scope (per stay or per course), mode (days of use or span) and a minimum interval."""
    params = derive_course(point("药品限支付疗程", constraint, detect_logic=detect), KB).params
    assert params is not None
    assert expected == (params["max_days"], params["scope"], params["mode"], params["min_interval_days"])


def test_course_without_limit_is_missing() -> None:
    """A text without a days limit is not guessed."""
    assert derive_course(point("药品限支付疗程", "限急性期。"), KB).params is None


@pytest.mark.parametrize(
    ("constraint", "days"),
    [
        ("评定间隔时间不短于14天。（人社部发〔2016〕23号）", 14),
        ("诊疗规范：糖化血红蛋白水平反映近2-3个月的平均血糖水平。", 60),
        ("诊疗规范：血清果糖胺（糖化清蛋白）水平反映近2-3周的平均血糖水平。", 14),
        ("每周最多支付一次。（人社部发〔2016〕23号）", 7),
    ],
)
def test_interval(constraint: str, days: int) -> None:
    """The minimum interval: 不短于N天, the lower end of N-M个月/周, or a week for 每周最多一次."""
    expected = {"min_interval_days": days}
    assert expected == derive_interval(point("医疗服务项目周期超频次", constraint), KB).params


@pytest.mark.parametrize(
    ("unit", "expected"),
    [("日", {"unit": "day", "max_per_day": "1"}), ("天", {"unit": "day", "max_per_day": "1"}),
     ("小时", {"unit": "hour", "max_per_day": "24"})],
)  # fmt: skip
def test_frequency(unit: str, expected: dict[str, str]) -> None:
    """日/天 allow one unit per day, 小时 allow 24 hours per day."""
    assert expected == derive_frequency(point("医疗服务项目限定频次", unit), KB).params


def test_unknown_frequency_unit_is_missing() -> None:
    """An unknown unit is reported, not guessed."""
    assert derive_frequency(point("医疗服务项目限定频次", "次"), KB).params is None
