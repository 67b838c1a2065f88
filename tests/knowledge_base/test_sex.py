"""Sex derivation: keywords, masked look-alikes, and rows left to the override table."""

from __future__ import annotations

import pytest

from fundguard.knowledge_base.importer.sex import derive_sex, sex_keywords

from .factory import KB, point

DRUG = "药品区分性别使用"
SERVICE = "医疗服务项目区分性别使用"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("前列腺素E1注射液", ([], [])),  # prostaglandin, not the prostate
        ("可产生耐药性的产品", ([], [])),  # 产生/产品 are not childbirth
        ("用于精神分裂症；酒精依赖", ([], [])),  # 精神/酒精 are not semen
        ("安宫牛黄丸", ([], [])),  # 安宫 is not the uterus
        ("良性前列腺增生", (["前列腺"], [])),
        ("用于产后恶露不绝", ([], ["恶露", "产后"])),
        ("乳腺癌", ([], ["乳腺"])),
    ],
)
def test_keywords_skip_look_alikes(text: str, expected: tuple[list[str], list[str]]) -> None:
    """Look-alike words are masked before the male and female keyword lists are matched."""
    assert expected == sex_keywords(text)


@pytest.mark.parametrize(
    ("item", "constraint", "sex"),
    [
        ("他达拉非片", "治疗勃起功能障碍。", "1"),
        ("前列腺素E1乳膏", "本品适用于男性勃起功能障碍患者的治疗。", "1"),
        ("地诺前列酮栓", "前列腺素E2类药物，用于妊娠足月时促宫颈成熟，引产。", "2"),
        ("来曲唑片", "绝经后妇女激素受体阳性的乳腺癌。", "2"),
        ("左炔诺孕酮片", "用于女性紧急避孕。", "2"),
    ],
)
def test_drug_sex_from_keywords(item: str, constraint: str, sex: str) -> None:
    """A drug's sex comes from its name and indication keywords."""
    expected = {"sex": sex}
    assert expected == derive_sex(point(DRUG, constraint, item), KB).params


def test_both_sides_go_to_the_override_table() -> None:
    """Keywords of both sexes leave the params to the override table, naming the words."""
    derived = derive_sex(point(DRUG, "用于男子更年期障碍或缺乏睾丸素所致的各种疾病。", "睾丸片"), KB)
    assert derived.params is None
    assert "keywords of both sexes" in derived.reason


def test_no_keyword_goes_to_the_override_table() -> None:
    """A text without any keyword is not guessed."""
    derived = derive_sex(point(DRUG, "用于神经衰弱。", "某片"), KB)
    assert derived.params is None
    assert "no sex keyword" in derived.reason


@pytest.mark.parametrize(
    ("constraint", "sex"), [("男性泌尿生殖系统相关手术", "1"), ("女性孕产相关检查", "2")]
)
def test_service_sex_from_constraint(constraint: str, sex: str) -> None:
    """A service row states the sex at the start of its constraint."""
    expected = {"sex": sex}
    assert expected == derive_sex(point(SERVICE, constraint, "某项目"), KB).params


def test_service_without_sex_word_is_missing() -> None:
    """A service row without 男性/女性 is not guessed."""
    assert derive_sex(point(SERVICE, "", "说明"), KB).params is None
