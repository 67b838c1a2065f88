"""The 医保支付资格 rules as a pure fold over sanctions: table-driven cases (`standing_cases.json`)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from fundguard.central.standing import SUSPENDED, TERMINATED, WARNED, Sanction, add_months, standing_of

CASES: list[dict[str, Any]] = json.loads((Path(__file__).parent / "standing_cases.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_standing_case(case: dict[str, Any]) -> None:
    """Each case's sanctions (date, points, months), seen from its `today`, give the expected standing."""
    sanctions = [Sanction(date.fromisoformat(at), points, "points", months) for at, points, months in case["sanctions"]]
    got = standing_of(sanctions, date.fromisoformat(case["today"]))
    actual = {
        "year": got.year,
        "points": got.points,
        "status": got.status,
        "until": got.until.isoformat() if got.until else None,
    }
    assert case["expected"] == actual


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2026, 10, 15), 3, date(2027, 1, 15)),
        (date(2026, 12, 31), 6, date(2027, 6, 30)),
        (date(2026, 3, 10), 12, date(2027, 3, 10)),
    ],
)
def test_add_months(day: date, months: int, expected: date) -> None:
    """Months are added on the calendar, clamped to the end of a shorter month, across years."""
    assert expected == add_months(day, months)


def test_reasons_name_the_points_and_the_end_date() -> None:
    """The published reason says how many points in which year and, for a suspension, until when."""
    sanctions = [Sanction(date(2026, 3, 10), 9, "art38_repeat", 3)]
    suspended = standing_of(sanctions, date(2026, 3, 11))
    terminated = standing_of([*sanctions, Sanction(date(2026, 3, 12), 3, "charging_error", 3)], date(2026, 3, 13))
    warned = standing_of([Sanction(date(2026, 3, 10), 2, "agreement_breach", 3)], date(2026, 3, 11))
    assert (SUSPENDED, TERMINATED, WARNED) == (suspended.status, terminated.status, warned.status)
    assert "2026年度累计记分9分" in suspended.reason
    assert "2026-06-10" in suspended.reason
    assert "12分" in terminated.reason
    assert "2026年度累计记分2分" == warned.reason
