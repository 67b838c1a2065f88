"""A store file locked by another process: a connection outside the agent holds a write lock (`BEGIN EXCLUSIVE`, as a
tool or a stuck backup would) on one store file while the agent serves.

Checks are still answered with their alerts and without waiting on the lock (the outbox gives up on it after a
tenth of a second: the check's event is refused and counted, never silently dropped); a write that needs the locked
file fails to the caller once the store's busy timeout has passed (not acknowledged, so the HIS sends it again) and
raises that store's alarm. When the lock is released the same writes succeed, the alarm clears, and what was
acknowledged before is still there, once. The trace ledger's and history's busy timeouts (30 s) are shortened for
the test; the decision store waits SQLite's default 5 s.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from fundguard.agent.history import schema as history_schema
from fundguard.agent.trace import schema as trace_schema
from fundguard.v1 import compliance_pb2 as pb
from fundguard.v1 import compliance_pb2_grpc as pb_grpc

from .conftest import Running, dispense, male_iud, rpc_code, settlement
from .test_disk_full import _feedback, _inbound, wait_for

pytestmark = pytest.mark.slow
Write = Callable[[pb_grpc.ComplianceAgentStub, int], object]


def _feedback_write(stub: pb_grpc.ComplianceAgentStub, n: int) -> object:
    jr_id = stub.Check(male_iud(100 + n), timeout=10).alerts[0].jr_id
    return stub.Feedback(_feedback(jr_id), timeout=15)


def _settle(stub: pb_grpc.ComplianceAgentStub, n: int) -> object:
    return stub.ConfirmSettlement(settlement(n), timeout=15)


def _dispense(stub: pb_grpc.ComplianceAgentStub, n: int) -> object:
    return stub.RecordDispense(dispense(n), timeout=15)


CASES = {  # store file → (alarm, a write that needs it)
    "decisions.sqlite3": ("decisions", _feedback_write),
    "history.sqlite3": ("history_store", _settle),
    "trace.sqlite3": ("trace_ledger", _dispense),
}


@pytest.fixture(autouse=True)
def short_busy_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ledger and history give up on a lock after half a second instead of 30."""
    monkeypatch.setattr(trace_schema, "BUSY_TIMEOUT_S", 0.5)
    monkeypatch.setattr(history_schema, "BUSY_TIMEOUT_S", 0.5)


def _lock(path: Path) -> sqlite3.Connection:
    holder = sqlite3.connect(path, isolation_level=None, timeout=0)
    holder.execute("BEGIN EXCLUSIVE")
    return holder


def _answered(response: pb.CheckResponse) -> bool:
    return response.status != pb.CHECK_UNAVAILABLE and len(response.alerts) >= 1


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_locked_store_refuses_its_writes_raises_its_alarm_and_recovers(
    tmp_path: Path, start_agent: Callable[..., Running], name: str
) -> None:
    """Lock one store: checks answered; its write ends in an error and its alarm is raised; unlock: the write
    succeeds, the alarm clears, the earlier write is still stored once."""
    alarm, write = CASES[name]
    run = start_agent(tmp_path / "data", **{"health.min_free_mb": 0})
    stub, agent = run.stub, run.agent
    assert agent.alarms is not None
    assert 4 == stub.ImportInbound(_inbound(1, 2, 3, 4), timeout=10).added
    write(stub, 1)  # acknowledged before the fault

    holder = _lock(tmp_path / "data" / name)
    try:
        assert all(_answered(stub.Check(male_iud(n), timeout=10)) for n in range(10, 13))
        assert grpc.StatusCode.OK != rpc_code(lambda: write(stub, 2))
        assert alarm in agent.alarms.evaluate()
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    write(stub, 2)  # the same write, sent again, succeeds
    wait_for(lambda: alarm not in agent.alarms.evaluate(), 10, f"{alarm} cleared")
    if name == "history.sqlite3":
        assert not stub.ConfirmSettlement(settlement(1), timeout=10).stored
    if name == "trace.sqlite3":
        assert stub.RecordDispense(dispense(1), timeout=10).repeat


def test_a_locked_outbox_does_not_hold_up_checks_and_counts_what_it_refuses(
    tmp_path: Path, start_agent: Callable[..., Running]
) -> None:
    """Lock the outbox: each check is answered (its event refused and counted, `outbox_refusing` raised) within a
    short call deadline rather than after SQLite's former 30 s wait; unlock: events are accepted again, the alarm
    clears, and every accepted event reaches the central once."""
    run = start_agent(tmp_path / "data", **{"health.min_free_mb": 0})
    stub, agent = run.stub, run.agent
    assert agent.alarms is not None and agent.uplink is not None
    before = [stub.Check(male_iud(n), timeout=10) for n in range(3)]
    wait_for(lambda: agent.uplink is not None and agent.uplink.outbox.depth == 0, 20, "first events uploaded")

    holder = _lock(tmp_path / "data" / "outbox.sqlite3")
    try:
        during = [stub.Check(male_iud(n), timeout=3) for n in range(10, 14)]
        assert all(_answered(r) for r in during)
        assert 4 <= agent.uplink.outbox.refused
        assert "outbox_refusing" in agent.alarms.evaluate()
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    after = [stub.Check(male_iud(n), timeout=10) for n in range(20, 23)]
    assert "outbox_refusing" not in agent.alarms.evaluate()
    wait_for(lambda: agent.uplink is not None and agent.uplink.outbox.depth == 0, 20, "backlog uploaded")
    time.sleep(0.2)
    stored = [p["judgement_id"] for p in run.central.payloads() if "alerts" in p]
    assert {r.judgement_id for r in [*before, *after]} == set(stored)  # the refused ones are counted, not sent
    assert len(stored) == len(set(stored))
