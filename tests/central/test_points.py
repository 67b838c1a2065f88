"""The points table: defaults from the reference bands, edited by a TOML or JSON file, bad files named by key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fundguard.central.points import (
    BEHAVIOURS,
    DEFAULT_ACTS,
    DEFAULT_TABLE,
    PointsFileError,
    load_points_table,
    table_from,
)


def test_defaults_follow_the_bands() -> None:
    """Agreement breach 2, Art. 38 general 5 / main 8, Art. 40 fraud 12; 3 months; behaviours score nothing."""
    expected = (2, 5, 8, 12, 3, False)
    acts = DEFAULT_TABLE.acts
    actual = (
        acts["agreement_breach"],
        acts["art38_general"],
        acts["art38_main"],
        acts["art40_fraud"],
        DEFAULT_TABLE.suspend_months,
        DEFAULT_TABLE.scores_events,
    )
    assert expected == actual
    assert set(BEHAVIOURS) == set(DEFAULT_TABLE.events)
    assert all(1 <= points <= 12 for points in DEFAULT_ACTS.values())


def test_toml_file_edits_and_adds(tmp_path: Path) -> None:
    """A TOML file changes a number, adds an act, sets the months and gives a behaviour points; the rest stays."""
    path = tmp_path / "points.toml"
    path.write_text(
        "suspend_months = 6\n[acts]\nart38_general = 4\nlocal_rule = 3\n[events]\ncontinued_past_block = 1\n",
        encoding="utf-8",
    )
    table = load_points_table(path)
    expected = (6, 4, 3, 8, 1, 0, True)
    actual = (
        table.suspend_months,
        table.acts["art38_general"],
        table.acts["local_rule"],
        table.acts["art38_main"],
        table.events["continued_past_block"],
        table.events["block_alert"],
        table.scores_events,
    )
    assert expected == actual


def test_json_file_is_the_same_object(tmp_path: Path) -> None:
    """A .json file holds the same keys as the TOML form."""
    path = tmp_path / "points.json"
    path.write_text(json.dumps({"acts": {"art40_fraud": 11}}), encoding="utf-8")
    assert 11 == load_points_table(path).acts["art40_fraud"]


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"suspend_months": 7}, "suspend_months"),
        ({"suspend_months": 0}, "suspend_months"),
        ({"suspend_months": True}, "suspend_months"),
        ({"acts": {"art38_main": 13}}, "acts.art38_main"),
        ({"acts": {"art38_main": 0}}, "acts.art38_main"),
        ({"acts": {"art38_main": "8"}}, "acts.art38_main"),
        ({"acts": {"bad name": 2}}, "acts.bad name"),
        ({"acts": [1, 2]}, "acts"),
        ({"events": {"made_up": 1}}, "events.made_up"),
        ({"events": {"block_alert": -1}}, "events.block_alert"),
        ({"suspend_month": 3}, "suspend_month"),
    ],
)
def test_bad_entries_are_named(doc: dict[str, object], field: str) -> None:
    """Every refusal names the offending key."""
    with pytest.raises(PointsFileError) as caught:
        table_from(doc)
    assert field == caught.value.field


def test_unreadable_or_malformed_file(tmp_path: Path) -> None:
    """A missing file or broken TOML is refused naming `points`."""
    broken = tmp_path / "points.toml"
    broken.write_text("acts = [", encoding="utf-8")
    for path in (tmp_path / "missing.toml", broken):
        with pytest.raises(PointsFileError) as caught:
            load_points_table(path)
        assert "points" == caught.value.field
