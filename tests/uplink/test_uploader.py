"""The uploader: batches gzip'd in order, acked events deleted, a batch re-sent after a lost ack stored once
(over real gRPC), partial and empty acks, exponential backoff with full jitter, the thread's lifecycle, and a
simulated 24 h outage (injected time): backoff grows to its maximum, the backlog drains in sequence order when the
central returns, the disk bound refuses-and-counts, the alarm fires at its threshold."""

from __future__ import annotations

import gzip
import json
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from fundguard.agent.config import UplinkSettings
from fundguard.agent.uplink.outbox import Outbox
from fundguard.agent.uplink.tls import channel
from fundguard.agent.uplink.uploader import Uploader, UploadRefused, grpc_send
from fundguard.v1 import central_pb2 as pb

from .fake_central import CentralDown, FakeCentral, serve

T0 = datetime(2025, 6, 14, tzinfo=UTC)
AGENT, HOSPITAL = "agent-07", "H43070200001"
MIB = 1024 * 1024
DAY = 86_400.0


def outbox(tmp_path: Path, max_bytes: int = 256 * MIB, alarm_ratio: float = 0.8, clock: object = None) -> Outbox:
    """An outbox file in tmp_path."""
    now = clock if callable(clock) else (lambda: T0)
    return Outbox(tmp_path / "outbox.sqlite3", max_bytes, alarm_ratio, now, agent_id=AGENT)


def fill(box: Outbox, n: int, start: int = 0) -> list[str]:
    """Record n events over 7 encounters; their ids."""
    ids = [box.record("check", f"M{i % 7}", "D1", {"i": i}) for i in range(start, start + n)]
    assert None not in ids
    return [str(i) for i in ids]


def test_drain_once_sends_a_gzip_batch_in_order_and_deletes_what_is_stored(tmp_path: Path) -> None:
    """One batch: the oldest events in order, agent and institution named, count checked; acked ones deleted."""
    box = outbox(tmp_path)
    ids = fill(box, 12)
    central = FakeCentral()
    up = Uploader(box, central.accept, institution_code=HOSPITAL, batch_size=5)
    assert 5 == up.drain_once()
    assert ids[:5] == list(central.stored)
    assert [(AGENT, HOSPITAL, 5)] == central.batches
    first = central.stored[ids[0]]
    assert ("check", "M0", "D1", {"i": 0}) == (first.kind, first.mdtrt_id, first.practitioner_code,
                                               json.loads(first.payload_json))  # fmt: skip
    assert int(ids[0].rpartition(":")[2]) == first.seq
    assert "2025-06-14T00:00:00.000000+00:00" == first.occurred_at
    assert (5, 2, 0) == (up.drain_once(), up.drain_once(), up.drain_once())
    assert (ids, 0, 12, 0) == (list(central.stored), box.depth, up.sent, up.retried)


def test_a_batch_resent_after_a_lost_ack_is_stored_once(tmp_path: Path) -> None:
    """Over gRPC: the central stores the batch, the ack is lost (UNAVAILABLE), the agent sends it again; the
    central counts duplicates and holds each event once; the outbox is empty."""
    box = outbox(tmp_path)
    ids = fill(box, 30)
    central = FakeCentral(lose_acks=1)
    server, port = serve(central)
    try:
        settings = UplinkSettings(central=f"127.0.0.1:{port}", insecure=True)
        up = Uploader(box, grpc_send(channel(settings), 5.0), institution_code=HOSPITAL, batch_size=20,
                      rand=lambda: 0.5)  # fmt: skip
        with capture_logs() as logs:
            assert 0.5 == up.step()  # stored centrally, ack lost: wait base 1 s × jitter 0.5
        assert "UNAVAILABLE" == logs[0]["reason"]
        assert (20, 30) == (len(central.stored), box.depth)
        assert 20 == up.drain_once()  # the same 20 again: duplicates centrally, now acked
        assert 10 == up.drain_once()
        assert (ids, 0) == (list(central.stored), box.depth)
    finally:
        server.stop(0)
    assert (50, 20, 20, 1, 30) == (central.received, central.duplicates, up.retried, up.failures, up.sent)


def test_partial_and_empty_acks(tmp_path: Path) -> None:
    """Only the ids the ack lists are deleted (others are sent again); an ack storing none is a failure."""
    box = outbox(tmp_path)
    ids = fill(box, 4)
    acks = [pb.UploadAck(stored_ids=[ids[0], ids[2], "other:1"]), pb.UploadAck()]
    sent: list[list[str]] = []

    def send(batch: pb.UploadBatch) -> pb.UploadAck:
        sent.append([e.event_id for e in pb.EventList.FromString(gzip.decompress(batch.events_gzip)).events])
        return acks.pop(0)

    up = Uploader(box, send, institution_code=HOSPITAL)
    assert 2 == up.drain_once()
    assert [ids[1], ids[3]] == [e.event_id for e in box.take(10)]
    with pytest.raises(UploadRefused):
        up.drain_once()
    assert ([ids, [ids[1], ids[3]]], 1, 2, 2) == (sent, up.failures, up.retried, box.depth)


def test_backoff_is_exponential_with_full_jitter_and_resets() -> None:
    """The n-th failure in a row waits rand × min(max, base × 2^(n-1)); a success resets it."""
    box_events = [1]

    class OneEvent:
        """An outbox stub with one event that never goes away."""

        agent_id = AGENT
        depth = 1

        def take(self, _limit: int) -> list[object]:
            from fundguard.agent.uplink.outbox import OutboxEvent

            return [OutboxEvent(1, f"{AGENT}:1", "check", "t", "", "", b"{}")] if box_events else []

        def delete(self, ids: object) -> int:
            return 1

    failing = [True]

    def send(_batch: pb.UploadBatch) -> pb.UploadAck:
        if failing[0]:
            raise CentralDown("down")
        return pb.UploadAck(stored_ids=[f"{AGENT}:1"])

    draws = iter([1.0, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.25, 1.0])
    up = Uploader(OneEvent(), send, rand=lambda: next(draws), institution_code=HOSPITAL,  # type: ignore[arg-type]
                  base_backoff=1.0, max_backoff=300.0)  # fmt: skip
    waits = [up.step() for _ in range(10)]
    assert [1.0, 1.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 75.0] == waits
    failing[0] = False
    assert (1.0, 0.0) == (up.step(), up.backoff_s)  # idle wait after a success with less than a batch
    failing[0] = True
    assert 1.0 == up.step()  # starts again at base


def test_thread_uploads_what_is_recorded_and_stops(tmp_path: Path) -> None:
    """Started, the uploader sends events recorded meanwhile within about a second; stop() returns promptly."""
    box = outbox(tmp_path)
    central = FakeCentral()
    up = Uploader(box, central.accept, institution_code=HOSPITAL, idle_seconds=0.05, maintain_seconds=0.05)
    up.start()
    try:
        ids = fill(box, 50)
        deadline = time.monotonic() + 10
        while len(central.stored) < 50 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        up.stop()
    assert (ids, 0) == (list(central.stored), box.depth)
    m = up.metrics()
    assert (0, 50, 0, "OK") == (m.depth, m.sent, m.failures, m.state)


class Outage:
    """A day of traffic (`n` events, evenly spread, 1000 encounters) while the central is down, then its return;
    time is simulated: the uploader's sleep advances it and records the traffic due meanwhile."""

    def __init__(self, tmp_path: Path, n: int, max_bytes: int, alarm_ratio: float = 0.8) -> None:
        self.t = 0.0
        self.n = n
        self.next = 0
        self.box = outbox(tmp_path, max_bytes, alarm_ratio, clock=lambda: T0 + timedelta(seconds=self.t))
        self.central = FakeCentral()
        self.rand = random.Random(8)
        self.up = Uploader(self.box, self.send, lambda: self.t, self.sleep, self.rand.random,
                           institution_code=HOSPITAL, maintain_seconds=30.0)  # fmt: skip
        self.accepted: list[str] = []
        self.backoffs: list[float] = []
        self.peak_bytes = 0
        self.at_return: tuple[int, float, float] = (0, 0.0, 0.0)  # (depth, oldest age, time) when the central is back
        self.first_alarm: tuple[int, int] | None = None  # (bytes, refused) when the alarm was first seen

    def send(self, batch: pb.UploadBatch) -> pb.UploadAck:
        self.peak_bytes = max(self.peak_bytes, self.box.disk_bytes())  # also while draining (no sleep then)
        if self.t < DAY:
            raise CentralDown("central down")
        if self.at_return == (0, 0.0, 0.0):
            m = self.box.metrics()
            self.at_return = (m.depth, m.oldest_age_s, self.t)
        return self.central.accept(batch)

    def sleep(self, seconds: float) -> None:
        if self.up.failures > len(self.backoffs):
            self.backoffs.append(self.up.backoff_s)
        self.t += seconds
        while self.next < self.n and self.next * DAY / self.n <= self.t:
            i = self.next
            at = T0 + timedelta(seconds=i * DAY / self.n)
            event_id = self.box.record("check", f"M{i % 1000}", "D1", {"i": i, "pad": "x" * 200}, at)
            if event_id is not None:
                self.accepted.append(event_id)
            self.next += 1
        self.peak_bytes = max(self.peak_bytes, self.box.disk_bytes())
        if self.first_alarm is None and self.box.metrics().alarm:
            self.first_alarm = (self.box.disk_bytes(), self.box.refused)
        if self.next >= self.n and self.box.depth == 0:
            self.up.stop()


@pytest.mark.slow
def test_a_day_of_outage_backs_off_to_the_maximum_then_drains_in_order(tmp_path: Path) -> None:
    """100k events over 24 h with the central down: waits grow to 300 s with full jitter (exactly rand × cap),
    the backlog is kept whole; once the central is back everything arrives once, in sequence order."""
    sim = Outage(tmp_path, 100_000, max_bytes=256 * MIB)
    sim.up.run()
    replay = random.Random(8)
    expected = [replay.random() * min(300.0, 2.0 ** (n - 1)) for n in range(1, len(sim.backoffs) + 1)]
    assert expected == sim.backoffs
    assert len(sim.backoffs) > DAY / 300  # about one try per 150 s once at the cap
    assert max(sim.backoffs) <= 300 and max(sim.backoffs[10:]) > 250 and min(sim.backoffs[10:]) < 50
    depth, oldest, back = sim.at_return
    assert (100_000, back) == (depth, pytest.approx(oldest))  # the first event waited the whole outage
    assert DAY <= back <= DAY + 300
    stored = list(sim.central.stored.values())
    assert list(range(100_000)) == [json.loads(e.payload_json)["i"] for e in stored]
    assert sim.accepted == [e.event_id for e in stored]
    assert [e.seq for e in stored] == sorted(e.seq for e in stored)
    m = sim.up.metrics()
    assert (0, 100_000, 0, False) == (m.depth, m.sent, m.refused, m.alarm)


@pytest.mark.slow
def test_a_day_of_outage_on_a_small_disk_refuses_and_counts_past_the_bound(tmp_path: Path) -> None:
    """With 8 MiB of outbox: the alarm fires once at 80 % before anything is refused; then events are refused and
    counted, disk use never passes the bound (also while the backlog drains); what was accepted arrives, once, in
    order; the alarm clears."""
    sim = Outage(tmp_path, 40_000, max_bytes=8 * MIB)
    with capture_logs() as logs:
        sim.up.run()
    assert sim.first_alarm is not None
    alarm_bytes, refused_then = sim.first_alarm
    assert 0 == refused_then and alarm_bytes >= 0.8 * 8 * MIB
    m = sim.up.metrics()
    assert 0 < m.refused == 40_000 - len(sim.accepted)
    assert 0.9 * 8 * MIB < sim.peak_bytes <= 8 * MIB
    assert sim.accepted == list(sim.central.stored)
    events = [e["event"] for e in logs]
    assert (1, 1) == (events.count("uplink.outbox_alarm"), events.count("uplink.outbox_alarm_cleared"))
    assert (0, False, "OK") == (m.depth, m.alarm, m.state)
