"""Per-day quantity caps (bed days, monitoring hours): cases in cases/frequency.json on the embedded default KB."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from fundguard.agent.engine import CompiledKB, KbInvalid
from fundguard.agent.engine.model import CheckRequest, Encounter, OrderLine, Patient
from fundguard.agent.engine.rules import Context, frequency

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


@pytest.mark.parametrize("seed", range(4))
def test_one_line_shortcut_equals_the_walk(seed: int, default_kb: CompiledKB) -> None:
    """A single line over its cap takes a shortcut; its finding (text, amount, related) is the per-date walk's."""
    rng = random.Random(seed)
    points = {p.params.unit: p for p in default_kb.points.values() if p.family == "frequency"}
    compared = 0
    for _ in range(150):
        point = points[rng.choice(sorted(points))]
        begin = date(2026, 11, 1)
        stop = begin + timedelta(days=rng.randint(0, 6)) if rng.random() < 0.6 else None
        cnt = Decimal(rng.choice(["1", "2", "3", "5", "7.5", "24", "25", "49", "100", "170.5"]))
        line = OrderLine(
            "L1",
            point.codes[0],
            cnt,
            Decimal("18.5"),
            cnt * Decimal("18.5"),
            "项目",
            begn_date=begin,
            stop_date=stop,
            long_drord=rng.random() < 0.3,
        )
        encounter = Encounter("E-1", med_type="21", dscg_date=begin + timedelta(days=rng.randint(0, 4)), orders=(line,))
        ctx = Context(CheckRequest("5", Patient("P-1", "1", date(1950, 1, 1)), encounter), default_kb, begin)
        shortcut = frequency.check(ctx, [(line, point)])
        assert shortcut == frequency.walk(ctx, point, [line])
        compared += bool(shortcut)
    assert compared > 20  # the cases did reach the shortcut's findings, not only "within the cap"
