"""The warm per-patient history cache: what the check path reads instead of the history store.

A patient's history is loaded from the store once — at the first check of a stay or visit (registration, admission:
trig_scen 1 / 3 are just the first checks) — and what lies within `lookback_days` of today (a year by default: the
longest paid course in the KB is 365 days, the longest interval 60; the store keeps 5 years) is compiled into an
immutable `PatientHistory` (encounters by date, lines by national code, stays by discharge, drug supplies by drug)
and kept, wrapped in the `HistoryFacts` the engine reads, in a bounded LRU cache with a time to live (cachetools
`TLRUCache`): a check touches memory only. A new settlement of the patient (`confirm`) or history a request carried
that the store did not hold (`observe`, told every check result) reloads the entry; a purge drops the entries of the
patients it touched. With `retention_days`, `purge_expired` removes what is older (the agent calls it at start) and
the first settlement of each new day runs it again, so a long-running agent keeps to its retention without a
thread of its own.

Stored lines carry national codes: a settlement's or a request's lines are mapped through the hospital's code map
(`resolve`) before they are stored. Patient ids are logged under `patn_id` only (masked by `agent.log`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import structlog
from cachetools import TLRUCache

from fundguard.agent.engine.history_model import (
    HistoryFacts,
    HistoryPolicy,
    InstitutionState,
    PatientHistory,
    compile_history,
    encounter_date,
)
from fundguard.agent.engine.model import CheckRequest, Encounter, Patient
from fundguard.agent.intake import ParsedRequest

from .store import HistoryStore, PurgeCounts, Settlement

__all__ = ["DEFAULT_CACHE_PATIENTS", "DEFAULT_CACHE_TTL_SECONDS", "DEFAULT_LOOKBACK_DAYS", "HistoryCache"]

DEFAULT_CACHE_PATIENTS = 20_000  # patients kept warm (a 5-year chronic patient compiles to ~0.3 MB)
DEFAULT_CACHE_TTL_SECONDS = 8 * 3600.0  # a patient not seen for a shift is loaded again on the next check
DEFAULT_LOOKBACK_DAYS = 365  # history older than this is kept in the store but not judged against

_log = structlog.get_logger("fundguard.agent.history")


class HistoryCache:
    """`facts_for(request)` for the check service; `confirm` / `observe` keep the store and the cache in step.
    Thread-safe: the cache is guarded by one lock; loads and writes run outside it."""

    def __init__(
        self,
        store: HistoryStore,
        policy: HistoryPolicy | None = None,
        institution: InstitutionState | None = None,
        *,
        max_patients: int = DEFAULT_CACHE_PATIENTS,
        ttl_seconds: float = DEFAULT_CACHE_TTL_SECONDS,
        clock: Callable[[], datetime] = datetime.now,
        resolve: Callable[[CheckRequest], CheckRequest] | None = None,
        timer: Callable[[], float] = time.monotonic,
        lookback_days: int = DEFAULT_LOOKBACK_DAYS,
        retention_days: int | None = None,
    ) -> None:
        self._store = store
        self._policy = policy if policy is not None else HistoryPolicy()
        self._institution = institution if institution is not None else InstitutionState()
        self._empty = HistoryFacts(None, self._policy, self._institution)
        self._clock = clock
        self._resolve = resolve
        self._lookback = timedelta(days=lookback_days)
        self._retention = None if retention_days is None else timedelta(days=retention_days)
        self._purged_on: date | None = None
        self._lock = threading.Lock()
        self._cache: TLRUCache[str, HistoryFacts] = TLRUCache(
            maxsize=max_patients, ttu=lambda _k, _v, now: now + ttl_seconds, timer=timer
        )
        self.loads = 0  # store loads (cache misses and reloads), for status and tests

    @property
    def store(self) -> HistoryStore:
        """The store behind the cache."""
        return self._store

    @property
    def patients_cached(self) -> int:
        """Patients in the cache now (expired entries not counted), for status and metrics."""
        with self._lock:
            return len(self._cache)

    def facts_for(self, request: CheckRequest) -> HistoryFacts:
        """The patient's history snapshot (from memory once warm) with the thresholds and institution state."""
        patn_id = request.patient.patn_id
        with self._lock:
            facts = self._cache.get(patn_id)
        return facts if facts is not None else self._load(patn_id)

    def needs_disk(self, request: CheckRequest) -> bool:
        """Whether checking `request` reads the store (the patient is not in the cache) or writes it (`observe`:
        the request carries earlier encounters the patient's snapshot does not hold)."""
        with self._lock:
            facts = self._cache.get(request.patient.patn_id)
        if facts is None:
            return True
        if not request.history:
            return False
        known = facts.patient.stored_ids if facts.patient is not None else frozenset()
        current = request.encounter.mdtrt_id
        return any(e.mdtrt_id not in known and e.mdtrt_id != current for e in request.history)

    def warm(self, patn_id: str) -> PatientHistory | None:
        """Load (or reload) a patient's history into the cache now; None when the store holds nothing."""
        return self._load(patn_id).patient

    def _load(self, patn_id: str) -> HistoryFacts:
        since = self._clock().date() - self._lookback
        stored = self._store.load(patn_id)
        recent = [e for e in stored if (encounter_date(e) or since) >= since]
        ids = [e.mdtrt_id for e in stored]
        facts = HistoryFacts(compile_history(recent, ids), self._policy, self._institution) if stored else self._empty
        with self._lock:  # a patient without history is cached too: the next check does not ask the store again
            self.loads += 1
            self._cache[patn_id] = facts
        _log.debug("history.loaded", patn_id=patn_id, encounters=len(recent), stored=len(stored))
        return facts

    def confirm(self, patient: Patient, encounter: Encounter, setl_id: str, settled_at: datetime) -> bool:
        """Store a settlement (once per mdtrt_id + setl_id) and refresh the patient's entry; False for a repeat."""
        encounter = self._national(patient, encounter)
        if self._retention is not None and self._purged_on != self._clock().date():
            self.purge_expired()  # the day's purge, on the write path (ConfirmSettlement runs on the pool)
        stored = self._store.confirm(Settlement(patient.patn_id, encounter, setl_id, settled_at))
        if stored:
            self._load(patient.patn_id)
        _log.info("history.settlement", patn_id=patient.patn_id, mdtrt_id=encounter.mdtrt_id, stored=stored)
        return stored

    def observe(self, parsed: ParsedRequest, _result: Any) -> None:
        """A check observer: store the request's earlier encounters the patient's snapshot does not hold yet."""
        request = parsed.request
        if not request.history:
            return
        patn_id = request.patient.patn_id
        with self._lock:
            facts = self._cache.get(patn_id)
        known = facts.patient.stored_ids if facts is not None and facts.patient is not None else frozenset()
        current = request.encounter.mdtrt_id
        new = [e for e in request.history if e.mdtrt_id not in known and e.mdtrt_id != current]
        if not new:
            return
        if self._resolve is not None:
            new = list(self._resolve(CheckRequest("", request.patient, new[0], tuple(new))).history)
        try:
            added = self._store.remember(patn_id, new, self._clock())
        except Exception as exc:  # an observer must not raise: the check has been answered already
            _log.warning("history.remember_failed", patn_id=patn_id, error=type(exc).__name__)
            return
        if added:
            self._load(patn_id)
        _log.info("history.remembered", patn_id=patn_id, encounters=added)

    def purge_expired(self) -> PurgeCounts:
        """Purge what is older than the retention (nothing without `retention_days`); remembers the day."""
        today = self._clock().date()
        self._purged_on = today
        return PurgeCounts() if self._retention is None else self.purge(today - self._retention)

    def purge(self, before: date) -> PurgeCounts:
        """Drop what is older than `before` from the store, and the cache entries of the patients it touched."""
        counts = self._store.purge(before)
        with self._lock:
            for patn_id in counts.patients:
                self._cache.pop(patn_id, None)
        _log.info("history.purged", before=before.isoformat(), encounters=counts.encounters, lines=counts.lines,
                  diagnoses=counts.diagnoses, patients=len(counts.patients))  # fmt: skip
        return counts

    def _national(self, patient: Patient, encounter: Encounter) -> Encounter:
        if self._resolve is None:
            return encounter
        return self._resolve(CheckRequest("", patient, encounter)).encounter
