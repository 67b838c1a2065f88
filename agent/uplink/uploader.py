"""The uploader: moves the outbox to the central platform on its own thread, at least once, in order, with backoff.

One batch at a time: the oldest `batch_size` events → `EventList` → gzip → `send(UploadBatch)` (in the agent, the
generated `CentralPlatformStub.Upload` with a deadline) → the events the ack lists as stored are deleted. The
central stores by `event_id`, so a batch sent again after a lost ack is stored once (delivery is at least once,
storage exactly once). Only one batch is in flight and batches follow the sequence, so per encounter the central
receives events in the order they happened.

A failed send (central down, deadline, refusal, an ack storing nothing) waits before the next try: exponential
backoff with full jitter, `rand() × min(max_backoff, base_backoff × 2^(failures-1))`, reset by the first success.
Clock, sleep and random source are injected, so a test can play a day of outage without sleeping. Waiting or
draining, the thread checkpoints the outbox about every `maintain_seconds` (the check path never does).

Counters: `sent` (events the central acknowledged), `retried` (events sent again: after a failure or a lost ack),
`failures` (failed sends). `metrics()` adds the outbox's depth, oldest age, bytes, refused and alarm.
"""

from __future__ import annotations

import gzip
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import grpc
import structlog

from fundguard.v1 import central_pb2 as pb
from fundguard.v1 import central_pb2_grpc as pb_grpc

from .outbox import Outbox
from .tls import channel

__all__ = ["Send", "UplinkMetrics", "UploadRefused", "Uploader", "channel", "grpc_send"]

Send = Callable[[pb.UploadBatch], pb.UploadAck]
GZIP_LEVEL = 6

_log = structlog.get_logger("fundguard.agent.uplink")


class UploadRefused(Exception):
    """The central answered, but stored none of the batch."""


@dataclass(frozen=True, slots=True)
class UplinkMetrics:
    """Outbox and uploader together: what an operator watches."""

    depth: int
    oldest_age_s: float
    bytes: int
    max_bytes: int
    sent: int
    retried: int
    failures: int
    refused: int
    refusing: bool
    alarm: bool
    backoff_s: float  # the wait in force after the last failure (0 while the central answers)

    @property
    def state(self) -> str:
        """ERROR while events are refused, WARN on the disk alarm or while the central fails, else OK."""
        if self.refusing:
            return "ERROR"
        return "WARN" if self.alarm or self.backoff_s else "OK"


def grpc_send(chan: grpc.Channel, timeout: float) -> Send:
    """`CentralPlatform.Upload` over `chan`, each call with a deadline of `timeout` seconds."""
    stub = pb_grpc.CentralPlatformStub(chan)

    def send(batch: pb.UploadBatch) -> pb.UploadAck:
        ack: pb.UploadAck = stub.Upload(batch, timeout=timeout)
        return ack

    return send


class Uploader:
    """Uploads `outbox` through `send`; `start()`/`stop()` run it on a daemon thread, `drain_once()` is one batch."""

    name = "uplink"

    def __init__(
        self,
        outbox: Outbox,
        send: Send,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] | None = None,
        rand: Callable[[], float] = random.random,
        *,
        institution_code: str,
        address: str = "",
        batch_size: int = 500,
        base_backoff: float = 1.0,
        max_backoff: float = 300.0,
        idle_seconds: float = 1.0,
        maintain_seconds: float = 1.0,
    ) -> None:
        self._outbox = outbox
        self._send = send
        self._clock = clock
        self._stopping = threading.Event()
        self._sleep = sleep if sleep is not None else self._stopping.wait
        self._rand = rand
        self._institution = institution_code
        self._address = address
        self._batch = batch_size
        self._base = base_backoff
        self._max = max_backoff
        self._idle = idle_seconds
        self._maintain_every = maintain_seconds
        self._worker: threading.Thread | None = None
        self._maintained_at = -math.inf
        self._attempted_upto = 0  # highest seq ever sent: a seq at or below it is a re-send
        self._streak = 0  # consecutive failures
        self._last_failure = ""
        self.backoff_s = 0.0
        self.sent = self.retried = self.failures = 0

    @property
    def address(self) -> str:
        """The central platform (HOST:PORT)."""
        return self._address

    def drain_once(self) -> int:
        """Send the oldest batch and delete what the central stored; how many events were acknowledged (0: the
        outbox is empty). A failed send raises (grpc.RpcError, UploadRefused, …) and counts in `failures`."""
        events = self._outbox.take(self._batch)
        if not events:
            return 0
        again = sum(1 for e in events if e.seq <= self._attempted_upto)
        self.retried += again
        self._attempted_upto = max(self._attempted_upto, events[-1].seq)
        listed = pb.EventList(
            events=[
                pb.Event(event_id=e.event_id, kind=e.kind, occurred_at=e.occurred_at, mdtrt_id=e.mdtrt_id,
                         practitioner_code=e.practitioner_code, seq=e.seq, payload_json=e.payload_json)
                for e in events
            ]
        )  # fmt: skip
        batch = pb.UploadBatch(
            agent_id=self._outbox.agent_id,
            institution_code=self._institution,
            events_gzip=gzip.compress(listed.SerializeToString(), GZIP_LEVEL, mtime=0),
            count=len(events),
        )
        try:
            ack = self._send(batch)
            ours = {e.event_id for e in events}
            stored = [i for i in ack.stored_ids if i in ours]
            if not stored:
                raise UploadRefused(f"the central stored none of {len(events)} events")
        except Exception:
            self.failures += 1
            raise
        removed = self._outbox.delete(stored)
        self.sent += removed
        return len(stored)

    def step(self) -> float:
        """One attempt: seconds to wait before the next (0: more is waiting; the backoff after a failure)."""
        try:
            done = self.drain_once()
        except Exception as exc:  # the central is down or refused: wait and send the same events again
            self._streak += 1
            cap = min(self._max, self._base * 2 ** min(self._streak - 1, 62))
            self.backoff_s = self._rand() * cap
            code = getattr(exc, "code", None)  # a grpc.RpcError from a call is also a grpc.Call
            reason = str(code().name) if isinstance(exc, grpc.RpcError) and callable(code) else str(exc)
            self._last_failure = reason
            _log.warning("uplink.upload_failed", reason=reason, failures=self._streak, backoff_s=self.backoff_s,
                         depth=self._outbox.depth)  # fmt: skip
            return self.backoff_s
        if self._streak:
            _log.info("uplink.central_back", after_failures=self._streak, depth=self._outbox.depth)
            self._streak = 0
            self.backoff_s = 0.0
        return 0.0 if done >= self._batch else self._idle

    def run(self) -> None:
        """The loop `start()` runs on the thread (tests may call it directly with a sleep that stops it)."""
        while not self._stopping.is_set():
            self._maintain()
            self._wait(self.step())

    def _wait(self, delay: float) -> None:
        """Wait `delay` seconds (or until stopped), checkpointing the outbox every `maintain_seconds`."""
        deadline = self._clock() + delay
        while not self._stopping.is_set():
            left = deadline - self._clock()
            if left <= 0:
                return
            self._sleep(min(left, self._maintain_every))
            self._maintain()

    def _maintain(self) -> None:
        """Checkpoint the outbox about every `maintain_seconds` (a checkpoint fsyncs the file), sooner when its WAL
        passed its allowance (deleting a fast-draining backlog writes pages quickly)."""
        now = self._clock()
        if now - self._maintained_at < self._maintain_every and not self._outbox.checkpoint_due:
            return
        self._maintained_at = now
        try:
            self._outbox.maintain()
        except Exception as exc:  # a checkpoint that fails now is retried next time; uploads go on
            _log.warning("uplink.maintain_failed", reason=str(exc))

    def start(self) -> None:
        """Upload on a daemon thread until `stop()`."""
        self._stopping.clear()
        self._worker = threading.Thread(target=self.run, name="fundguard-uplink", daemon=True)
        self._worker.start()
        _log.info("uplink.started", central=self._address, depth=self._outbox.depth)

    def stop(self, timeout: float = 35.0) -> None:
        """Stop after the send in flight (at most its deadline); what is not acknowledged stays in the outbox."""
        self._stopping.set()
        if self._worker is not None:
            self._worker.join(timeout)
        self._worker = None

    def trouble(self) -> str | None:
        """While sends fail (the uploader backs off), why the last one did (an alarm condition); else None."""
        return f"{self._streak} failed uploads to {self._address}: {self._last_failure}" if self._streak else None

    def metrics(self) -> UplinkMetrics:
        """Depth, oldest age (s), bytes, sent, retried, failures, refused, alarm, current backoff."""
        m = self._outbox.metrics()
        return UplinkMetrics(m.depth, m.oldest_age_s, m.bytes, m.max_bytes, self.sent, self.retried, self.failures,
                             m.refused, m.refusing, m.alarm, self.backoff_s)  # fmt: skip
