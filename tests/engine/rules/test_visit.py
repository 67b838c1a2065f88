"""Drugs paid only for some visit types: cases in cases/visit.json on the embedded default KB."""

from __future__ import annotations

from typing import Any

import pytest

from fundguard.agent.engine import CompiledKB, KbInvalid
from fundguard.agent.engine.rules.visit import compile_params

from .casefile import case_id, load_cases, run_case

CASES = load_cases("visit")


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_visit_case(case: dict[str, Any], default_kb: CompiledKB) -> None:
    """Each case's alerts equal its expected list exactly."""
    run_case(case, default_kb)


@pytest.mark.parametrize(
    ("raw", "field"),
    [({}, "p.allowed"), ({"allowed": []}, "p.allowed"), ({"allowed": ["inpatient", "ward"]}, "p.allowed[1]")],
)
def test_compile_rejects_bad_params(raw: dict[str, Any], field: str, default_kb: CompiledKB) -> None:
    """A missing, empty or unknown visit class is a KB error naming the key."""
    with pytest.raises(KbInvalid) as exc:
        compile_params(raw, default_kb.params, "p")
    assert field == exc.value.field


def test_compile_words_the_classes(default_kb: CompiledKB) -> None:
    """The allowed classes are worded once at load, in a fixed order."""
    params = compile_params({"allowed": ["inpatient", "emergency"]}, default_kb.params, "p")
    expected = ("急诊或住院", "emergency or inpatient")
    assert expected == (params.allowed_zh, params.allowed_en)
