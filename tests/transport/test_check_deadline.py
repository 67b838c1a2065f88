"""A Check that cannot finish in time answers CHECK_UNAVAILABLE (with the reason) within the budget + 50 ms, never
an empty success; the caller's own deadline is honoured the same way; a normal check is CHECK_OK. The workstation's
alert stream shows the unavailable check too (the pop-up page reads the same stream)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import grpc
import pytest

from fundguard.agent.config import GrpcSettings
from fundguard.agent.engine.model import CheckResult
from fundguard.agent.intake import ParsedRequest
from fundguard.agent.kb import KbStore
from fundguard.agent.service import CheckService
from fundguard.agent.stream import AlertBus
from fundguard.v1 import compliance_pb2 as pb

from .test_grpc_server import Running, fixed_clock, iud_request

BUDGET_MS = 200
SLOW_S = 1.0


class SlowDown:
    """Test hook: an observer (run inside the check) that makes the evaluation take SLOW_S while `on` is set."""

    def __init__(self) -> None:
        self.on = threading.Event()

    def __call__(self, _parsed: ParsedRequest, _result: CheckResult) -> None:
        if self.on.is_set():
            time.sleep(SLOW_S)


@pytest.fixture(scope="module")
def slow() -> SlowDown:
    return SlowDown()


@pytest.fixture(scope="module")
def agent(slow: SlowDown) -> Iterator[Running]:
    kb_store = KbStore()
    from fundguard.knowledge_base import default_bundle_path

    kb_store.load(default_bundle_path())
    bus = AlertBus()
    service = CheckService(kb_store, clock=fixed_clock, observers=(slow,), on_unavailable=(bus.publish_unavailable,))
    running = Running(service, GrpcSettings(address="127.0.0.1:0", check_budget_ms=BUDGET_MS), bus=bus)
    yield running
    running.close()


def timed(running: Running, timeout: float = 10.0) -> tuple[pb.CheckResponse, float]:
    started = time.monotonic()
    response = running.stub.Check(iud_request(), timeout=timeout)
    return response, time.monotonic() - started


def test_a_normal_check_is_ok(agent: Running, slow: SlowDown) -> None:
    """Within the budget: CHECK_OK, alerts, no reason."""
    slow.on.clear()
    response, _ = timed(agent)
    assert (pb.CHECK_OK, "", True) == (response.status, response.status_reason, len(response.alerts) > 0)


def test_over_budget_is_check_unavailable_within_budget_plus_50_ms(agent: Running, slow: SlowDown) -> None:
    """The evaluation is made to take 1 s; the answer comes at the 200 ms budget: CHECK_UNAVAILABLE, no alerts,
    the reason naming the budget; the agent answers normally again afterwards."""
    slow.on.set()
    try:
        response, elapsed = timed(agent)
    finally:
        slow.on.clear()
    expected = (pb.CHECK_UNAVAILABLE, 0, True, True)
    actual = (response.status, len(response.alerts), "check budget (200 ms)" in response.status_reason,
              elapsed < (BUDGET_MS + 50) / 1000)  # fmt: skip
    assert expected == actual, f"answered after {elapsed * 1000:.0f} ms"
    time.sleep(SLOW_S)  # let the abandoned check finish
    assert pb.CHECK_OK == timed(agent)[0].status


def test_the_workstation_stream_shows_the_unavailable_check(agent: Running, slow: SlowDown) -> None:
    """Over budget, the subscriber of the request's workstation gets a `CheckUnavailable` event naming the
    encounter and the reason; another workstation's subscriber gets nothing of it."""
    assert agent.bus is not None
    slow.on.clear()
    agent.stub.Check(iud_request(workstation_id="WS-WARM"), timeout=10)  # alerts: the bus's cursor is past 0
    since = agent.bus.last_cursor  # subscribing from it: no race with the subscription's start
    mine = agent.stub.SubscribeAlerts(pb.SubscribeAlertsRequest(workstation_id="WS-SLOW", cursor=since), timeout=5)
    other = agent.stub.SubscribeAlerts(pb.SubscribeAlertsRequest(workstation_id="WS-ELSE", cursor=since), timeout=1)
    slow.on.set()
    try:
        response = agent.stub.Check(iud_request(workstation_id="WS-SLOW"), timeout=10)
    finally:
        slow.on.clear()
    event = next(mine)
    mine.cancel()
    body = (event.WhichOneof("body"), event.unavailable.mdtrt_id, event.unavailable.reason, event.workstation_id)
    expected = (pb.CHECK_UNAVAILABLE, ("unavailable", "E-0001", response.status_reason, "WS-SLOW"))
    assert expected == (response.status, body)
    with pytest.raises(grpc.RpcError) as nothing:
        next(other)
    assert grpc.StatusCode.DEADLINE_EXCEEDED == nothing.value.code()
    time.sleep(SLOW_S)


def test_callers_deadline_shorter_than_the_budget_is_honoured(agent: Running, slow: SlowDown) -> None:
    """A caller giving 100 ms gets CHECK_UNAVAILABLE naming its deadline before the deadline expires."""
    slow.on.set()
    try:
        response, elapsed = timed(agent, timeout=0.1)
    finally:
        slow.on.clear()
    assert (pb.CHECK_UNAVAILABLE, True) == (response.status, "caller's deadline" in response.status_reason)
    assert elapsed < 0.1
    time.sleep(SLOW_S)


def test_budget_zero_runs_inline_and_waits(slow: SlowDown) -> None:
    """check_budget_ms = 0 turns the budget off: the slow check is waited for and answered CHECK_OK."""
    from fundguard.knowledge_base import default_bundle_path

    kb_store = KbStore()
    kb_store.load(default_bundle_path())
    running = Running(CheckService(kb_store, clock=fixed_clock, observers=(slow,)),
                      GrpcSettings(address="127.0.0.1:0", check_budget_ms=0))  # fmt: skip
    slow.on.set()
    try:
        response, elapsed = timed(running)
    finally:
        slow.on.clear()
        running.close()
    assert (pb.CHECK_OK, True) == (response.status, elapsed >= SLOW_S)


class Where:
    """Test hook: an observer noting the thread each check ran on."""

    def __init__(self) -> None:
        self.threads: list[str] = []

    def __call__(self, _parsed: ParsedRequest, _result: CheckResult) -> None:
        self.threads.append(threading.current_thread().name)


def test_a_memory_only_check_runs_on_the_loop_one_that_may_block_on_the_pool() -> None:
    """With only quick observers (memory: a queue put, the alert stream) the check is answered on the event-loop
    thread, no hand-off; add one observer that may block (an outbox commit) and every check runs on the check pool,
    where the budget can give up on it."""
    from fundguard.knowledge_base import default_bundle_path

    kb_store = KbStore()
    kb_store.load(default_bundle_path())
    settings = GrpcSettings(address="127.0.0.1:0", check_budget_ms=BUDGET_MS)
    threads = []
    for blocking in (False, True):
        where = Where()
        service = (CheckService(kb_store, clock=fixed_clock, observers=(where,)) if blocking
                   else CheckService(kb_store, clock=fixed_clock, quick_observers=(where,)))  # fmt: skip
        running = Running(service, settings)
        try:
            assert pb.CHECK_OK == running.stub.Check(iud_request(), timeout=10).status
        finally:
            running.close()
        threads.append(where.threads[0].split("_")[0])
    assert ["fundguard-grpc-loop", "fundguard-check"] == threads
