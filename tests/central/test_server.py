"""The CentralPlatform gRPC service in-process on 127.0.0.1:0 (insecure; mTLS is in test_devcerts): uploads
acknowledged and deduplicated, bad batches refused naming the field, statuses long-polled by revision, health."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from fundguard.central.scoring import Scorer
from fundguard.central.server import SERVICE_NAME, CentralServer, CentralSettings, create_server
from fundguard.central.standing import SUSPENDED
from fundguard.central.store import Store
from fundguard.v1 import central_pb2 as pb
from fundguard.v1 import central_pb2_grpc as pb_grpc

from .events import AGENT, DOCTOR, INSTITUTION, Today, event, upload

TODAY = date(2026, 3, 20)
SETTINGS = CentralSettings(address="127.0.0.1:0", workers=16, recheck_seconds=0.2, max_batch_bytes=1024 * 1024)


class Running:
    """A started platform on a store, and a channel to it."""

    def __init__(self, store: Store, settings: CentralSettings = SETTINGS) -> None:
        self.server: CentralServer
        self.server, self.port = create_server(store, settings, today=Today(TODAY))
        self.server.start()
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        self.stub = pb_grpc.CentralPlatformStub(self.channel)

    def close(self) -> None:
        """Close the channel, stop the server."""
        self.channel.close()
        self.server.stop(0)


@pytest.fixture
def running(db_url: str) -> Iterator[Running]:
    """A platform on this test's database (its own store: the server closes it)."""
    started = Running(Store.open(db_url))
    yield started
    started.close()


def test_upload_is_acknowledged_and_deduplicated(running: Running) -> None:
    """A batch is stored and every id acknowledged; the same batch again is all duplicates, still acknowledged."""
    request = upload([event(1), event(2), event(3, "decision")])
    first = running.stub.Upload(request, timeout=10)
    again = running.stub.Upload(request, timeout=10)
    ids = [f"{AGENT}:1", f"{AGENT}:2", f"{AGENT}:3"]
    assert (ids, 3, 0) == (list(first.stored_ids), first.new_events, first.duplicates)
    assert (ids, 0, 3) == (list(again.stored_ids), again.new_events, again.duplicates)
    assert 3 == running.server.scorer.store.count_events()


def test_concurrent_overlapping_uploads_store_each_event_once(running: Running) -> None:
    """Twelve clients at once send overlapping batches: the new counts sum to the distinct events, each once."""
    ranges = [range(start, start + 50) for start in range(0, 240, 20)]
    with ThreadPoolExecutor(len(ranges)) as pool:
        acks = list(pool.map(lambda r: running.stub.Upload(upload(event(s) for s in r), timeout=30), ranges))
    distinct = {s for r in ranges for s in r}
    assert len(distinct) == sum(a.new_events for a in acks)
    assert len(distinct) == running.server.scorer.store.count_events()
    assert all(len(a.stored_ids) == 50 for a in acks)


def _field_of(error: grpc.RpcError) -> str:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            return str(bad.field_violations[0].field)
    raise AssertionError("no BadRequest detail")


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (upload([event(1)], count=5), "count"),
        (pb.UploadBatch(agent_id=AGENT, institution_code=INSTITUTION, events_gzip=b"garbage", count=1), "events_gzip"),
        (
            pb.UploadBatch(
                agent_id=AGENT, institution_code=INSTITUTION, events_gzip=gzip.compress(b"\0" * (4 * 1024 * 1024))
            ),
            "events_gzip",
        ),
        (upload([event(1, agent="agent-2")]), "events[0].event_id"),
        (upload([event(1)], institution="X"), "institution_code"),
    ],
    ids=["count", "not gzip", "gzip bomb", "foreign event id", "institution"],
)
def test_bad_batches_are_invalid_argument_naming_the_field(
    running: Running, request_: pb.UploadBatch, field: str
) -> None:
    """INVALID_ARGUMENT with a google.rpc.BadRequest naming the field; nothing is stored."""
    with pytest.raises(grpc.RpcError) as caught:
        running.stub.Upload(request_, timeout=10)
    error = caught.value
    assert grpc.StatusCode.INVALID_ARGUMENT == error.code()  # type: ignore[attr-defined]
    assert field == _field_of(error)
    assert 0 == running.server.scorer.store.count_events()


def test_statuses_without_wait_answer_at_once(running: Running) -> None:
    """wait_seconds 0 and nothing newer: the same revision, no statuses."""
    reply = running.stub.PractitionerStatuses(pb.StatusesRequest(agent_id=AGENT, since_revision=0), timeout=10)
    assert (0, []) == (reply.revision, list(reply.statuses))


def test_long_poll_returns_the_change_made_while_waiting(running: Running) -> None:
    """A poll waiting up to 30 s returns once a sanction suspends the doctor: the new revision and the status
    (until date, points, year, reason). The future's 10 s timeout only guards against a hang."""
    request = pb.StatusesRequest(agent_id=AGENT, institution_code=INSTITUTION, since_revision=0, wait_seconds=30)
    with ThreadPoolExecutor(1) as pool:
        poll = pool.submit(running.stub.PractitionerStatuses, request, timeout=60)
        threading.Event().wait(0.2)  # let the poll start waiting (the result does not depend on it)
        running.server.scorer.apply_sanction(DOCTOR, points=9, at=date(2026, 3, 10))
        reply = poll.result(timeout=10)
    status = reply.statuses[0]
    expected = (1, DOCTOR, SUSPENDED, "2026-06-10", 9, 2026)
    assert expected == (
        reply.revision,
        status.practitioner_code,
        status.status,
        status.until,
        status.points,
        status.year,
    )
    assert "暂停医保支付资格" in status.reason


def test_long_poll_sees_a_sanction_from_another_process(running: Running, db_url: str) -> None:
    """`fundguard-central sanction` writes through its own store: the waiting poll finds it on a recheck."""
    other = Store.open(db_url)
    request = pb.StatusesRequest(agent_id=AGENT, since_revision=0, wait_seconds=30)
    with ThreadPoolExecutor(1) as pool:
        poll = pool.submit(running.stub.PractitionerStatuses, request, timeout=60)
        Scorer(other, today=Today(TODAY)).apply_sanction(DOCTOR, points=3)
        reply = poll.result(timeout=10)
    other.close()
    assert (1, [DOCTOR]) == (reply.revision, [s.practitioner_code for s in reply.statuses])


def test_wait_is_capped_by_the_server(db_url: str) -> None:
    """wait_seconds beyond the server's cap: the poll ends at the cap with no statuses and the same revision."""
    running = Running(Store.open(db_url), CentralSettings(address="127.0.0.1:0", max_wait_seconds=1))
    try:
        reply = running.stub.PractitionerStatuses(pb.StatusesRequest(since_revision=0, wait_seconds=3600), timeout=30)
    finally:
        running.close()
    assert (0, []) == (reply.revision, list(reply.statuses))


def test_since_ahead_of_the_store_gets_a_full_snapshot(running: Running) -> None:
    """An agent with a revision the store never reached (database replaced) gets every standing, lower revision."""
    running.server.scorer.apply_sanction(DOCTOR, points=2)
    reply = running.stub.PractitionerStatuses(pb.StatusesRequest(since_revision=99, wait_seconds=5), timeout=10)
    assert (1, [DOCTOR]) == (reply.revision, [s.practitioner_code for s in reply.statuses])


def test_since_a_revision_only_later_changes(running: Running) -> None:
    """since_revision N returns only standings changed after N."""
    scorer = running.server.scorer
    scorer.apply_sanction(DOCTOR, points=2)
    scorer.apply_sanction("D110108000002", points=2)
    reply = running.stub.PractitionerStatuses(pb.StatusesRequest(since_revision=1), timeout=10)
    assert (2, ["D110108000002"]) == (reply.revision, [s.practitioner_code for s in reply.statuses])


def test_health_is_serving(running: Running) -> None:
    """The standard health service answers SERVING for the server and for CentralPlatform."""
    health = health_pb2_grpc.HealthStub(running.channel)
    for service in ("", SERVICE_NAME):
        reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
        assert health_pb2.HealthCheckResponse.SERVING == reply.status


def test_a_taken_port_is_refused_naming_listen(running: Running, db_url: str) -> None:
    """A second platform on the same port cannot bind: ValueError naming `listen`."""
    second = Store.open(db_url)
    try:
        with pytest.raises(ValueError, match=r"^listen: "):
            create_server(second, CentralSettings(address=f"127.0.0.1:{running.port}"))
    finally:
        second.close()


def test_start_publishes_what_time_changed_while_stopped(db_url: str) -> None:
    """A suspension that ended while the platform was down is published (a new revision) when it starts."""
    store = Store.open(db_url)
    Scorer(store, today=Today(date(2025, 12, 1))).apply_sanction(DOCTOR, points=9)
    store.close()
    running = Running(Store.open(db_url))  # today is 2026-03-20: the suspension ended on 2026-03-01
    try:
        reply = running.stub.PractitionerStatuses(pb.StatusesRequest(since_revision=1), timeout=10)
    finally:
        running.close()
    assert (2, [(DOCTOR, "normal", 0)]) == (
        reply.revision,
        [(s.practitioner_code, s.status, s.points) for s in reply.statuses],
    )
