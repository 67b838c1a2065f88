"""Drugs paid only for listed indications: cases in cases/indication.json on the embedded default KB.

The default KB does not map indication texts to ICD-10 yet, so the diagnosis-matching path is also tested on
the default KB with one point's params replaced (多格列艾汀片, 限2型糖尿病患者).
"""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import pytest

from fundguard.agent.engine import CompiledKB, KbInvalid, check
from fundguard.agent.engine.rules.indication import compile_params
from fundguard.agent.intake import parse_request

from .casefile import case_id, load_cases, run_case

CASES = load_cases("indication")
DORZAGLIATIN = "XA10BXD360A001010100648"  # 多格列艾汀片, KP-eca9527a0d9c4cb8


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_indication_case(case: dict[str, Any], default_kb: CompiledKB) -> None:
    """Each case's alerts equal its expected list exactly."""
    run_case(case, default_kb)


def _kb_with_icd10(kb: CompiledKB, prefixes: list[str]) -> CompiledKB:
    (point,) = kb.points_for(DORZAGLIATIN)
    params = compile_params({"icd10": prefixes, "confirm": None}, kb.params, "p")
    return dataclasses.replace(kb, points={**kb.points, point.kp_id: dataclasses.replace(point, params=params)})


def _alerts(kb: CompiledKB, diagnoses: list[str], main: str = "") -> list[tuple[str, str, str]]:
    request = {
        "patient": {"patn_id": "P-DX", "gend": "1", "brdy": "1960-01-01"},
        "encounter": {
            "mdtrt_id": "E-DX",
            "med_type": "11",
            "dscg_main_dise_codg": main,
            "diagnoses": [{"dise_codg": code} for code in diagnoses],
            "orders": [{"rx_id": "DX1", "hilist_code": DORZAGLIATIN, "cnt": "1", "pric": "9.9"}],
        },
    }
    result = check(parse_request(request).request, kb, date(2026, 11, 1), "T")
    return [(a.kp_id, a.sev_deg, a.workflow_impact.value) for a in result.alerts]


@pytest.mark.parametrize(
    ("prefixes", "diagnoses", "main"),
    [
        (["E11"], ["I10.X00", "E11.900"], ""),
        (["E11"], ["e11.900"], ""),
        (["E11.9"], ["E11.900"], ""),
        (["E119"], ["E11.900"], ""),
        (["K74.6", "E11"], ["K74.600"], ""),
        (["E11"], [], "E11.900"),
    ],
)
def test_matching_diagnosis_gives_no_alert(
    prefixes: list[str], diagnoses: list[str], main: str, default_kb: CompiledKB
) -> None:
    """A diagnosis (or discharge main diagnosis) starting with a prefix, case and dots aside, complies."""
    expected: list[tuple[str, str, str]] = []
    assert expected == _alerts(_kb_with_icd10(default_kb, prefixes), diagnoses, main)


@pytest.mark.parametrize("diagnoses", [["I10.X00"], ["E10.900"], []])
def test_no_matching_diagnosis_is_flagged_with_the_rule_severity(
    diagnoses: list[str], default_kb: CompiledKB
) -> None:
    """Without a matching diagnosis (or any diagnosis) the line is flagged with the rule's own severity."""
    expected = [("KP-eca9527a0d9c4cb8", "2", "reason-required")]
    assert expected == _alerts(_kb_with_icd10(default_kb, ["E11"]), diagnoses)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"icd10": [], "confirm": None}, "p.confirm"),
        ({"icd10": [], "confirm": " 。"}, "p.confirm"),
        ({"icd10": "E11", "confirm": None}, "p.icd10"),
        ({"icd10": ["E11", ""], "confirm": None}, "p.icd10[1]"),
        ({"icd10": ["E11"], "confirm": 3}, "p.confirm"),
    ],
)
def test_compile_rejects_bad_params(raw: dict[str, Any], field: str, default_kb: CompiledKB) -> None:
    """Bad prefixes, or nothing to check and nothing to confirm, is a KB error naming the key."""
    with pytest.raises(KbInvalid) as exc:
        compile_params(raw, default_kb.params, "p")
    assert field == exc.value.field
