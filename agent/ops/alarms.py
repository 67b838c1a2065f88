"""Alarms: named conditions an operator must see (a store that cannot write, the outbox refusing events, the central
platform unreachable), raised and cleared as they come and go.

`Alarms.watch(name, condition)` registers a condition: a callable giving the reason while the alarm is up, None
while all is well (a store's `FaultLatch.reason`, the outbox's refusals, the uploader's backoff). `evaluate()`
judges every condition now and logs each change once (`alarm.raised` with the reason, `alarm.cleared`); the health
monitor calls it every `[health] interval_seconds`, and Prometheus scrapes call it too (`AlarmCollector` in
`collectors`: `fundguard_alarm{name="..."}` is 1 while raised, 0 otherwise, every watched name always present).
An alarm is not a readiness problem: the agent keeps answering checks while one is raised.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

import structlog

__all__ = ["Alarms", "Condition"]

Condition = Callable[[], str | None]

_log = structlog.get_logger("fundguard.agent.alarms")


class Alarms:
    """The agent's alarm registry."""

    def __init__(self, conditions: Mapping[str, Condition] | None = None) -> None:
        self._conditions: dict[str, Condition] = dict(conditions or {})
        self._raised: dict[str, str] = {}
        self._lock = threading.Lock()

    def watch(self, name: str, condition: Condition) -> None:
        """Watch `condition` under `name` (a later watch of the same name replaces it)."""
        with self._lock:
            self._conditions[name] = condition

    @property
    def names(self) -> tuple[str, ...]:
        """Every watched alarm, sorted."""
        with self._lock:
            return tuple(sorted(self._conditions))

    def evaluate(self) -> dict[str, str]:
        """Judge every condition now; the alarms raised (name → reason). Each raise and clear is logged once."""
        with self._lock:
            conditions = dict(self._conditions)
        judged: dict[str, str | None] = {}
        for name, condition in conditions.items():
            try:
                judged[name] = condition()
            except Exception as exc:  # a condition that cannot be judged is itself worth an alarm
                judged[name] = f"cannot evaluate: {type(exc).__name__}: {exc}"
        with self._lock:
            for name, reason in judged.items():
                was = self._raised.get(name)
                if reason is not None and was is None:
                    _log.warning("alarm.raised", alarm=name, reason=reason)
                elif reason is None and was is not None:
                    _log.info("alarm.cleared", alarm=name)
                if reason is None:
                    self._raised.pop(name, None)
                else:
                    self._raised[name] = reason
            return dict(self._raised)

    @property
    def raised(self) -> dict[str, str]:
        """The alarms raised at the last evaluation (name → reason)."""
        with self._lock:
            return dict(self._raised)
