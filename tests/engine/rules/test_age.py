"""Age-restricted drugs and services: cases in cases/age.json on the embedded default KB."""

from __future__ import annotations

from typing import Any

import pytest

from fundguard.agent.engine import CompiledKB, KbInvalid
from fundguard.agent.engine.rules.age import compile_params

from .casefile import case_id, load_cases, run_case

CASES = load_cases("age")


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_age_case(case: dict[str, Any], default_kb: CompiledKB) -> None:
    """Each case's alerts equal its expected list exactly."""
    run_case(case, default_kb)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"min": None, "below": None, "label": "儿童"}, "p.below"),
        ({"min": None, "below": [18, "decade"]}, "p.below"),
        ({"min": [-1, "year"], "below": None}, "p.min"),
        ({"min": "3岁", "below": None}, "p.min"),
        ({"below": [18, "year"], "label": 7}, "p.label"),
    ],
)
def test_compile_rejects_bad_params(raw: dict[str, Any], field: str, default_kb: CompiledKB) -> None:
    """A malformed age band is a KB error naming the key."""
    with pytest.raises(KbInvalid) as exc:
        compile_params(raw, default_kb.params, "p")
    assert field == exc.value.field


def test_compile_words_the_band(default_kb: CompiledKB) -> None:
    """The allowed band is worded once at load, min inclusive and below exclusive."""
    raw = {"min": [3, "year"], "below": [13, "year"], "label": "儿童"}
    params = compile_params(raw, default_kb.params, "p")
    expected = ("儿童（3岁至未满13岁）", "3 years to under 13 years")
    assert expected == (params.allowed_zh, params.allowed_en)
