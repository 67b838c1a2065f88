"""The alert bus: an ordered, bounded log of raised alerts with cursors, that subscribers read and wait on.

`CheckService` publishes every result (an observer, called on the check's thread: gRPC loop, HTTP loop, MLLP loop,
drop-folder worker); `publish` is cheap: one lock, one append per alert, then a wake-up of each waiting
subscriber. Each event gets the next cursor (1, 2, …). A subscriber reads `since(cursor, filter)` and, when nothing
is new, waits for a wake-up (`watch`). The log keeps the most recent `capacity` events: a subscriber resuming from
an older cursor gets what is kept, and the first event it gets says `gap_before`.

A check that could not finish in time is an event too (`unavailable` set, no alert): silence must never read as
"no alerts", so the workstation that asked sees "check unavailable" with the reason.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

from fundguard.agent.engine.model import Alert, CheckResult
from fundguard.agent.intake import ParsedRequest

__all__ = ["DEFAULT_CAPACITY", "AlertBus", "AlertEvent", "AlertFilter"]

DEFAULT_CAPACITY = 100_000


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One alert in the stream, with where its check came from; or, with `alert` None, a check of encounter
    `mdtrt_id` that is unavailable (`unavailable` says why)."""

    cursor: int
    alert: Alert | None
    judgement_id: str
    kb_revision: str
    workstation_id: str
    dept_code: str
    practitioner_code: str
    gap_before: bool = False
    unavailable: str = ""
    mdtrt_id: str = ""


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """What a subscriber follows; an empty field matches everything."""

    workstation_id: str = ""
    dept_code: str = ""
    practitioner_code: str = ""

    def matches(self, event: AlertEvent) -> bool:
        """True when every non-empty field equals the event's."""
        return (
            (not self.workstation_id or self.workstation_id == event.workstation_id)
            and (not self.dept_code or self.dept_code == event.dept_code)
            and (not self.practitioner_code or self.practitioner_code == event.practitioner_code)
        )


class AlertBus:
    """Thread-safe; `watch(wake)` registers a callback run (on the publisher's thread) after each publish."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._events: deque[AlertEvent] = deque(maxlen=capacity)
        self._last = 0
        self._lock = threading.Lock()
        self._watchers: dict[int, Callable[[], None]] = {}
        self._next_watch = 0

    @property
    def last_cursor(self) -> int:
        """The cursor of the newest event (0 before the first)."""
        return self._last

    def publish(self, parsed: ParsedRequest, result: CheckResult) -> None:
        """Append the result's alerts (nothing when there are none) and wake the watchers."""
        if not result.alerts:
            return
        doctor = parsed.request.encounter.dr_codg
        with self._lock:
            for alert in result.alerts:
                self._last += 1
                self._events.append(
                    AlertEvent(self._last, alert, result.judgement_id, result.kb_revision, parsed.workstation_id,
                               parsed.dept_code, alert.drord_dr_codg or doctor)
                )  # fmt: skip
            watchers = list(self._watchers.values())
        for wake in watchers:
            wake()

    def publish_unavailable(self, parsed: ParsedRequest, reason: str, kb_revision: str) -> None:
        """Append a "check unavailable" event for the request's workstation, department and doctor."""
        encounter = parsed.request.encounter
        with self._lock:
            self._last += 1
            self._events.append(
                AlertEvent(self._last, None, "", kb_revision, parsed.workstation_id, parsed.dept_code,
                           encounter.dr_codg, unavailable=reason, mdtrt_id=encounter.mdtrt_id)
            )  # fmt: skip
            watchers = list(self._watchers.values())
        for wake in watchers:
            wake()

    def since(self, cursor: int, wanted: AlertFilter, limit: int = 1000) -> tuple[list[AlertEvent], int]:
        """Events after `cursor` that match (at most `limit`), and the cursor to resume from. The first event is
        marked `gap_before` when events after `cursor` are no longer kept, or when `cursor` is from an earlier run
        of the agent (larger than any cursor given out: everything kept is sent)."""
        with self._lock:
            gap = False
            if cursor > self._last:
                cursor, gap = 0, True
            if not self._events or cursor >= self._last:
                return [], cursor
            oldest = self._events[0].cursor
            if cursor + 1 < oldest:
                gap = gap or cursor > 0
                cursor = oldest - 1
            out: list[AlertEvent] = []
            resume = cursor
            for n in range(cursor + 1 - oldest, len(self._events)):
                event = self._events[n]
                resume = event.cursor
                if wanted.matches(event):
                    out.append(event)
                    if len(out) >= limit:
                        break
        if gap and out:
            out[0] = replace(out[0], gap_before=True)
        return out, resume

    def watch(self, wake: Callable[[], None]) -> Callable[[], None]:
        """Call `wake()` after every publish until the returned function is called."""
        with self._lock:
            key = self._next_watch
            self._next_watch += 1
            self._watchers[key] = wake

        def unwatch() -> None:
            with self._lock:
                self._watchers.pop(key, None)

        return unwatch
