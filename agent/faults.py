"""Fault latches: what a store remembers of its last failed write, until a write succeeds again.

A store that must not fail silently (the decision store, the issued-alert register, the patient history, the trace
ledger) routes its writes through `FaultLatch.guard`: a `sqlite3.Error` (disk full, file locked past the busy
timeout, a malformed page) is counted, logged once per run of failures (`store.write_failed`, with the store's
name and the error, never the data) and kept as `reason`, then re-raised for the caller to answer (an RPC error:
nothing the client was told is stored went missing); the next write that succeeds clears it (`store.write_ok`).
The agent's alarm registry (`agent.ops.alarms`) watches `reason`: `fundguard_alarm{name=...}` is 1 while it is set.
A leaf module (standard library and structlog only), so every store can import it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from typing import TypeVar

import structlog

__all__ = ["FaultLatch"]

T = TypeVar("T")

_log = structlog.get_logger("fundguard.agent.faults")


class FaultLatch:
    """The last write failure of one store (`reason`, None while writes succeed) and how many there were."""

    __slots__ = ("_lock", "failures", "reason", "what")

    def __init__(self, what: str) -> None:
        self.what = what  # the store, as an operator knows it: its file
        self.reason: str | None = None
        self.failures = 0
        self._lock = threading.Lock()

    def guard(self, write: Callable[[], T]) -> T:
        """Run `write`; a sqlite3.Error is latched and re-raised, a success clears the latch."""
        try:
            out = write()
        except sqlite3.Error as exc:
            self.failed(exc)
            raise
        self.succeeded()
        return out

    def current(self) -> str | None:
        """The latched reason (None: the last write succeeded), as an alarm condition."""
        return self.reason

    def failed(self, exc: BaseException) -> None:
        """A write failed: count it; the first of a run is logged."""
        with self._lock:
            self.failures += 1
            first = self.reason is None
            self.reason = f"{self.what}: {type(exc).__name__}: {exc}"
        if first:
            _log.error("store.write_failed", store=self.what, error=type(exc).__name__, reason=str(exc))

    def succeeded(self) -> None:
        """A write succeeded: a run of failures is over."""
        if self.reason is None:  # the common case: no lock taken
            return
        with self._lock:
            was, self.reason = self.reason, None
        if was is not None:
            _log.info("store.write_ok", store=self.what, failures=self.failures)
