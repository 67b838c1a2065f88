"""The bench plot is written as a PNG from the results document, whatever parts ran."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bench.plot import draw
from bench.results import write
from bench.stats import summarize

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_png_is_written_with_every_panel_drawn(tmp_path: Path) -> None:
    """Engine and gRPC percentile curves and throughput against concurrency give a non-empty PNG file."""
    timing = summarize(list(range(1000, 200_000, 7))).with_curve()
    levels = [{"in_flight": n, "per_s": 500.0 * n**0.5, "p99_us": 900.0 * n, "errors": 0} for n in (1, 4, 16, 64)]
    figures = {
        "engine": {"10_lines": timing, "50_lines": timing, "200_lines": timing},
        "kb_reload": {"points": 100_000, "engine": {"10_lines": timing}},
        "grpc": {"subprocess": {"check": timing, "echo": timing}},
        "throughput": {"servers": [{"name": "grpc aio", "levels": levels}, {"name": "mllp", "levels": levels}]},
    }
    doc = write(figures, datetime.now(UTC), None, tmp_path / "latest.json")
    png = draw(doc, tmp_path / "out" / "latest.png")
    data = png.read_bytes()
    assert (PNG_MAGIC, True) == (data[:8], len(data) > 10_000)


def test_png_is_written_when_no_part_ran(tmp_path: Path) -> None:
    """An empty run still gives a PNG (each panel says it was not measured)."""
    doc = write({}, datetime.now(UTC), None, tmp_path / "latest.json")
    assert PNG_MAGIC == draw(doc, tmp_path / "latest.png").read_bytes()[:8]
