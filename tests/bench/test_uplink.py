"""The uplink bench runs end to end on a small backlog (figures are printed, never asserted as timings)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.uplink import measure, print_figures


def test_measure_fills_and_drains_through_a_child_central(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """500 events are recorded, then drained in 4 batches to the fake central child; the outbox ends empty and the
    printed figures come back as JSON-ready data."""
    figures = measure(500, 150, tmp_path)
    assert (500, 4, 500) == (figures.events, figures.batches, figures.record.n)
    assert figures.batch_gzip_kib < figures.batch_raw_kib
    out = print_figures(figures)
    assert out == json.loads(capsys.readouterr().out.splitlines()[-1])["uplink"]
