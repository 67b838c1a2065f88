"""SubscribeAlerts over gRPC on a running agent: each workstation gets only its own alerts; a subscriber that
disconnects and comes back with its cursor gets the alerts raised while it was away."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from fundguard.agent.app import Agent, build_agent
from fundguard.agent.config import load_settings
from fundguard.v1 import compliance_pb2 as pb
from fundguard.v1 import compliance_pb2_grpc as pb_grpc

from .test_grpc_server import iud_request

WAIT = 10.0


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Agent]:
    running = build_agent(load_settings(None, {"grpc.address": "127.0.0.1:0", "data.dir": tmp_path}))
    running.start()
    yield running
    running.stop(grace=0)


class Subscriber:
    """A SubscribeAlerts call read on a thread into a queue; `cancel()` disconnects."""

    def __init__(self, stub: pb_grpc.ComplianceAgentStub, **fields: Any) -> None:
        self.events: queue.Queue[pb.AlertEvent] = queue.Queue()
        self.call = stub.SubscribeAlerts(pb.SubscribeAlertsRequest(**fields))
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for event in self.call:
                self.events.put(event)
        except grpc.RpcError as err:
            assert grpc.StatusCode.CANCELLED == err.code()

    def take(self, n: int) -> list[pb.AlertEvent]:
        return [self.events.get(timeout=WAIT) for _ in range(n)]

    def cancel(self) -> None:
        self.call.cancel()
        self._thread.join(WAIT)


def check(stub: pb_grpc.ComplianceAgentStub, workstation: str, dept: str = "K-ORTHO") -> str:
    """A male patient ordered the IUD from `workstation`: one sex alert; its jr_id."""
    request = iud_request(workstation_id=workstation, dept_code=dept, service_date="2025-06-14")  # before 无码不付
    response = stub.Check(request, timeout=WAIT)
    (alert,) = [a for a in response.alerts if a.rule_name == "药品区分性别使用"]
    return alert.jr_id


def test_two_workstations_get_only_their_own_alerts(agent: Agent) -> None:
    """WS-A's console sees WS-A's alerts only, WS-B's only WS-B's, a department console sees both."""
    with grpc.insecure_channel(agent.address) as channel:
        stub = pb_grpc.ComplianceAgentStub(channel)
        cursor = _prime(stub)
        a = Subscriber(stub, workstation_id="WS-A", cursor=cursor)
        b = Subscriber(stub, workstation_id="WS-B", cursor=cursor)
        dept = Subscriber(stub, dept_code="K-ORTHO", cursor=cursor)
        sent = [("WS-A", check(stub, "WS-A")), ("WS-B", check(stub, "WS-B")), ("WS-A", check(stub, "WS-A"))]
        got_a = [(e.workstation_id, e.alert.jr_id) for e in a.take(2)]
        got_b = [(e.workstation_id, e.alert.jr_id) for e in b.take(1)]
        got_dept = [(e.workstation_id, e.alert.jr_id) for e in dept.take(3)]
        for s in (a, b, dept):
            s.cancel()
    expected = ([x for x in sent if x[0] == "WS-A"], [x for x in sent if x[0] == "WS-B"], sent)
    assert expected == (got_a, got_b, got_dept)
    assert (a.events.empty(), b.events.empty()) == (True, True)


def test_reconnect_with_cursor_gets_what_was_missed(agent: Agent) -> None:
    """A console takes one alert, disconnects; two alerts are raised; it reconnects with its cursor and gets
    exactly those two, in order, without the first again."""
    with grpc.insecure_channel(agent.address) as channel:
        stub = pb_grpc.ComplianceAgentStub(channel)
        first = Subscriber(stub, workstation_id="WS-C", cursor=_prime(stub))
        seen = check(stub, "WS-C")
        (event,) = first.take(1)
        first.cancel()
        missed = [check(stub, "WS-C"), check(stub, "WS-D"), check(stub, "WS-C")]
        again = Subscriber(stub, workstation_id="WS-C", cursor=event.cursor)
        got = [e.alert.jr_id for e in again.take(2)]
        again.cancel()
    assert (seen, [missed[0], missed[2]]) == (event.alert.jr_id, got)


def _prime(stub: pb_grpc.ComplianceAgentStub) -> int:
    """The stream's current cursor, once a probe subscription (cursor 0: from its arrival on) is live: send probe
    checks until one comes back, then read up to the last probe sent. Later subscriptions pass this cursor, so they
    get every alert after it whenever their call reaches the agent."""
    probe = Subscriber(stub, workstation_id="WS-PROBE")
    for _ in range(50):
        last = check(stub, "WS-PROBE")
        try:
            event = probe.events.get(timeout=0.2)
        except queue.Empty:
            continue
        while event.alert.jr_id != last:
            event = probe.events.get(timeout=WAIT)
        probe.cancel()
        return event.cursor
    raise AssertionError("the probe subscription never saw an alert")
