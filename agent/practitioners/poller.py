"""Keeping the status cache current: a long poll of `CentralPlatform.PractitionerStatuses` on its own thread.

Each request asks for the statuses changed after the cache's revision and lets the central platform hold it up to
`wait_seconds` until something changes, so a suspension decided centrally reaches the agent within moments of the
decision (and one poll per `wait_seconds` when nothing happens). An answer is applied to the cache at once (the
next check enforces it) and the next request goes out straight away; an answer that brought nothing and came back
quicker than `idle_pause` (a central platform that does not hold requests) waits out the rest of it. A failed call
(central unreachable, TLS refused, deadline) is logged and retried after an exponential backoff with jitter,
bounded by `backoff_min` / `backoff_max`; meanwhile the cache keeps enforcing what it last knew.

The RPC goes through `call`, a `StatusCall` — in production the generated stub's `PractitionerStatuses.future`
(`central_call(channel)`) on the channel the composition root opened (mTLS) — so `stop()` can cancel a request in
flight instead of waiting out the long poll.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import grpc
import structlog

from fundguard.v1.central_pb2 import StatusesRequest, StatusesResponse
from fundguard.v1.central_pb2_grpc import CentralPlatformStub

from .cache import StatusCache

__all__ = ["PollerStatus", "StatusCall", "StatusFuture", "StatusPoller", "central_call"]

_MAX_DOUBLINGS = 30

_log = structlog.get_logger("fundguard.agent.practitioners")


class StatusFuture(Protocol):
    """A call in flight (what `grpc.UnaryUnaryMultiCallable.future` returns)."""

    def result(self, timeout: float | None = None) -> StatusesResponse:
        """Wait for the answer; raises the call's error (grpc.RpcError, or a cancellation)."""
        ...

    def cancel(self) -> bool:
        """Cancel the call if it is still running."""
        ...


class StatusCall(Protocol):
    """Starts one `PractitionerStatuses` call with a deadline of `timeout` seconds."""

    def __call__(self, request: StatusesRequest, timeout: float | None = None) -> StatusFuture:
        """Start the call."""
        ...


def central_call(channel: grpc.Channel) -> StatusCall:
    """The `StatusCall` over `channel` to the central platform (the generated stub)."""
    return CentralPlatformStub(channel).PractitionerStatuses.future


@dataclass(frozen=True, slots=True)
class PollerStatus:
    """What the poller reports: `state` NOT_READY (no answer yet), OK (the last call answered), WARN (calls are
    failing; the cache still enforces what it last received) or ERROR (calls are failing and the agent never had
    any statuses), with a message, the revision held and the counters."""

    state: str
    message: str
    revision: int
    practitioners: int
    polls: int
    updates: int
    failures: int
    last_ok_at: str


class StatusPoller:
    """Long-polls the central platform through `call` and applies every answer to `cache`: each request names
    `agent_id` and `institution_code` and lets the platform hold it `wait_seconds` (rounded up to whole seconds;
    the call's deadline is that plus `timeout_margin`); `target` is only shown (status, logs)."""

    name = "practitioner-statuses"

    def __init__(
        self,
        call: StatusCall,
        cache: StatusCache,
        *,
        agent_id: str,
        institution_code: str = "",
        target: str = "",
        wait_seconds: float = 30.0,
        timeout_margin: float = 10.0,
        idle_pause: float = 1.0,
        backoff_min: float = 1.0,
        backoff_max: float = 300.0,
        rand: Callable[[], float] = random.random,
        clock: Callable[[], datetime] = datetime.now,
    ) -> None:
        self._call = call
        self._cache = cache
        self._agent_id = agent_id
        self._institution = institution_code
        self._target = target
        self._wait = max(0, math.ceil(wait_seconds))  # the request carries whole seconds
        self._timeout = self._wait + timeout_margin
        self._idle_pause = idle_pause
        self._backoff = (backoff_min, max(backoff_min, backoff_max))
        self._rand = rand
        self._clock = clock
        self._lock = threading.Lock()
        self._inflight: StatusFuture | None = None
        self._stopping = threading.Event()
        self._worker: threading.Thread | None = None
        self._failing = 0  # consecutive failed calls
        self._last_error = ""
        self._last_ok_at = ""
        self.polls = self.updates = self.failures = 0

    @property
    def address(self) -> str:
        """The central platform polled."""
        return self._target

    def start(self) -> None:
        """Poll now and on, on a daemon thread."""
        self._stopping.clear()
        self._worker = threading.Thread(target=self._run, name="fundguard-practitioner-poller", daemon=True)
        self._worker.start()
        _log.info("practitioners.poller_started", target=self._target, revision=self._cache.revision)

    def stop(self) -> None:
        """Stop polling: the call in flight is cancelled; returns when the thread has ended."""
        with self._lock:
            self._stopping.set()
            if self._inflight is not None:
                self._inflight.cancel()
        if self._worker is not None:
            self._worker.join(self._timeout + 1)
        self._worker = None

    def next_backoff(self) -> float:
        """Seconds before retrying after the current run of failures: backoff_min doubled per failure, capped at
        backoff_max, of which a random half or more (jitter), never under backoff_min."""
        low, high = self._backoff
        base = min(high, low * 2.0 ** min(max(self._failing - 1, 0), _MAX_DOUBLINGS))
        return max(low, base * (0.5 + 0.5 * self._rand()))

    def _run(self) -> None:
        while not self._stopping.is_set():
            started = time.monotonic()
            revision = self._cache.revision
            try:
                answered = self.poll_once()
            except Exception as exc:  # the poller never dies: the next poll may succeed
                _log.exception("practitioners.poll_crashed", reason=str(exc))
                answered = False
            if not answered:
                wait = self.next_backoff()
            elif self._cache.revision != revision:
                wait = 0.0
            else:
                wait = self._idle_pause - (time.monotonic() - started)
            if wait > 0:
                self._stopping.wait(wait)

    def poll_once(self) -> bool:
        """One long-poll call, its answer applied to the cache; False when it failed (logged and counted)."""
        since = self._cache.revision
        request = StatusesRequest(agent_id=self._agent_id, institution_code=self._institution,
                                  since_revision=since, wait_seconds=self._wait)  # fmt: skip
        try:
            with self._lock:
                if self._stopping.is_set():
                    return False
                self.polls += 1
                future = self._inflight = self._call(request, timeout=self._timeout)
            response = future.result()
        except Exception as exc:
            if not self._stopping.is_set():
                self._failed(_reason(exc))
            return False
        finally:
            with self._lock:
                self._inflight = None
        applied = self._cache.apply(response, full=since == 0)
        if applied.revision != since:
            self.updates += 1
        if self._failing:
            _log.info("practitioners.poll_recovered", after_failures=self._failing, revision=applied.revision)
        self._failing = 0
        self._last_ok_at = self._clock().isoformat(timespec="seconds")
        return True

    def _failed(self, reason: str) -> None:
        self.failures += 1
        self._failing += 1
        self._last_error = reason
        _log.warning("practitioners.poll_failed", target=self._target, reason=reason, failing=self._failing)

    def status(self) -> PollerStatus:
        """The poller's state for the agent's status report."""
        revision, held = self._cache.revision, len(self._cache)
        if self._failing:
            if self._last_ok_at or revision or held:
                state = "WARN"
                message = f"central unreachable ({self._last_error}); enforcing revision {revision} as last received"
            else:
                state, message = "ERROR", f"central unreachable ({self._last_error}); no statuses received yet"
        elif self._last_ok_at:
            state, message = "OK", f"revision {revision}, {held} practitioners not in normal status"
        else:
            state, message = "NOT_READY", f"not polled yet; revision {revision} from the cache"
        return PollerStatus(state, message, revision, held, self.polls, self.updates, self.failures, self._last_ok_at)


def _reason(exc: Exception) -> str:
    """A short reason for a failed call: the gRPC status code and details when there are any."""
    code = getattr(exc, "code", None)
    details = getattr(exc, "details", None)
    if callable(code) and callable(details):
        status = code()
        name = getattr(status, "name", str(status))
        return f"{name}: {details()}"
    return f"{type(exc).__name__}: {exc}"
