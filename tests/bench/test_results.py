"""The results document: targets looked up in the figures, the commit read from .git files, the JSON written."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from bench.results import TARGETS, evaluate, git_commit, machine, write

COMMIT = "7a5b118094371db75d3315c63a1d4b3e994fcce9"


def test_each_target_holds_misses_or_was_not_run() -> None:
    """A figure under its bound holds, one over it misses (">=" the other way round), and a part that did not run
    leaves the target with no value rather than a guess; the scale the figure was taken at is kept."""
    figures = {
        "grpc": {"ratio_p50": 1.2, "ratio_p99": 3.5},
        "throughput": {"at_16": {"agent": {"per_s": 2500.0}}},
        "kb_reload": {"points": 100_000, "engine": {"10_lines": {"p99_us": 80.0}}},
    }
    rows = {row["name"]: row for row in evaluate(figures)}
    assert len(TARGETS) == len(rows)
    assert (1.2, True) == (rows["gRPC Check p50 / echo p50"]["value"], rows["gRPC Check p50 / echo p50"]["met"])
    assert False is rows["gRPC Check p99 / echo p99"]["met"]
    assert True is rows["checks/s with 16 in flight (gRPC, agent as deployed)"]["met"]
    ten = rows["engine p99, 10 lines, synthetic KB"]
    assert (True, {"KB points": 100_000}) == (ten["met"], ten["at"])
    assert (None, None) == (rows["engine p99 with 5 years of history (warm)"]["value"],
                            rows["engine p99 with 5 years of history (warm)"]["met"])  # fmt: skip


def test_commit_is_read_through_a_loose_ref_or_packed_refs(tmp_path: Path) -> None:
    """HEAD naming a branch resolves through refs/heads or packed-refs; a detached HEAD is the commit itself; no
    .git at all is unknown."""
    git = tmp_path / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "packed-refs").write_text(f"# pack-refs with: peeled\n{COMMIT} refs/heads/main\n")
    assert COMMIT == git_commit(tmp_path)
    (git / "refs" / "heads" / "main").write_text("1" * 40 + "\n")
    assert "1" * 40 == git_commit(tmp_path)
    (git / "HEAD").write_text("2" * 40 + "\n")
    assert "2" * 40 == git_commit(tmp_path)
    assert git_commit(tmp_path / "elsewhere") is None


def test_write_keeps_figures_targets_machine_and_times(tmp_path: Path) -> None:
    """The JSON file holds the figures as given, one row per target, the machine, the start time and the note."""
    started = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    doc = write({"grpc": {"ratio_p50": 1.4}}, started, machine(), tmp_path / "r" / "latest.json", "loaded")
    kept = json.loads((tmp_path / "r" / "latest.json").read_text(encoding="utf-8"))
    assert doc == kept
    assert ({"grpc": {"ratio_p50": 1.4}}, "2026-11-23T18:00:00+00:00", "loaded") == (
        kept["figures"], kept["started_at"], kept["note"])  # fmt: skip
    assert len(TARGETS) == len(kept["targets"])
    assert kept["machine"]["cpus"] >= 1
