"""药品限适应症 text → ICD-10 医保版 prefixes (knowledge_base/importer/indication.py and its reviewed data)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from fundguard.knowledge_base.importer import indication
from fundguard.knowledge_base.importer.indication import (
    PREFIX_RE,
    derive_indication,
    load_lexicon,
    main,
    render_review,
)
from tests.conftest import SHARED_KP

COVERAGE_FLOOR = 0.80  # 420 of 510 points (82.4%) are mapped with the shipped data
HIV = ["B20", "B21", "B22", "B23", "B24", "O98.7", "Z21"]


def _data() -> dict[str, Any]:
    raw = resources.files("fundguard.knowledge_base.importer").joinpath("data", "indication_icd10.json")
    data: dict[str, Any] = json.loads(raw.read_text("utf-8"))
    return data


@pytest.fixture(scope="module")
def points() -> list[tuple[str, str]]:
    """(constraint, item_name) of every published 药品限适应症 point."""
    source = SHARED_KP / "knowledge_points.jsonl"
    if not source.is_file():
        pytest.skip(f"source folder {SHARED_KP} is not there")
    records = [json.loads(line) for line in source.read_text("utf-8").splitlines() if line.strip()]
    return [(r["constraint"], r["item_name"]) for r in records if r["rule_class"] == "药品限适应症"]


def test_hiv() -> None:
    """限艾滋病病毒感染 maps to HIV disease B20–B24, asymptomatic HIV Z21 and HIV in pregnancy O98.7."""
    expected = (HIV, None)
    assert expected == derive_indication("限艾滋病病毒感染。", "拉米夫定多替拉韦片")


def test_pure_diagnosis_has_no_confirm() -> None:
    """A text that is only a diagnosis decides by the diagnosis alone."""
    expected = (["E11"], None)
    assert expected == derive_indication("限2型糖尿病患者。", "多格列艾汀片")


def test_diagnosis_list() -> None:
    """A list of diseases is the union of their prefixes (恶性积液 as secondary pleura/peritoneum or effusion)."""
    expected = (["C43", "C64", "C69", "C78.2", "C78.6", "J91", "R18"], None)
    assert expected == derive_indication("限肾细胞癌、黑色素瘤、癌性胸腹腔积液。", "注射用人白介素-2")


@pytest.mark.parametrize(
    ("constraint", "expected"),
    [
        (
            "限有十二指肠溃疡、反流性食管炎诊断患者的二线用药。",
            (["K21.0", "K26"], "有十二指肠溃疡、反流性食管炎诊断患者的二线用药"),
        ),
        ("限急性缺血性脑血管疾病，支付不超过14天。", (["G45", "I63"], "支付不超过14天")),
        (
            "限：1.HER2阳性的早期乳腺癌患者的辅助和新辅助治疗，支付不超过12个月；2.HER2阳性的转移性乳腺癌。",
            (["C50"], "HER2阳性的早期乳腺癌患者的辅助和新辅助治疗，支付不超过12个月；HER2阳性的转移性乳腺癌"),
        ),
        (
            "限血糖控制不佳的成人2型糖尿病患者。",
            (["E11"], "血糖控制不佳的成人2型糖尿病患者"),
        ),
    ],
)
def test_diagnosis_plus_condition(constraint: str, expected: tuple[list[str], str | None]) -> None:
    """Line of therapy, payment days, gene or control status beyond the diagnosis become the confirm text."""
    assert expected == derive_indication(constraint, "")


def test_gene_named_like_a_disease() -> None:
    """间变性淋巴瘤激酶 (ALK) is a gene: the text maps to lung cancer only, not to lymphoma."""
    constraint = "限间变性淋巴瘤激酶(ALK)阳性的局部晚期或转移性非小细胞肺癌(NSCLC)患者。"
    expected = ["C34"]
    assert expected == derive_indication(constraint, "布格替尼片")[0]


@pytest.mark.parametrize(
    ("constraint", "expected"),
    [
        ("限与索磷布韦片联合，用于治疗成人基因1型非肝硬化慢性丙型肝炎。", ["B18.2"]),  # 非肝硬化
        ("限HIV感染阴性的多发性骨髓瘤患者。", ["C90.0"]),  # …阴性
        (
            "限成人以下感染方予支付：1.医院获得性肺炎(HAP)，但呼吸机相关性肺炎(VAP)除外；2.社区获得性肺炎(CAP)。",
            ["A48.1", "J12", "J13", "J14", "J15", "J16", "J18"],
        ),
    ],
)
def test_negated_terms_add_nothing(constraint: str, expected: list[str]) -> None:
    """A disease after 非/无, before 阴性 or inside …除外 / 不包括… is not an acceptable diagnosis."""
    assert expected == derive_indication(constraint, "")[0]


def test_comorbidity_of_an_and_is_not_an_alternative() -> None:
    """2型糖尿病相关的慢性肾脏病 needs the diabetes code; CKD alone does not qualify."""
    expected = (["E11"], "2型糖尿病相关的慢性肾脏病成人患者")
    assert expected == derive_indication("限2型糖尿病相关的慢性肾脏病成人患者。", "非奈利酮片")


@pytest.mark.parametrize(
    "constraint",
    [
        "限既往化疗曾发生重度中性粒细胞减少的患者。",  # history, no diagnosis term
        "限子宫肌瘤患者或生育保险。",  # an insurance path next to the diagnosis
        "限预防成人高度致吐性化疗(HEC)引起的急性和迟发性恶心和呕吐。",  # prophylaxis
        "限缺血性心脑血管疾病急性期住院患者；限耳部血流及神经障碍患者。支付不超过14天。",  # an unmapped alternative
        "限：1.获得性免疫缺陷综合征患者的厌食症; 2.获得性免疫缺陷综合征患者及癌症患者恶病质引起的体重明显减轻。",
    ],
)
def test_unmappable_is_confirm_only(constraint: str) -> None:
    """Without a diagnosis that every qualifying patient carries, no prefixes and the whole text to confirm."""
    expected: tuple[list[str], str | None] = ([], constraint)
    assert expected == derive_indication(constraint, "")


def test_data_prefixes_look_like_icd10() -> None:
    """Every term has a note and a non-empty list of upper-case ICD-10 prefixes (A00, K74.6, B18.0 …)."""
    bad = [
        (t["term"], p)
        for t in _data()["terms"]
        for p in t["icd10"] or ["<empty>"]
        if not PREFIX_RE.match(p) or p != p.upper() or not t.get("note")
    ]
    expected: list[tuple[str, str]] = []
    assert expected == bad


def test_data_phrases_are_unique() -> None:
    """No phrase is listed twice across terms, aliases, masks and open phrases (the loader refuses it)."""
    data = _data()
    phrases = [n for t in data["terms"] for n in (t["term"], *t.get("aliases", ()))]
    phrases += [e["phrase"] for key in ("masks", "open") for e in data[key]]
    expected = len(phrases)
    assert expected == len({indication.fold(p) for p in phrases})
    assert load_lexicon().phrases


def test_loader_refuses_bad_prefix(tmp_path: Path) -> None:
    """A lower-case or malformed prefix in the data file is an error naming the term."""
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"terms": [{"term": "肺癌", "icd10": ["c34"], "note": "x"}]}), encoding="utf-8")
    with pytest.raises(ValueError, match="肺癌"):
        load_lexicon(path)


def test_every_point_gets_a_usable_result(points: list[tuple[str, str]]) -> None:
    """Prefixes are sorted, unique and valid; a point without prefixes always has its text to confirm."""
    broken = []
    for constraint, name in points:
        prefixes, confirm = derive_indication(constraint, name)
        if prefixes != sorted(set(prefixes)) or not all(PREFIX_RE.match(p) for p in prefixes):
            broken.append(constraint)
        if not prefixes and confirm != constraint.strip():
            broken.append(constraint)
    expected: list[str] = []
    assert expected == broken


def test_coverage(points: list[tuple[str, str]]) -> None:
    """At least 80% of the 510 published points map to diagnosis prefixes (82.4% with the shipped data)."""
    mapped = sum(1 for constraint, name in points if derive_indication(constraint, name)[0])
    assert mapped / len(points) >= COVERAGE_FLOOR


def test_review_artefact_is_current(points: list[tuple[str, str]]) -> None:
    """data/indication_review.md is the output of the review script for the current data."""
    committed = resources.files("fundguard.knowledge_base.importer").joinpath("data", "indication_review.md")
    expected = render_review(points)
    assert expected == committed.read_text("utf-8")


def test_review_script_writes_report(points: list[tuple[str, str]], tmp_path: Path) -> None:
    """`python -m …indication SRC --out FILE` writes the Markdown report for SRC."""
    out = tmp_path / "review.md"
    assert main([str(SHARED_KP), "--out", str(out)]) == 0
    expected = render_review(points)
    assert expected == out.read_text("utf-8")
