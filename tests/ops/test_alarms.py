"""The alarm registry: conditions judged on demand, each raise and clear logged once, every watched alarm exported
as `fundguard_alarm{name}` (1 raised, 0 not); a store's fault latch raises its alarm until a write succeeds."""

from __future__ import annotations

import sqlite3

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from structlog.testing import capture_logs

from fundguard.agent.faults import FaultLatch
from fundguard.agent.ops.alarms import Alarms
from fundguard.agent.ops.collectors import AlarmCollector


def test_an_alarm_is_logged_once_when_raised_and_once_when_cleared() -> None:
    """Three evaluations while the condition holds: one `alarm.raised`; cleared: one `alarm.cleared`."""
    reason: list[str | None] = ["disk full"]
    alarms = Alarms({"store": lambda: reason[0]})
    with capture_logs() as logs:
        for _ in range(3):
            assert {"store": "disk full"} == alarms.evaluate()
        reason[0] = None
        assert {} == alarms.evaluate()
        assert {} == alarms.evaluate()
    assert ["alarm.raised", "alarm.cleared"] == [e["event"] for e in logs]


def test_a_condition_that_cannot_be_judged_is_itself_an_alarm() -> None:
    """A condition that raises: its alarm is up with the error as the reason (the registry keeps working)."""

    def broken() -> str | None:
        raise OSError("gone")

    alarms = Alarms({"broken": broken, "fine": lambda: None})
    assert {"broken": "cannot evaluate: OSError: gone"} == alarms.evaluate()


def test_every_watched_alarm_is_exported_raised_or_not() -> None:
    """`fundguard_alarm{name}`: 1 for the raised alarm, 0 for the other, judged at the scrape."""
    alarms = Alarms({"outbox_refusing": lambda: "refused", "central_unreachable": lambda: None})
    registry = CollectorRegistry()
    registry.register(AlarmCollector(alarms))
    text = generate_latest(registry).decode()
    assert 'fundguard_alarm{name="outbox_refusing"} 1.0' in text
    assert 'fundguard_alarm{name="central_unreachable"} 0.0' in text


def test_a_fault_latch_holds_the_last_failure_until_a_write_succeeds() -> None:
    """A failed write is re-raised and latched (logged once per run); the next success clears it."""
    latch = FaultLatch("/data/decisions.sqlite3")
    alarms = Alarms({"decisions": latch.current})

    def full() -> None:
        raise sqlite3.OperationalError("database or disk is full")

    with capture_logs() as logs:
        for _ in range(2):
            with pytest.raises(sqlite3.OperationalError):
                latch.guard(full)
        assert "database or disk is full" in alarms.evaluate()["decisions"]
        assert 7 == latch.guard(lambda: 7)
    assert {} == alarms.evaluate()
    stored = [e["event"] for e in logs if e["event"].startswith("store.")]
    assert (2, ["store.write_failed", "store.write_ok"]) == (latch.failures, stored)
