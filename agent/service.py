"""The transport-independent check service: every transport calls `CheckService.check`.

It fixes what the pure engine must be given — the date of service (asked for, else the latest order date of the
current lines, else today from the injected clock) and a unique judgement id — runs the engine on the active KB and
measures engine time. With a trace ledger, it first takes the ledger's snapshot of the codes the lines carry (one
indexed lookup per code) and hands it to the engine's `trace` rules. It never logs patient identity.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from fundguard.agent.codes import CodeMap
from fundguard.agent.engine import CheckResult, check
from fundguard.agent.engine.history_model import HistoryFacts
from fundguard.agent.engine.model import CheckRequest
from fundguard.agent.engine.practitioner_model import PractitionerFacts
from fundguard.agent.engine.trace_model import TraceFacts, TracePolicy
from fundguard.agent.intake import ParsedRequest
from fundguard.agent.kb import KbStore

__all__ = [
    "CheckOutcome",
    "CheckService",
    "HistorySource",
    "PractitionerSource",
    "TraceSource",
    "default_service_date",
]


class PractitionerSource(Protocol):
    """Where the check gets the practitioners' 医保支付资格 statuses (the status cache fed by the central)."""

    def facts(self, check_code_format: bool = False) -> PractitionerFacts:
        """A snapshot of the statuses (cheap: no copy per check)."""
        ...


class HistorySource(Protocol):
    """Where the check gets the patient's history snapshot and the institution's state (the warm history cache)."""

    def facts_for(self, request: CheckRequest) -> HistoryFacts:
        """The patient's precompiled history (memory only once warm), thresholds and institution state."""
        ...

    def needs_disk(self, request: CheckRequest) -> bool:
        """Whether `facts_for` (or the source's own observer) would read or write its store for `request`."""
        ...


class TraceSource(Protocol):
    """Where the check gets its traceability-code snapshot (the trace ledger)."""

    def facts_for(self, request: CheckRequest, policy: TracePolicy) -> TraceFacts:
        """The ledger's facts about the codes `request`'s current lines carry."""
        ...

    def needs_disk(self, request: CheckRequest, policy: TracePolicy) -> bool:
        """Whether `facts_for` would query the ledger for `request` (False: it answers from memory)."""
        ...


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    """The engine's result plus how long the engine took (µs)."""

    result: CheckResult
    engine_micros: int


def default_service_date(request: CheckRequest, today: date) -> date:
    """Latest order start date among the current lines, else `today`."""
    dates = [o.begn_date for o in request.encounter.orders if o.current and o.begn_date]
    return max(dates) if dates else today


class _Ids:
    """Unique judgement ids without a syscall per check: a random 64-bit prefix per process + a counter
    (uuid4 reads os.urandom on every call)."""

    def __init__(self) -> None:
        self._prefix = uuid.uuid4().hex[:16]
        self._counter = itertools.count(1)

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"


def _new_id() -> str:
    return _IDS()


_IDS = _Ids()


class CheckService:
    """Runs checks on the store's active KB; clock and id factory are injected (tests pass fixed ones). With a
    code map, order lines that carry only a hospital code are mapped to national codes first. `observers` are told
    every result and must not raise: `quick_observers` touch memory only (a queue put, the alert stream), the others
    may wait on a disk or a lock (the uplink recorder's commit), so a transport runs such checks where they can be
    abandoned (`touches_disk`). `suppress`
    may drop alerts before anyone sees them (alert-fatigue control). `on_unavailable` are told (request, reason, KB
    revision) when a transport gave up on a check (past its budget or the caller's deadline). With `trace` (the
    trace ledger) the drug traceability codes are judged too, under `trace_policy`; with `practitioners` (the
    status cache) orders by a suspended or terminated practitioner are blocked, and with `check_practitioner_codes`
    a doctor code that is not the national 13-character one gets an info alert. With `history` (the warm history
    cache) the patient's earlier encounters and the institution's state are judged too (cross-visit rules)."""

    def __init__(
        self,
        store: KbStore,
        clock: Callable[[], datetime] = datetime.now,
        new_id: Callable[[], str] = _new_id,
        *,
        codes: CodeMap | None = None,
        observers: Sequence[Callable[[ParsedRequest, CheckResult], None]] = (),
        quick_observers: Sequence[Callable[[ParsedRequest, CheckResult], None]] = (),
        suppress: Callable[[ParsedRequest, CheckResult], CheckResult] | None = None,
        on_unavailable: Sequence[Callable[[ParsedRequest, str, str], None]] = (),
        trace: TraceSource | None = None,
        trace_policy: TracePolicy | None = None,
        practitioners: PractitionerSource | None = None,
        check_practitioner_codes: bool = False,
        history: HistorySource | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._new_id = new_id
        self._codes = codes
        self._observers = (*quick_observers, *observers)
        self._blocking_observers = bool(observers)
        self._suppress = suppress
        self._on_unavailable = tuple(on_unavailable)
        self._trace = trace
        self._trace_policy = trace_policy if trace_policy is not None else TracePolicy()
        self._practitioners = practitioners
        self._check_practitioner_codes = check_practitioner_codes
        self._history = history

    @property
    def store(self) -> KbStore:
        """The KB store checks run on."""
        return self._store

    def touches_disk(self, parsed: ParsedRequest) -> bool:
        """Whether checking `parsed` may wait on a disk or a lock: a store read (trace ledger, a patient not yet in
        the history cache), a store write (history the request carries) or an observer that may block. A check that
        does not touches memory only and takes bounded CPU time, so a transport may run it inline on its event loop;
        one that does runs on a pool, where the transport can give up on it at its budget."""
        if self._blocking_observers:
            return True
        request = parsed.request
        if self._codes is not None and any(not o.hilist_code for o in request.encounter.orders):
            request = self._codes.resolve(request)  # the trace ledger decides by national code
        if self._trace is not None and self._trace.needs_disk(request, self._trace_policy):
            return True
        return self._history is not None and self._history.needs_disk(request)

    def check(self, parsed: ParsedRequest) -> CheckOutcome:
        """Check one validated request; raises KbUnavailable when no KB is loaded."""
        kb = self._store.current
        request = parsed.request
        if self._codes is not None:
            request = self._codes.resolve(request)  # hospital codes → national codes (unmapped ones stay "")
        service_date = parsed.service_date or default_service_date(request, self._clock().date())
        facts = self._trace.facts_for(request, self._trace_policy) if self._trace is not None else None
        doctors = None if self._practitioners is None else self._practitioners.facts(self._check_practitioner_codes)
        started = time.perf_counter_ns()
        past = None if self._history is None else self._history.facts_for(request)
        result = check(request, kb, service_date, self._new_id(), trace=facts, practitioners=doctors, history=past)
        micros = (time.perf_counter_ns() - started) // 1000
        if self._suppress is not None:  # alert fatigue: drop what a clinician already decided, lines unchanged
            result = self._suppress(parsed, result)
        for observe in self._observers:  # e.g. the register of issued alerts (cheap: it queues)
            observe(parsed, result)
        return CheckOutcome(result, int(micros))

    def unavailable(self, parsed: ParsedRequest, reason: str) -> None:
        """A transport answered "check unavailable" for `parsed`: tell those who show it (the alert stream)."""
        revision = self._store.current.revision if self._store.loaded else ""
        for tell in self._on_unavailable:
            tell(parsed, reason, revision)
