"""Paid-course limits of drugs and services: cases in cases/course.json on the embedded default KB."""

from __future__ import annotations

from typing import Any

import pytest

from fundguard.agent.engine import CompiledKB, KbInvalid
from fundguard.agent.engine.rules import course

from .casefile import case_id, load_cases, run_case

CASES = load_cases("course")


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_course_case(case: dict[str, Any], default_kb: CompiledKB) -> None:
    """Each case's alerts equal its expected list exactly."""
    run_case(case, default_kb)


def test_course_params_defaults(default_kb: CompiledKB) -> None:
    """Only max_days is required: scope course, mode days, no interval by default."""
    params = course.compile_params({"max_days": 14}, default_kb.params, "p")
    assert course.CourseParams(14, "course", "days", None) == params


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({}, "p.max_days"),
        ({"max_days": -1}, "p.max_days"),
        ({"max_days": 14, "scope": "year"}, "p.scope"),
        ({"max_days": 14, "mode": "weeks"}, "p.mode"),
        ({"max_days": 14, "min_interval_days": 0}, "p.min_interval_days"),
    ],
)
def test_course_params_rejected(raw: dict[str, Any], field: str, default_kb: CompiledKB) -> None:
    """Bad course params raise KbInvalid naming the key."""
    with pytest.raises(KbInvalid) as err:
        course.compile_params(raw, default_kb.params, "p")
    assert field == err.value.field
