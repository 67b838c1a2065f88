"""The soak runner works end to end on a few seconds of traffic (its figures are printed, never asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.soak import run_soak, shrunk_bounds
from fundguard.agent.feedback import issued
from fundguard.agent.stream import bus

pytestmark = pytest.mark.slow


def test_a_short_soak_drives_every_kind_of_traffic_and_samples_the_agent(tmp_path: Path) -> None:
    """Four seconds at 30 ops/s: every kind of operation ran without error, samples were taken, and the outbox was
    drained to the central (which stored one event per operation that records one)."""
    lines: list[str] = []
    report = run_soak(4, tmp_path, rate=30, speed=60, sample_seconds=1, shrink=1, echo=lines.append)
    assert {"grpc", "national", "mllp", "feedback", "dispense"} == set(report.ops)
    assert {} == report.errors
    assert len(report.samples) >= 3 and len(lines) == len(report.samples)
    assert all(s.rss_kb > 0 and s.fds > 0 and s.threads > 0 for s in report.samples)
    assert report.outbox_drained
    assert sum(report.ops.values()) == report.central_events  # checks, decisions, dispenses: one event each


def test_shrunk_bounds_apply_inside_the_block_only() -> None:
    """The in-memory bounds are divided inside the block and restored after it."""
    before = issued.MEMORY_ENTRIES
    with shrunk_bounds(50):
        assert before // 50 == issued.MEMORY_ENTRIES
        assert bus.DEFAULT_CAPACITY // 50 == bus.AlertBus()._events.maxlen
    assert (before, bus.DEFAULT_CAPACITY) == (issued.MEMORY_ENTRIES, bus.AlertBus()._events.maxlen)
