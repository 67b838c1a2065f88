"""Rules apply by the encounter's date of service, on the embedded KB: a point superseded by the 2026-01 revision
judges encounters dated before 2026-01-28 and its successor those on or after; a point not yet effective is not
applied."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from fundguard.agent.engine import build_index, check
from fundguard.agent.engine.index import CompiledKB
from fundguard.agent.engine.model import CheckRequest, Encounter, OrderLine, Patient

from .bundles import default_doc

REVISION_DAY = date(2026, 1, 28)


@pytest.fixture(scope="module")
def bundle() -> dict[str, Any]:
    return default_doc()


@pytest.fixture(scope="module")
def kb(bundle: dict[str, Any]) -> CompiledKB:
    return build_index(bundle)


def _sex_pair(bundle: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The first male-only drug point the 2026-01 revision superseded, and its successor."""
    points = {p["kp_id"]: p for p in bundle["points"]}
    new = next(p for p in bundle["points"] if p["supersedes"] and p["family"] == "sex" and p["params"]["sex"] == "1")
    return points[new["supersedes"]], new


def _female_ordering(code: str, day: date) -> CheckRequest:
    line = OrderLine("1", code, Decimal(1), Decimal(10), begn_date=day)
    return CheckRequest("3", Patient("P-9", "2", date(1970, 5, 1)), Encounter("E-9", orders=(line,)))


@pytest.mark.parametrize("day", [date(2025, 12, 31), date(2026, 1, 27), REVISION_DAY,
                                 date(2026, 6, 1)])  # fmt: skip
def test_a_superseded_point_judges_before_the_revision_and_its_successor_after(
    bundle: dict[str, Any], kb: CompiledKB, day: date
) -> None:
    old, new = _sex_pair(bundle)
    assert (None, REVISION_DAY.isoformat(), REVISION_DAY.isoformat()) == (
        old["valid_from"],
        old["valid_to"],
        new["valid_from"],
    )
    result = check(_female_ordering(new["codes"][0], day), kb, day, "J")
    judged_by = sorted({a.kp_id for a in result.alerts if a.kp_id in (old["kp_id"], new["kp_id"])})
    assert [old["kp_id"] if day < REVISION_DAY else new["kp_id"]] == judged_by


def test_all_397_superseded_points_end_where_their_successor_starts(bundle: dict[str, Any]) -> None:
    points = {p["kp_id"]: p for p in bundle["points"]}
    successors = [p for p in bundle["points"] if p["supersedes"]]
    ends = {(points[p["supersedes"]]["valid_to"] == p["valid_from"]) for p in successors if p["supersedes"] in points}
    assert (397, {True}) == (len(successors), ends)
