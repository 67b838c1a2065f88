"""Spot checks of the committed default bundle on real knowledge points, one or more per derivation."""

from __future__ import annotations

from typing import Any

import pytest

SEX_POINTS = 640 + 390
SUPERSEDED = 397
REVISION_DAY = "2026-01-28"
OLD, NEW = "KP-19ed03afbb9c0dd4", "KP-a7fe5696f1ce65cc"  # 儿童清肺口服液: batch 1 and its 2026-01 successor


@pytest.fixture(scope="module")
def points(default_bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The bundle's points by kp_id."""
    return {p["kp_id"]: p for p in default_bundle["points"]}


@pytest.mark.parametrize(
    ("kp_id", "sex"),
    [
        ("KP-e93841e8e9a68cc2", "2"),  # 左炔诺孕酮宫内节育系统: 避孕
        ("KP-630264b3f1586762", "1"),  # 阿帕他胺片: 前列腺癌
        ("KP-c918d1abbac65d73", "1"),  # 前列腺素E1乳膏: prostaglandin, but for 男性勃起功能障碍
        ("KP-6447f6ae80bf16fa", "2"),  # 阿那曲唑片: 绝经后妇女乳腺癌
        ("KP-4700f9eb3079fcfb", "1"),  # 睾丸片: 男子更年期 (override)
        ("KP-6e30fad9de7cca2d", "1"),  # 金锁固精丸: 遗精
        ("KP-1714f757f97939dc", "2"),  # 盐酸利托君片: 早产
    ],
)
def test_drug_sex(points: dict[str, dict[str, Any]], kp_id: str, sex: str) -> None:
    """Sex-specific drugs get the sex their indication implies."""
    expected = {"sex": sex}
    assert expected == points[kp_id]["params"]


def test_every_sex_point_has_a_sex(default_bundle: dict[str, Any]) -> None:
    """All 640 drug and 390 service sex points (the note row aside) are compiled as male or female."""
    sexes = [p["params"]["sex"] for p in default_bundle["points"] if p["family"] == "sex"]
    expected = SEX_POINTS
    assert expected == len(sexes)
    assert {"1", "2"} == set(sexes)


def test_service_sex_from_constraint(default_bundle: dict[str, Any]) -> None:
    """A 男性泌尿生殖系统 service is male, a 女性 one female."""
    for p in default_bundle["points"]:
        if p["rule_class"] == "医疗服务项目区分性别使用":
            expected = "1" if p["constraint"].startswith("男性") else "2"
            assert expected == p["params"]["sex"]


@pytest.mark.parametrize(
    ("kp_id", "band"),
    [
        ("KP-1005ceff84504d09", {"min": [3, "year"], "below": [13, "year"], "label": "儿童"}),  # 限3-12岁
        ("KP-a13f84aab052ca53", {"min": [5, "year"], "below": [12, "year"], "label": "儿童"}),  # 5至12岁以下
        ("KP-2318abd2c8ad2e92", {"min": [6, "year"], "below": [18, "year"], "label": "儿童"}),  # 6-17岁
        ("KP-23385428c9cb1bac", {"min": [1, "year"], "below": [15, "year"], "label": "儿童"}),  # 1岁至14岁…
        ("KP-be384a9eaf0c6fc2", {"min": [3, "year"], "below": [18, "year"], "label": "儿童"}),  # 3岁及以上
        ("KP-e17c16b64d7a25ea", {"min": None, "below": [18, "year"], "label": "儿童"}),  # 限儿童
        ("KP-7176625812446456", {"min": None, "below": [29, "day"], "label": "新生儿"}),  # 新生儿测颅压
        ("KP-2953a3c78671a65f", {"min": None, "below": [1, "year"], "label": "婴儿"}),  # 婴儿氧舱治疗
        ("KP-07293dcc6be459ad", {"min": None, "below": [3, "year"], "label": "婴幼儿"}),  # 婴幼儿健康体检
        ("KP-f102932ae2793bef", {"min": [16, "year"], "below": [60, "year"], "label": "法定就业年龄段"}),
        ("KP-a7fe5696f1ce65cc", {"min": None, "below": [18, "year"], "label": "儿童"}),  # 儿童清肺口服液
    ],
)
def test_age_band(points: dict[str, dict[str, Any]], kp_id: str, band: dict[str, Any]) -> None:
    """Age bands: explicit ranges from the text, population words otherwise."""
    assert band == points[kp_id]["params"]


@pytest.mark.parametrize(
    ("kp_id", "params"),
    [
        ("KP-0826626531e53374", {"allowed": ["emergency", "inpatient"]}),  # 安宫牛黄丸: 限急诊或住院患者
        ("KP-b2c1f0c86accd16b", {"unit": "hour", "max_per_day": "24"}),  # 脑电图录象监测: 小时
        ("KP-16086718019bcd4a", {"min_interval_days": 60}),  # 糖化血红蛋白: 2-3个月
        ("KP-08f8e7f401ce799d", {"min_interval_days": 14}),  # 血清果糖胺: 2-3周
        ("KP-c0af10da87f452bc", {"min_interval_days": 7}),  # 每周最多支付一次
        ("KP-181abab50230ad8c", {"min_interval_days": 14}),  # 评定间隔时间不短于14天
        ("KP-ecc09d0c65ab6f08", {"a": "001103000010000", "b": "001102000030000", "window": "encounter"}),
        ("KP-fc303c43b35a3dac", {"group": "胃肠手术组"}),
        (
            "KP-ec416289f54a3923",
            {"max_days": 3, "scope": "encounter", "mode": "days", "min_interval_days": None},
        ),
        (
            "KP-f2b9a5b369bddc7b",
            {"max_days": 365, "scope": "course", "mode": "span", "min_interval_days": None},
        ),
        ("KP-6977109cf9517c5d", {"max_days": 90, "scope": "course", "mode": "span", "min_interval_days": 14}),
        ("KP-d96b221f3dc81fce", {"max_days": 365, "scope": "course", "mode": "span", "min_interval_days": 7}),
        ("KP-95b3e2cd2d3beb0f", {"evidence_atc": ["M01AX"], "confirm": "限活动性类风湿关节炎患者的二线治疗"}),
    ],
)
def test_family_params(points: dict[str, dict[str, Any]], kp_id: str, params: dict[str, Any]) -> None:
    """Visit, frequency, interval, pair, surgery, course and second-line parameters of real points."""
    assert params == points[kp_id]["params"]


def test_level_two_and_above(default_bundle: dict[str, Any]) -> None:
    """Every 药品限医疗机构级别 point says 二级及以上 somewhere, so all have min_rank 2."""
    ranks = {p["params"]["min_rank"] for p in default_bundle["points"] if p["family"] == "level"}
    assert {2} == ranks


def test_superseded_point_ends_when_its_successor_starts(points: dict[str, dict[str, Any]]) -> None:
    """A point replaced in the 2026-01 revision ends on 2026-01-28 (exclusive), when its successor starts."""
    old, new = points[OLD], points[NEW]
    expected_old, expected_new = (None, REVISION_DAY), (REVISION_DAY, None, OLD)
    assert expected_old == (old["valid_from"], old["valid_to"])
    assert expected_new == (new["valid_from"], new["valid_to"], new["supersedes"])


def test_397_points_are_superseded(default_bundle: dict[str, Any]) -> None:
    """Each of the 397 supersessions gives the replaced point a valid_to."""
    replaced = {p["supersedes"] for p in default_bundle["points"] if p["supersedes"]}
    ended = {p["kp_id"] for p in default_bundle["points"] if p["valid_to"]}
    expected = SUPERSEDED
    assert expected == len(replaced)
    assert replaced == ended


def test_indication_points_can_always_be_checked_or_confirmed(default_bundle: dict[str, Any]) -> None:
    """Every 药品限适应症 point has ICD-10 prefixes or a confirm text."""
    for p in default_bundle["points"]:
        if p["family"] == "indication":
            assert p["params"]["icd10"] or p["params"]["confirm"]
