"""Herbal slices the fund does not pay: cases in cases/herbal.json on the embedded default KB."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from fundguard.agent.engine import CompiledKB, KbInvalid, check
from fundguard.agent.engine.rules.herbal import compile_params
from fundguard.agent.intake import parse_request

from .casefile import case_id, load_cases, run_case

CASES = load_cases("herbal")


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_herbal_case(case: dict[str, Any], default_kb: CompiledKB) -> None:
    """Each case's alerts equal its expected list exactly."""
    run_case(case, default_kb)


def test_compile_rejects_unknown_mode(default_kb: CompiledKB) -> None:
    """A mode other than single / never is a KB error naming the key."""
    with pytest.raises(KbInvalid) as exc:
        compile_params({"mode": "compound"}, default_kb.params, "p")
    expected = "p.mode"
    assert expected == exc.value.field


def test_all_listed_prescription_lists_the_other_slices_as_involved(default_kb: CompiledKB) -> None:
    """Each flagged slice of an all-listed prescription names its other slices as 涉及项 (type 2)."""
    case = next(c for c in CASES if c["input"]["encounter"]["mdtrt_id"] == "E-H04")
    parsed = parse_request(case["input"])
    result = check(parsed.request, default_kb, date(2026, 11, 1), "T")
    lines = sorted((line.rx_id, line.vola_item_type) for a in result.alerts for line in a.lines)
    expected = [("H04-1", "1"), ("H04-1", "2"), ("H04-2", "1"), ("H04-2", "2")]
    assert expected == lines
