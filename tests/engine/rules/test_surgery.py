"""Discount of second and later operations of one surgery group: cases in cases/surgery.json on the default KB."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest

from fundguard.agent.engine import CompiledKB, KbInvalid
from fundguard.agent.engine.rules import surgery

from .casefile import case_id, load_cases, run_case

CASES = load_cases("surgery")


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_surgery_case(case: dict[str, Any], default_kb: CompiledKB) -> None:
    """Each case's alerts equal its expected list exactly."""
    run_case(case, default_kb)


def test_surgery_ratio_comes_from_kb_parameters(default_kb: CompiledKB) -> None:
    """The payable share of a second operation is the KB parameter surgery_discount_ratio."""
    kb_params = dataclasses.replace(default_kb.params, surgery_discount_ratio=Decimal("0.7"))
    params = surgery.compile_params({"group": "胃肠手术组"}, kb_params, "p")
    assert surgery.SurgeryParams("胃肠手术组", Decimal("0.7")) == params


def test_surgery_params_rejected(default_kb: CompiledKB) -> None:
    """A point without a group, or a ratio outside (0, 1], raises KbInvalid naming the key."""
    with pytest.raises(KbInvalid) as err:
        surgery.compile_params({}, default_kb.params, "p")
    assert "p.group" == err.value.field
    bad = dataclasses.replace(default_kb.params, surgery_discount_ratio=Decimal("1.5"))
    with pytest.raises(KbInvalid) as err:
        surgery.compile_params({"group": "胃肠手术组"}, bad, "p")
    assert "parameters.surgery_discount_ratio" == err.value.field
