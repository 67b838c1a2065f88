"""Drugs paid only at institutions of a minimum level: cases in cases/level.json on the default KB."""

from __future__ import annotations

from typing import Any

import pytest

from fundguard.agent.engine import CompiledKB, KbInvalid
from fundguard.agent.engine.rules.level import compile_params

from .casefile import case_id, load_cases, run_case

CASES = load_cases("level")


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_level_case(case: dict[str, Any], default_kb: CompiledKB) -> None:
    """Each case's alerts equal its expected list exactly."""
    run_case(case, default_kb)


@pytest.mark.parametrize("raw", [{}, {"min_rank": 0}, {"min_rank": 4}, {"min_rank": "2"}, {"min_rank": True}])
def test_compile_rejects_bad_rank(raw: dict[str, Any], default_kb: CompiledKB) -> None:
    """min_rank must be the integer 1, 2 or 3."""
    with pytest.raises(KbInvalid) as exc:
        compile_params(raw, default_kb.params, "p")
    expected = "p.min_rank"
    assert expected == exc.value.field
