"""Visit, level, pair, surgery, herbal, second-line and indication derivations."""

from __future__ import annotations

from typing import Any

import pytest

from fundguard.knowledge_base.importer.billing import derive_herbal, derive_pair, derive_surgery
from fundguard.knowledge_base.importer.drugs import (
    derive_indication_params,
    derive_second_line,
    named_first_line,
    short_prompt,
)
from fundguard.knowledge_base.importer.families import RULE_CLASSES, defaults
from fundguard.knowledge_base.importer.setting import derive_level, derive_visit

from .factory import KB, point


@pytest.mark.parametrize(
    ("constraint", "allowed"),
    [
        ("限急诊或住院患者。", ["emergency", "inpatient"]),
        ("需经营养风险筛查，…补充足够营养的住院患者方予支付。", ["inpatient"]),
        ("限门诊使用。", ["outpatient"]),
    ],
)
def test_visit(constraint: str, allowed: list[str]) -> None:
    """Visit classes named by the constraint, in a fixed order."""
    expected = {"allowed": allowed}
    assert expected == derive_visit(point("药品限就医方式", constraint), KB).params


@pytest.mark.parametrize(
    ("constraint", "rank"),
    [
        ("限二级及以上医疗机构。", 2),
        ("限三级医疗机构使用。", 3),
        ("需三级综合医院眼科或二级及以上眼科专科医院医师处方", 2),
    ],
)
def test_level(constraint: str, rank: int) -> None:
    """The lowest institution level the text accepts."""
    expected = {"min_rank": rank}
    assert expected == derive_level(point("药品限医疗机构级别", constraint), KB).params


def test_level_without_level_word_is_missing() -> None:
    """No level word, no guess."""
    assert derive_level(point("药品限医疗机构级别", "限癌症患者。"), KB).params is None


def test_pair_takes_the_two_codes() -> None:
    """Item A and item B are the point's two codes, within one encounter."""
    expected = {"a": "001103000010000", "b": "001102000030000", "window": "encounter"}
    p = point("医疗服务项目重复收费", codes=("001103000010000", "001102000030000"))
    assert expected == derive_pair(p, KB).params


@pytest.mark.parametrize("codes", [("001103000010000",), ("001103000010000", "001103000010000")])
def test_pair_needs_two_distinct_codes(codes: tuple[str, ...]) -> None:
    """A pair row without two different codes is not compiled."""
    assert derive_pair(point("医疗服务项目重复收费", codes=codes), KB).params is None


def test_surgery_group() -> None:
    """The constraint is the surgery group."""
    expected = {"group": "肝胆手术组"}
    assert expected == derive_surgery(point("手术项目未按规定折价收费", "肝胆手术组"), KB).params


@pytest.mark.parametrize(
    ("rule_class", "mode"), [("中药饮片单方使用不予支付", "single"), ("中药饮片单复方均不予支付", "never")]
)
def test_herbal_mode(rule_class: str, mode: str) -> None:
    """The herbal mode is the rule class."""
    expected = {"mode": mode}
    assert expected == derive_herbal(point(rule_class), KB).params


def test_second_line_atc_classes() -> None:
    """evidence_atc is the distinct code[1:6] of the point's 23-character X codes; Z codes give none."""
    codes = (
        "XL04AAB123A001010100001",
        "XL04AFU456A001010100002",
        "XL04AAB123A001010100003",
        "ZA01AAA0001010100001",
    )
    derived = derive_second_line(point("药品限二线使用", "限二线用药。", codes=codes), KB)
    expected: dict[str, Any] = {"evidence_atc": ["L04AA", "L04AF"], "confirm": "限二线用药"}
    assert expected == derived.params


def test_short_prompt_cuts_long_text_at_a_clause() -> None:
    """A long constraint is cut after a clause and marked with an ellipsis."""
    text = "限：1." + "甲" * 80 + "；2." + "乙" * 80 + "。"
    expected = "限：1." + "甲" * 80 + "…"
    assert expected == short_prompt(text, "x")


def test_indication_always_has_icd10_or_confirm() -> None:
    """An indication point is checkable by ICD-10 prefixes or, failing those, asks to confirm its text."""
    params = derive_indication_params(point("药品限适应症", "限艾滋病病毒感染。", "某注射液"), KB).params
    assert params is not None
    assert params["icd10"] or params["confirm"]


def test_every_rule_class_has_a_family() -> None:
    """The 21 published rule classes all map to an engine family."""
    expected = 21
    assert expected == len(RULE_CLASSES)


@pytest.mark.parametrize(
    ("rule_class", "tier", "expected"),
    [
        ("药品区分性别使用", "医疗类", ("2", "reason-required")),
        ("医疗服务项目重复收费", "政策类", ("1", "block")),
        ("超互联网医院药品支付范围", "管理类", ("1", "block")),
        ("药品限适应症", "政策类", ("2", "reason-required")),
        ("药品限二线使用", "政策类", ("3", "reason-required")),
    ],
)
def test_severity_defaults(rule_class: str, tier: str, expected: tuple[str, str]) -> None:
    """Tier defaults with the two exceptions of the bundle format."""
    assert expected == defaults(rule_class, tier)


@pytest.mark.parametrize(
    ("constraint", "expected_subset"),
    [
        ("限华法林治疗控制不良或出血高危的非瓣膜性房颤、深静脉血栓、肺栓塞患者。", {"B01AA"}),
        ("限二甲双胍等口服降糖药或胰岛素控制效果不佳的BMI≥25的患者。", {"A10BA", "A10AB", "A10AE"}),
        ("限既往接受含铂化疗治疗失败的复发或转移性宫颈癌患者。", {"L01XA"}),
        ("限对一种或多种TNF抑制剂疗效不佳或不耐受的活动性强直性脊柱炎成人患者。", {"L04AB"}),
    ],
)
def test_second_line_named_first_line_classes(constraint: str, expected_subset: set[str]) -> None:
    """First-line treatments named in the text add their ATC classes to the evidence."""
    assert expected_subset <= named_first_line(constraint)


def test_second_line_plain_text_names_no_class() -> None:
    """限二线用药 names no first-line drug: only the drug's own class is evidence."""
    assert set() == named_first_line("限二线用药。")
