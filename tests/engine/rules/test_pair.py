"""Duplicate billing of an included service (A×B pairs): cases in cases/pair.json on the embedded default KB."""

from __future__ import annotations

from typing import Any

import pytest

from fundguard.agent.engine import CompiledKB, KbInvalid
from fundguard.agent.engine.rules import pair

from .casefile import case_id, load_cases, run_case

CASES = load_cases("pair")


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_pair_case(case: dict[str, Any], default_kb: CompiledKB) -> None:
    """Each case's alerts equal its expected list exactly."""
    run_case(case, default_kb)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"b": "001102000030000"}, "p.a"),
        ({"a": "001103000010000"}, "p.b"),
        ({"a": "001103000010000", "b": "001103000010000"}, "p.b"),
        ({"a": "001103000010000", "b": "001102000030000", "window": "week"}, "p.window"),
    ],
)
def test_pair_params_rejected(raw: dict[str, Any], field: str, default_kb: CompiledKB) -> None:
    """Bad pair params raise KbInvalid naming the key."""
    with pytest.raises(KbInvalid) as err:
        pair.compile_params(raw, default_kb.params, "p")
    assert field == err.value.field
