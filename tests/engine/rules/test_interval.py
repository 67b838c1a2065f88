"""Minimum spacing between uses of a service: cases in cases/interval.json on the embedded default KB."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from fundguard.agent.engine import CompiledKB, KbInvalid, check
from fundguard.agent.engine.rules import interval
from fundguard.agent.intake import parse_request

from .casefile import case_id, load_cases, run_case

CASES = load_cases("interval")


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_interval_case(case: dict[str, Any], default_kb: CompiledKB) -> None:
    """Each case's alerts equal its expected list exactly."""
    run_case(case, default_kb)


def test_interval_text_in_english(default_kb: CompiledKB) -> None:
    """With locale en the alert names the item, the interval and the gap in English."""
    data = dict(CASES[0]["input"], locale="en")
    result = check(parse_request(data).request, default_kb, date(2026, 11, 1), "T")
    assert 1 == len(result.alerts)
    text = result.alerts[0].vola_cont
    assert "once every 60 days" in text
    assert "47 day(s) from the one on 2026-09-15" in text


@pytest.mark.parametrize(
    "raw", [{}, {"min_interval_days": 0}, {"min_interval_days": "two"}, {"min_interval_days": None}]
)
def test_interval_params_rejected(raw: dict[str, Any], default_kb: CompiledKB) -> None:
    """A missing or non-positive interval raises KbInvalid naming the key."""
    with pytest.raises(KbInvalid) as err:
        interval.compile_params(raw, default_kb.params, "p")
    assert "p.min_interval_days" == err.value.field
