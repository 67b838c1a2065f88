"""`python -m bench` at tiny sizes writes latest.json (every part's figures, targets, machine, commit) and a PNG;
figures are never asserted as timings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.__main__ import PARTS, main

TINY = ["--iterations", "50", "--iterations-50", "20", "--iterations-200", "10", "--warmup", "5", "--paced", "10",
        "--calls", "30", "--grpc-warmup", "5", "--mode", "subprocess", "--profile", "never", "--kb-points", "4500",
        "--history-iterations", "20", "--trace-codes", "2000", "--uplink-events", "300", "--seconds", "0.1",
        "--levels", "1,16"]  # fmt: skip


@pytest.mark.slow
def test_every_part_lands_in_latest_json_and_the_png_is_written(tmp_path: Path) -> None:
    """All parts run; latest.json has each part's figures (200-line engine run and p99.9 included, the latency
    curves the plot draws, throughput per level per server, the trace process's RSS with the KB and ledger it held),
    a value for every target, the machine and the commit; latest.png is a non-empty PNG; the ledger and bundle are
    kept in the cache for the next run."""
    assert 0 == main([*TINY, "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache"), "--note", "test"])
    doc = json.loads((tmp_path / "out" / "latest.json").read_text(encoding="utf-8"))
    f = doc["figures"]
    assert sorted(PARTS) == f["sizes"]["parts"]
    assert {"10_lines", "50_lines", "200_lines"} <= set(f["engine"])
    assert len(f["engine"]["200_lines"]["curve_us"]) > 5
    assert {"ratio_p50", "ratio_p99", "ratio_p999"} <= set(f["grpc"])
    assert [1, 16] == [level["in_flight"] for level in f["throughput"]["servers"][0]["levels"]]
    assert "grpc_winner" in f["throughput"]
    assert (4500, 2000) == (f["trace"]["kb_points"], f["trace"]["codes"])
    assert {"10_lines", "50_lines", "200_lines"} <= set(f["kb_reload"]["engine"])
    assert {"history", "uplink"} <= set(f)
    assert all(row["value"] is not None for row in doc["targets"]), doc["targets"]
    assert len(f["rss_mib"]) >= 8
    assert ("test", 40) == (doc["note"], len(doc["git_commit"] or "x" * 40))
    assert doc["machine"]["cpus"] >= 1
    png = (tmp_path / "out" / "latest.png").read_bytes()
    assert (b"\x89PNG", True) == (png[:4], len(png) > 10_000)
    assert (tmp_path / "cache" / "trace-2000" / "trace.sqlite3").is_file()
    assert (tmp_path / "cache" / "synthetic-4500-seed0.bundle.json").is_file()


def test_only_runs_the_parts_named(tmp_path: Path) -> None:
    """`--only engine` measures the engine alone: the other parts' figures are absent and their targets not run."""
    assert 0 == main([*TINY, "--only", "engine", "--out", str(tmp_path)])
    doc = json.loads((tmp_path / "latest.json").read_text(encoding="utf-8"))
    assert ["engine"] == doc["figures"]["sizes"]["parts"]
    assert not {"grpc", "throughput", "trace", "kb_reload", "uplink", "history"} & set(doc["figures"])
    assert {None} == {row["met"] for row in doc["targets"]}
    assert (tmp_path / "latest.png").stat().st_size > 0


def test_an_unknown_part_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """A misspelt part name stops the run before anything is measured, naming the known parts."""
    with pytest.raises(SystemExit):
        main(["--only", "engin"])
    assert "unknown part(s) engin" in capsys.readouterr().err
