"""The reviewed override table: shape, references to real points, and how entries change the bundle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fundguard.knowledge_base.importer import ImportResult, OverrideError, import_points
from fundguard.knowledge_base.importer._source import read_source
from fundguard.knowledge_base.importer.overrides import (
    default_overrides_path,
    load_overrides,
    parse_overrides,
)
from tests.conftest import SHARED_KP

from .factory import record, write_overrides, write_source

SEX = "药品区分性别使用"


def test_shipped_table_loads_and_every_entry_has_a_why() -> None:
    """knowledge_base/overrides.json is valid and each entry says why."""
    table = load_overrides()
    for entry in table.points.values():
        assert entry.why
    for _value, why in table.parameters.values():
        assert why


def test_shipped_entries_refer_to_existing_points(imported: ImportResult) -> None:
    """Every entry names a kp_id of the source with the same rule class and item name."""
    raw: dict[str, Any] = json.loads(default_overrides_path().read_text(encoding="utf-8"))
    by_id = {p.kp_id: p for p in read_source(SHARED_KP).points}
    for kp_id, entry in raw["points"].items():
        assert kp_id in by_id
        expected = (by_id[kp_id].rule_class, by_id[kp_id].item_name)
        assert expected == (entry["rule_class"], entry["item_name"])


def test_shipped_entries_are_marked_in_the_bundle(default_bundle: dict[str, Any]) -> None:
    """Each overridden point says derived_by "override", and only those do."""
    expected = set(load_overrides().points)
    assert expected == {p["kp_id"] for p in default_bundle["points"] if p["derived_by"] == "override"}


@pytest.mark.parametrize(
    "table",
    [
        {"format": "other", "format_version": 1},
        {"format": "fundguard-kb-overrides", "format_version": 2},
        {"format": "fundguard-kb-overrides", "format_version": 1,
         "points": {"KP-x": {"rule_class": SEX, "item_name": "x", "params": {"sex": "1"}}}},
        {"format": "fundguard-kb-overrides", "format_version": 1,
         "points": {"KP-x": {"rule_class": SEX, "item_name": "x", "params": {"sex": "1"}, "why": " "}}},
        {"format": "fundguard-kb-overrides", "format_version": 1, "parameters": {"child_below_years": 14}},
    ],
)  # fmt: skip
def test_malformed_tables_are_rejected(table: dict[str, Any]) -> None:
    """Wrong format, missing or blank why, or a bare parameter value raise OverrideError."""
    with pytest.raises(OverrideError):
        parse_overrides(table)


def _source(tmp_path: Path) -> Path:
    return write_source(
        tmp_path / "src",
        [
            record("KP-a", SEX, "睾丸片", "用于男子更年期障碍或缺乏睾丸素所致的各种疾病。"),
            record("KP-b", "药品限就医方式", "安宫牛黄丸", "限急诊或住院患者。"),
        ],
    )


def test_entry_for_an_unknown_point_is_rejected(tmp_path: Path) -> None:
    """An entry naming a kp_id the source lacks fails the import."""
    table = write_overrides(
        tmp_path / "o.json",
        {"KP-zzz": {"rule_class": SEX, "item_name": "x", "params": {"sex": "1"}, "why": "w"}},
    )
    with pytest.raises(OverrideError, match="KP-zzz"):
        import_points(_source(tmp_path), overrides=table)


def test_entry_with_another_item_name_is_rejected(tmp_path: Path) -> None:
    """An entry whose item name differs from the source (a stale id) fails the import."""
    table = write_overrides(
        tmp_path / "o.json",
        {"KP-a": {"rule_class": SEX, "item_name": "别的片", "params": {"sex": "1"}, "why": "w"}},
    )
    with pytest.raises(OverrideError, match="KP-a"):
        import_points(_source(tmp_path), overrides=table)


def test_entry_supplies_what_the_text_cannot(tmp_path: Path) -> None:
    """Without an entry an ambiguous row is not compiled; with one it is, marked derived_by override."""
    src = _source(tmp_path)
    bare = import_points(src, overrides=write_overrides(tmp_path / "empty.json"))
    expected_missing = ["KP-a"]
    assert expected_missing == [e["kp_id"] for e in bare.bundle["not_compiled"]]
    entry = {"rule_class": SEX, "item_name": "睾丸片", "params": {"sex": "1"}, "why": "男子更年期: male"}
    fixed = import_points(src, overrides=write_overrides(tmp_path / "o.json", {"KP-a": entry}))
    point = next(p for p in fixed.bundle["points"] if p["kp_id"] == "KP-a")
    expected = ({"sex": "1"}, "override")
    assert expected == (point["params"], point["derived_by"])
    assert not fixed.bundle["not_compiled"]


def test_entry_overrides_one_key(tmp_path: Path) -> None:
    """A partial entry replaces only the keys it names."""
    entry = {
        "rule_class": "药品限就医方式",
        "item_name": "安宫牛黄丸",
        "params": {"allowed": ["inpatient"]},
        "why": "w",
    }
    result = import_points(_source(tmp_path), overrides=write_overrides(tmp_path / "o.json", {"KP-b": entry}))
    point = next(p for p in result.bundle["points"] if p["kp_id"] == "KP-b")
    expected = {"allowed": ["inpatient"]}
    assert expected == point["params"]


def test_parameter_override_changes_the_bundle_parameters(tmp_path: Path) -> None:
    """A global parameter entry replaces the default and is listed in the report."""
    table = write_overrides(
        tmp_path / "o.json", parameters={"child_below_years": {"value": 14, "why": "local policy"}}
    )
    result = import_points(_source(tmp_path), overrides=table)
    expected = 14
    assert expected == result.bundle["parameters"]["child_below_years"]
    expected_listed = [("child_below_years", "local policy")]
    assert expected_listed == result.report.parameter_overrides
