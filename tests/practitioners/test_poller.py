"""The status poller against a fake central platform (the generated servicer, in process on port 0): a status that
changes while the agent long-polls is in the cache within seconds and blocks the doctor's next order; a restarted
agent asks from its persisted revision; stop() cancels the call in flight; failures back off with jitter between
the bounds and the status report says what the agent enforces meanwhile."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import grpc
import pytest

from fundguard.agent.engine import CompiledKB, check
from fundguard.agent.engine.model import CheckRequest, Encounter, OrderLine, Patient
from fundguard.agent.engine.practitioner_model import Qualification
from fundguard.agent.practitioners import CACHE_FILE, StatusCache, StatusPoller, central_call
from fundguard.v1.central_pb2 import PractitionerStatus, StatusesRequest, StatusesResponse, UploadAck, UploadBatch
from fundguard.v1.central_pb2_grpc import CentralPlatformServicer, add_CentralPlatformServicer_to_server

DOC = "D110101000001"
TODAY = date(2026, 3, 2)


class FakeCentral(CentralPlatformServicer):
    """Statuses by revision; PractitionerStatuses answers the changes after `since_revision`, holding the call up
    to `wait_seconds` while there are none. Records every request and whether a held call was cancelled."""

    def __init__(self) -> None:
        self.changes: list[tuple[int, PractitionerStatus]] = []
        self.revision = 0
        self.requests: list[StatusesRequest] = []
        self.holding = threading.Event()  # a call is waiting for a change
        self.cancelled = threading.Event()
        self._cond = threading.Condition()

    def set_status(self, code: str, status: str, until: str = "") -> None:
        """The bureau decides: a new revision with this practitioner's status."""
        with self._cond:
            self.revision += 1
            self.changes.append((self.revision, PractitionerStatus(practitioner_code=code, status=status, until=until)))
            self._cond.notify_all()

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def Upload(self, request: UploadBatch, context: grpc.ServicerContext) -> UploadAck:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "not in this fake")
        raise AssertionError  # abort raises

    def PractitionerStatuses(self, request: StatusesRequest, context: grpc.ServicerContext) -> StatusesResponse:
        self.requests.append(request)
        context.add_callback(self._wake)
        since = request.since_revision
        with self._cond:
            if self.revision <= since:
                self.holding.set()
                self._cond.wait_for(lambda: self.revision > since or not context.is_active(),
                                    timeout=min(request.wait_seconds, 30))  # fmt: skip
                self.holding.clear()
            if not context.is_active():
                self.cancelled.set()
            newer = [status for rev, status in self.changes if rev > since]
            return StatusesResponse(revision=max(self.revision, since), statuses=newer)


@pytest.fixture
def central() -> Iterator[tuple[FakeCentral, grpc.Channel]]:
    fake = FakeCentral()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    add_CentralPlatformServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    yield fake, channel
    channel.close()
    server.stop(0).wait()


def until(condition: Callable[[], bool], within: float) -> bool:
    """Whether `condition` holds within `within` seconds (checked every 10 ms)."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def blocks(kb: CompiledKB, cache: StatusCache, code: str) -> bool:
    """Whether the engine, given the cache's current snapshot, blocks the next order by `code`."""
    line = OrderLine("1", "XA11DAW036A001010104127", Decimal(1), Decimal(5), Decimal(5), drord_dr_codg=code)
    request = CheckRequest("1", Patient("P1", "1", date(1970, 1, 1)), Encounter("E1", med_type="11", orders=(line,)))
    alerts = check(request, kb, TODAY, "J", practitioners=cache.facts()).alerts
    return any(a.rule_id == "FG-PRACT-SUSPENDED" for a in alerts)


def poller(channel: grpc.Channel, cache: StatusCache, **kw: object) -> StatusPoller:
    return StatusPoller(central_call(channel), cache, agent_id="agent-1", institution_code="H11010100001",
                        target="central", **kw)  # type: ignore[arg-type]  # fmt: skip


def test_a_suspension_decided_during_the_long_poll_reaches_the_cache_within_seconds(
    central: tuple[FakeCentral, grpc.Channel], tmp_path: Path, default_kb: CompiledKB
) -> None:
    """The agent syncs, then waits in a long poll; the bureau suspends a doctor: the held call answers, the cache
    has the suspension in under 2 s and the doctor's next order is blocked; lifting it unblocks him the same way."""
    fake, channel = central
    fake.set_status("N440300000042", "warned")
    cache = StatusCache(tmp_path / CACHE_FILE)
    running = poller(channel, cache)
    running.start()
    try:
        assert until(fake.holding.is_set, within=5), "the agent never long-polled"
        assert (1, False) == (cache.revision, blocks(default_kb, cache, DOC))
        fake.set_status(DOC, "suspended", "2026-04-01")
        assert until(lambda: cache.get(DOC) is not None, within=2.0)
        assert (Qualification("suspended", date(2026, 4, 1)), True) == (cache.get(DOC), blocks(default_kb, cache, DOC))
        fake.set_status(DOC, "normal")
        assert until(lambda: not blocks(default_kb, cache, DOC), within=2.0)
    finally:
        running.stop()
    firsts = [(r.since_revision, r.agent_id, r.institution_code, r.wait_seconds) for r in fake.requests[:3]]
    assert [(0, "agent-1", "H11010100001", 30), (1, "agent-1", "H11010100001", 30),
            (2, "agent-1", "H11010100001", 30)] == firsts  # fmt: skip
    assert ("OK", 3, 0) == (running.status().state, running.status().revision, running.status().failures)


def test_stop_cancels_the_long_poll_in_flight(central: tuple[FakeCentral, grpc.Channel]) -> None:
    """A call held by the central platform is cancelled by stop(), which returns with the thread ended."""
    fake, channel = central
    running = poller(channel, StatusCache(), wait_seconds=30)
    running.start()
    assert until(fake.holding.is_set, within=5)
    running.stop()
    assert fake.cancelled.wait(5)
    assert 0 == running.failures  # a cancellation at stop is no failure


def test_a_restarted_agent_asks_from_its_persisted_revision(
    central: tuple[FakeCentral, grpc.Channel], tmp_path: Path, default_kb: CompiledKB
) -> None:
    """After a restart the cache enforces what it had (revision 2) and the first request asks for changes after 2."""
    fake, channel = central
    path = tmp_path / CACHE_FILE
    fake.set_status(DOC, "terminated")
    fake.set_status("N440300000042", "warned")
    first = StatusCache(path)
    assert poller(channel, first, wait_seconds=0).poll_once()
    restarted = StatusCache(path)
    assert (2, True) == (restarted.revision, blocks(default_kb, restarted, DOC))
    fake.set_status(DOC, "normal")
    assert poller(channel, restarted, wait_seconds=0).poll_once()
    assert ([0, 2], 3, False) == ([r.since_revision for r in fake.requests], restarted.revision,
                                  blocks(default_kb, restarted, DOC))  # fmt: skip


class Unavailable(grpc.RpcError):
    """What a call to an unreachable central platform raises."""

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNAVAILABLE

    def details(self) -> str:
        return "connection refused"


class FlakyCall:
    """A StatusCall failing `failures` times, then answering `response` (as a completed future)."""

    def __init__(self, failures: int, response: StatusesResponse) -> None:
        self.failures = failures
        self.response = response

    def __call__(self, request: StatusesRequest, timeout: float | None = None) -> futures.Future[StatusesResponse]:
        done: futures.Future[StatusesResponse] = futures.Future()
        if self.failures:
            self.failures -= 1
            done.set_exception(Unavailable())
        else:
            done.set_result(self.response)
        return done


def test_failures_back_off_and_the_status_says_what_is_enforced() -> None:
    """Never synced and failing: ERROR; after an answer and new failures: WARN (enforcing the last revision);
    answered again: OK. Backoff doubles from the minimum up to the maximum, jittered within its upper half."""
    cache = StatusCache()
    call = FlakyCall(2, StatusesResponse(revision=4, statuses=[PractitionerStatus(practitioner_code=DOC,
                                                                                  status="terminated")]))  # fmt: skip
    jitter = [1.0]
    running = StatusPoller(call, cache, agent_id="a", backoff_min=2, backoff_max=60, rand=lambda: jitter[0],
                           clock=lambda: datetime(2026, 3, 2, 9, 0))  # fmt: skip
    assert "NOT_READY" == running.status().state
    assert (False, False) == (running.poll_once(), running.poll_once())
    status = running.status()
    assert ("ERROR", 2, "UNAVAILABLE: connection refused") == (status.state, status.failures,
                                                              status.message.split("(")[1].split(")")[0])  # fmt: skip
    assert 4.0 == running.next_backoff()
    jitter[0] = 0.0
    assert 2.0 == running.next_backoff()
    assert running.poll_once()
    assert ("OK", 4, "2026-03-02T09:00:00") == (running.status().state, cache.revision, running.status().last_ok_at)
    call.failures = 8
    for _ in range(8):
        running.poll_once()
    jitter[0] = 1.0
    assert ("WARN", 60.0) == (running.status().state, running.next_backoff())
    jitter[0] = 0.0
    assert 30.0 == running.next_backoff()


def test_an_unreachable_central_is_a_counted_failure(tmp_path: Path) -> None:
    """A channel to a port nobody listens on: the call fails (UNAVAILABLE or deadline), it is counted, the cache
    keeps what it had."""
    cache = StatusCache()
    terminated = PractitionerStatus(practitioner_code=DOC, status="terminated")
    cache.apply(StatusesResponse(revision=1, statuses=[terminated]), full=True)
    with grpc.insecure_channel("127.0.0.1:1") as channel:
        running = StatusPoller(central_call(channel), cache, agent_id="a", wait_seconds=0, timeout_margin=2)
        assert running.poll_once() is False
    assert (1, 1, "WARN", Qualification("terminated")) == (running.failures, cache.revision, running.status().state,
                                                          cache.get(DOC))  # fmt: skip
