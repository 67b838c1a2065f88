"""Drugs payable under one insurance scheme only: cases in cases/insurance.json on the embedded default KB."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import pytest

from fundguard.agent.engine import CompiledKB, KbInvalid, check
from fundguard.agent.engine.rules.insurance import compile_params
from fundguard.agent.intake import parse_request

from .casefile import case_id, load_cases, run_case

CASES = load_cases("insurance")


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_insurance_case(case: dict[str, Any], default_kb: CompiledKB) -> None:
    """Each case's alerts equal its expected list exactly."""
    run_case(case, default_kb)


def test_work_injury_codes_are_kb_data(default_kb: CompiledKB) -> None:
    """An insutype listed in the KB parameter work_injury_insutypes pays a work-injury drug; others do not."""
    local = "WI01"  # a regional code for 工伤 (the national INSUTYPE dictionary has none)
    params = dataclasses.replace(default_kb.params, work_injury_insutypes=frozenset({local}))
    kb = dataclasses.replace(default_kb, params=params)
    request = {
        "patient": {"patn_id": "P-IX", "gend": "1", "brdy": "1975-04-12"},
        "encounter": {
            "mdtrt_id": "E-IX",
            "med_type": "21",
            "insutype": local,
            "orders": [{"rx_id": "X1", "hilist_code": "XL03AXX234B001010100568", "cnt": "1"}],
        },
    }
    covered = check(parse_request(request).request, kb, date(2026, 11, 1), "T")
    request["encounter"]["insutype"] = "310"  # type: ignore[index]
    not_covered = check(parse_request(request).request, kb, date(2026, 11, 1), "T")
    expected = ((), ("X1",))
    assert expected == (
        tuple(a.rx_ids for a in covered.alerts),
        tuple(rx for a in not_covered.alerts for rx in a.rx_ids),
    )


def test_compile_rejects_unknown_scheme(default_kb: CompiledKB) -> None:
    """A scheme other than work_injury / maternity is a KB error naming the key."""
    with pytest.raises(KbInvalid) as exc:
        compile_params({"scheme": "pension"}, default_kb.params, "p")
    expected = "p.scheme"
    assert expected == exc.value.field
