"""Second-line drugs: cases in cases/second_line.json on the embedded default KB."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import pytest

from fundguard.agent.engine import CompiledKB, KbInvalid, check
from fundguard.agent.engine.rules.second_line import compile_params
from fundguard.agent.intake import parse_request

from .casefile import case_id, load_cases, run_case

CASES = load_cases("second_line")
MORINIDAZOLE = "XJ01XDM152B002010100318"  # 吗啉硝唑氯化钠注射液, KP-022e489a59b3dfd6
LEVORNIDAZOLE = "XJ01XDZ082B002010101583"  # 左奥硝唑氯化钠注射液 (J01XD)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_second_line_case(case: dict[str, Any], default_kb: CompiledKB) -> None:
    """Each case's alerts equal its expected list exactly."""
    run_case(case, default_kb)


def test_point_without_evidence_classes_always_prompts(default_kb: CompiledKB) -> None:
    """With no evidence classes the prompt stands whatever the history holds."""
    (point,) = default_kb.points_for(MORINIDAZOLE)
    params = compile_params({"evidence_atc": [], "confirm": "限二线用药"}, default_kb.params, "p")
    points = {**default_kb.points, point.kp_id: dataclasses.replace(point, params=params)}
    kb = dataclasses.replace(default_kb, points=points)
    request = {
        "patient": {"patn_id": "P-SX", "gend": "1", "brdy": "1960-01-01"},
        "encounter": {
            "mdtrt_id": "E-SX",
            "med_type": "21",
            "orders": [{"rx_id": "SX1", "hilist_code": MORINIDAZOLE, "cnt": "1", "pric": "98.5"}],
        },
        "history": [
            {"mdtrt_id": "E-SX-H", "orders": [{"rx_id": "H1", "hilist_code": LEVORNIDAZOLE, "cnt": "1"}]}
        ],
    }
    result = check(parse_request(request).request, kb, date(2026, 11, 1), "T")
    expected = [(("SX1",), "3")]
    assert expected == [(a.rx_ids, a.sev_deg) for a in result.alerts]


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"evidence_atc": "J01XD", "confirm": "x"}, "p.evidence_atc"),
        ({"evidence_atc": ["J01X"], "confirm": "x"}, "p.evidence_atc[0]"),
        ({"evidence_atc": ["J01XD", 7], "confirm": "x"}, "p.evidence_atc[1]"),
        ({"evidence_atc": ["J01XD"], "confirm": ["x"]}, "p.confirm"),
    ],
)
def test_compile_rejects_bad_params(raw: dict[str, Any], field: str, default_kb: CompiledKB) -> None:
    """Malformed evidence classes or prompt are a KB error naming the key."""
    with pytest.raises(KbInvalid) as exc:
        compile_params(raw, default_kb.params, "p")
    assert field == exc.value.field
