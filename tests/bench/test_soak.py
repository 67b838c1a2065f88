"""The soak runner works end to end on a few seconds of traffic (its figures are printed, never asserted), and the
agent's files open at its start are the ones open at its end; what the fd listing and the central pool filling
do."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bench.soak import _grown, fd_targets, fill_pool, run_soak, shrunk_bounds, thread_names
from fundguard.agent.feedback import issued
from fundguard.agent.feedback.fatigue import DecidedAlerts
from fundguard.agent.stream import bus
from fundguard.central.store import Store

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
    assert {"start", "warmup", "end"} == set(report.fd_targets) == set(report.thread_names)
    start, end = ({k: n for k, n in report.fd_targets[p].items() if k.startswith("data/")} for p in ("start", "end"))
    assert 5 == start["data/trace.sqlite3-wal"]  # the ledger's pool and its 无码库 view, opened at start
    assert start == end  # the agent's databases: every connection was opened at start, none since


def test_shrunk_bounds_apply_inside_the_block_only() -> None:
    """The in-memory bounds are divided inside the block and restored after it."""
    before, decided = issued.MEMORY_ENTRIES, DecidedAlerts().capacity
    with shrunk_bounds(50):
        assert before // 50 == issued.MEMORY_ENTRIES
        assert bus.DEFAULT_CAPACITY // 50 == bus.AlertBus()._events.maxlen
        assert decided // 50 == DecidedAlerts().capacity
    assert (before, bus.DEFAULT_CAPACITY) == (issued.MEMORY_ENTRIES, bus.AlertBus()._events.maxlen)
    assert decided == DecidedAlerts().capacity


def test_fd_targets_name_files_below_the_root_and_kinds_of_the_rest(tmp_path: Path) -> None:
    """A file under the root is counted by its path below it (twice opened, twice counted), a socket by its kind."""
    (tmp_path / "data").mkdir()
    path = tmp_path / "data" / "a.sqlite3"
    path.write_bytes(b"")
    with path.open("rb"), path.open("rb"), socket.socket() as s:
        targets = fd_targets(tmp_path)
        assert 2 == targets["data/a.sqlite3"]
        assert targets["socket"] >= 1 and s.fileno() > 0
    assert "data/a.sqlite3" not in fd_targets(tmp_path)


def test_grown_lists_what_changed_either_way() -> None:
    """Counts that rose or fell are listed with the difference; unchanged ones are not."""
    assert {"b": 2, "c": -1, "d": 1} == _grown({"a": 1, "b": 1, "c": 1}, {"a": 1, "b": 3, "d": 1})


def test_thread_names_count_pool_threads_under_one_name() -> None:
    """Numbered threads of one pool are counted under one name."""
    assert 1 <= thread_names()["MainThread"]
    assert all("0" not in name and "1" not in name for name in thread_names())


def test_fill_pool_opens_the_central_pool_up_front(tmp_path: Path) -> None:
    """Every connection the central's pool keeps is open (with its WAL) before any traffic, and using the store
    afterwards opens no more."""
    store = Store.open(f"sqlite:///{tmp_path / 'central.sqlite3'}")
    size = fill_pool(store)
    opened = fd_targets(tmp_path)
    assert (size, size) == (opened["central.sqlite3"], opened["central.sqlite3-wal"])
    with store.engine.connect(), store.engine.connect():
        pass
    assert opened == fd_targets(tmp_path)
    store.close()
