"""Reading the source folder, the bundle bytes and the command-line entry, on small hand-made sources."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fundguard.knowledge_base.importer import (
    SourceError,
    bundle_bytes,
    import_points,
    render_report,
    write_bundle,
)
from fundguard.knowledge_base.importer.__main__ import main

from .factory import record, write_overrides, write_source

SEX = "药品区分性别使用"


def _records() -> list[dict[str, Any]]:
    return [
        record("KP-old", SEX, "炔诺酮片", "用于女性口服避孕。"),
        record("KP-new", SEX, "炔诺酮片", "用于女性口服避孕。", batch="updates_2026-01",
               published_at="2026-01-28", supersedes="KP-old"),
        record("KP-note", SEX, "说明：性别不清人群不纳入此规则范畴。", "", codes=[]),
        record("KP-visit", "药品限就医方式", "某注射液", "限住院患者。"),
    ]  # fmt: skip


@pytest.fixture
def src(tmp_path: Path) -> Path:
    """A small source folder with a supersession, a note row and a new-in-2025 rule."""
    return write_source(tmp_path / "src", _records())


@pytest.fixture
def empty_table(tmp_path: Path) -> Path:
    """An override table without entries."""
    return write_overrides(tmp_path / "o.json")


def test_small_source(src: Path, empty_table: Path) -> None:
    """Validity dates, rule ids, the note row and the created_at of a small source."""
    bundle = import_points(src, 7, overrides=empty_table).bundle
    points = {p["kp_id"]: p for p in bundle["points"]}
    expected_dates = {
        "KP-old": (None, "2026-01-28"),
        "KP-new": ("2026-01-28", None),
        "KP-visit": (None, None),
    }
    assert expected_dates == {k: (p["valid_from"], p["valid_to"]) for k, p in points.items()}
    expected_ids = {"药品区分性别使用": "NHSA2025-67", "药品限就医方式": "NHSA2025-13"}
    assert expected_ids == {r["rule_class"]: r["rule_id"] for r in bundle["rules"]}
    expected_head = (7, "2026-01-28", ["KP-note"])
    assert expected_head == (
        bundle["revision"],
        bundle["created_at"],
        [e["kp_id"] for e in bundle["not_compiled"]],
    )


def test_gz_code_of_the_points_is_the_rule_id(tmp_path: Path, empty_table: Path) -> None:
    """A rule class whose points carry a GZ code uses it as rule_id (else NHSA2025-<seq>)."""
    folder = write_source(tmp_path / "gz", [record("KP-1", SEX, "炔诺酮片", "女性避孕。", gz_code="GZ10000301004000")])
    bundle = import_points(folder, overrides=empty_table).bundle
    expected = ["GZ10000301004000"]
    assert expected == [r["rule_id"] for r in bundle["rules"]]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"published_at": "2026-13-01"}, "not a YYYY-MM-DD date"),
        ({"codes": "X"}, "codes must be a list"),
        ({"supersedes": "KP-missing"}, "supersedes unknown"),
        ({"batch": "batch_99"}, "unknown batch"),
        ({"rule_class": "不存在的规则"}, "not in the catalogue"),
        ({"kp_id": ""}, "kp_id"),
    ],
)
def test_malformed_records_are_rejected(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    """A bad record raises SourceError naming the file and line."""
    folder = write_source(tmp_path / "bad", [{**record("KP-1", SEX, "x", "女性避孕。"), **change}])
    with pytest.raises(SourceError, match=message):
        import_points(folder)


def test_duplicate_kp_id_is_rejected(tmp_path: Path) -> None:
    """Two lines with one kp_id are an error, not a silent overwrite."""
    one = record("KP-1", SEX, "x", "女性避孕。")
    with pytest.raises(SourceError, match="duplicate kp_id"):
        import_points(write_source(tmp_path / "dup", [one, one]))


def test_missing_file_is_rejected(tmp_path: Path) -> None:
    """A source folder without the catalogue is an error naming the file."""
    folder = write_source(tmp_path / "src", _records())
    (folder / "rule_catalog_2025.json").unlink()
    with pytest.raises(SourceError, match=r"rule_catalog_2025\.json"):
        import_points(folder)


def test_bundle_bytes_are_canonical(src: Path, empty_table: Path, tmp_path: Path) -> None:
    """write_bundle writes sorted-key compact UTF-8 JSON with one newline, the same bytes every time."""
    bundle = import_points(src, overrides=empty_table).bundle
    path = tmp_path / "out" / "bundle.json"
    write_bundle(bundle, path)
    raw = path.read_bytes()
    expected = json.dumps(bundle, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"
    assert expected.encode("utf-8") == raw
    assert raw == bundle_bytes(import_points(src, overrides=empty_table).bundle)


def test_main_writes_bundle_and_report(
    src: Path, empty_table: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m fundguard.knowledge_base.importer SRC OUT` writes both files and prints the headline."""
    out = tmp_path / "out"
    status = main([str(src), str(out), "--overrides", str(empty_table)])
    assert not status
    result = import_points(src, overrides=empty_table)
    assert bundle_bytes(result.bundle) == (out / "bundle.json").read_bytes()
    assert render_report(result.report) == (out / "review_report.md").read_text(encoding="utf-8")
    expected = result.report.headline + "\n"
    assert expected == capsys.readouterr().out


def test_main_reports_a_bad_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing source folder exits 2 with the reason on stderr."""
    status = main([str(tmp_path / "nowhere"), str(tmp_path / "out")])
    expected = 2
    assert expected == status
    assert "import failed" in capsys.readouterr().err


BATCHES = [
    {"batch_tag": "batch_01", "published_at": None},
    {"batch_tag": "batch_09", "published_at": "2025-12-01"},
    {"batch_tag": "updates_2026-01", "published_at": "2026-01-28"},
]


def test_a_batch_can_be_left_out(tmp_path: Path, empty_table: Path) -> None:
    """exclude_batches drops the batch's points and date: no supersession, no valid_to, created_at from what is
    left, the batch named in source."""
    dated = record("KP-dated", "药品限就医方式", "某片", "限住院患者。", batch="batch_09", published_at="2025-12-01")
    src = write_source(tmp_path / "src", [*_records(), dated], BATCHES)
    bundle = import_points(src, 1, overrides=empty_table, exclude_batches=["updates_2026-01"]).bundle
    points = {p["kp_id"]: (p["valid_to"], p["supersedes"]) for p in bundle["points"]}
    assert {"KP-old": (None, None), "KP-visit": (None, None), "KP-dated": (None, None)} == points
    assert ("2025-12-01", ["updates_2026-01"]) == (bundle["created_at"], bundle["source"]["excluded_batches"])
    assert "excluded_batches" not in import_points(src, 1, overrides=empty_table).bundle["source"]


def test_leaving_out_an_unknown_batch_or_a_superseded_one_is_refused(tmp_path: Path, empty_table: Path) -> None:
    """An unknown batch tag, or a kept point superseding a left-out one, is a SourceError naming it."""
    src = write_source(tmp_path / "src", _records())
    with pytest.raises(SourceError, match="no batch 'batch_99' to exclude"):
        import_points(src, overrides=empty_table, exclude_batches=["batch_99"])
    with pytest.raises(SourceError, match="KP-new supersedes KP-old of an excluded batch"):
        import_points(src, overrides=empty_table, exclude_batches=["batch_01"])


def test_main_leaves_out_a_batch(empty_table: Path, tmp_path: Path) -> None:
    """`--exclude-batch TAG` on the command line does the same."""
    dated = record("KP-dated", "药品限就医方式", "某片", "限住院患者。", batch="batch_09", published_at="2025-12-01")
    src = write_source(tmp_path / "src", [*_records(), dated], BATCHES)
    out = tmp_path / "out"
    assert not main([str(src), str(out), "--overrides", str(empty_table), "--exclude-batch", "updates_2026-01"])
    expected = import_points(src, overrides=empty_table, exclude_batches=["updates_2026-01"]).bundle
    assert bundle_bytes(expected) == (out / "bundle.json").read_bytes()
