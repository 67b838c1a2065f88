"""Drugs outside the internet-hospital payment scope: cases in cases/internet.json on the default KB."""

from __future__ import annotations

from typing import Any

import pytest

from fundguard.agent.engine import CompiledKB

from .casefile import case_id, load_cases, run_case

CASES = load_cases("internet")


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_internet_case(case: dict[str, Any], default_kb: CompiledKB) -> None:
    """Each case's alerts equal its expected list exactly."""
    run_case(case, default_kb)
