"""Per-day quantity caps (bed days, monitoring hours): cases in cases/frequency.json on the embedded default KB."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from fundguard.agent.engine import CompiledKB, KbInvalid
from fundguard.agent.engine.rules import frequency

from .casefile import case_id, load_cases, run_case

CASES = load_cases("frequency")


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_frequency_case(case: dict[str, Any], default_kb: CompiledKB) -> None:
    """Each case's alerts equal its expected list exactly."""
    run_case(case, default_kb)


def test_frequency_params_accept_number(default_kb: CompiledKB) -> None:
    """max_per_day may come as a JSON number as well as a decimal string."""
    params = frequency.compile_params({"unit": "hour", "max_per_day": 24}, default_kb.params, "p")
    assert Decimal(24) == params.max_per_day


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"unit": "week", "max_per_day": "1"}, "p.unit"),
        ({"unit": "day"}, "p.max_per_day"),
        ({"unit": "day", "max_per_day": "0"}, "p.max_per_day"),
        ({"unit": "day", "max_per_day": "one"}, "p.max_per_day"),
    ],
)
def test_frequency_params_rejected(raw: dict[str, Any], field: str, default_kb: CompiledKB) -> None:
    """Bad frequency params raise KbInvalid naming the key."""
    with pytest.raises(KbInvalid) as err:
        frequency.compile_params(raw, default_kb.params, "p")
    assert field == err.value.field
