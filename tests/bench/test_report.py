"""The "last figures" report: every target beside its figure, the figures' tables, and the README section swap."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.report import BEGIN, END, markdown, replace_section
from bench.results import write

FIGURES = {
    "engine": {"10_lines": {"n": 100, "p50_us": 50.0, "p99_us": 90.0, "p999_us": 120.0}},
    "grpc": {"headline": "subprocess", "ratio_p50": 1.4, "ratio_p99": 2.0, "ratio_p999": 2.5},
    "throughput": {"servers": [{"name": "grpc aio", "rss_mib": 110.0, "levels": [
        {"in_flight": 1, "per_s": 900.0, "p99_us": 2000.0, "errors": 0},
        {"in_flight": 16, "per_s": 2100.0, "p99_us": 9000.0, "errors": 2}]}]},
}  # fmt: skip


def test_report_names_every_target_and_the_figures(tmp_path: Path) -> None:
    """Each target appears with its figure and whether it holds ("not run" when its part was skipped); the latency
    and throughput tables carry the measured rows."""
    doc = write(FIGURES, datetime(2026, 11, 23, tzinfo=UTC), None, tmp_path / "latest.json", "machine loaded")
    text = markdown(doc)
    for target in doc["targets"]:
        assert target["name"] in text
    assert "| gRPC Check p50 / echo p50 [#11 MS2] | 1.40 × | <= 1.5 | yes |" in text
    assert "not run" in text
    assert "| engine, 10 lines, embedded KB | 50.0 | 90.0 | 120 | 100 |" in text
    assert "| grpc aio | 900 / 2,000 | 2,100 / 9,000 (2 err) | 110 |" in text
    assert "machine loaded" in text


def test_section_between_the_markers_is_replaced() -> None:
    """Only the text between the markers changes; without them the swap refuses."""
    readme = f"# bench\n{BEGIN}\nold figures\n{END}\nafter\n"
    assert f"# bench\n{BEGIN}\nnew\n{END}\nafter\n" == replace_section(readme, "new\n")
    with pytest.raises(ValueError, match="markers"):
        replace_section("# bench\n", "new\n")
