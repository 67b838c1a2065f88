"""Opening the patient history for the composition root: the store in the data dir, the retention purge at start
(the cache runs it again on the first settlement of each new day), the warm cache the check service reads, or —
with `[history] enabled = false` — only the institution's state."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fundguard.agent.config import Settings
from fundguard.agent.engine.history_model import HistoryFacts, InstitutionState
from fundguard.agent.engine.model import CheckRequest
from fundguard.agent.intake import ParsedRequest

from .cache import HistoryCache
from .store import HISTORY_FILE, HistoryStore

__all__ = ["OpenedHistory", "StaticHistory", "open_history"]


class StaticHistory:
    """A history source without a store: the same facts (thresholds, institution state) for every check."""

    def __init__(self, facts: HistoryFacts) -> None:
        self._facts = facts

    def facts_for(self, _request: CheckRequest) -> HistoryFacts:
        """The configured facts; the cross-visit rules see only the history a request carries."""
        return self._facts

    def needs_disk(self, _request: CheckRequest) -> bool:
        """Never: the facts are in memory."""
        return False


@dataclass(frozen=True, slots=True)
class OpenedHistory:
    """What the agent wires: the check service's source (None: no history rules at all), the cache when the store
    is on (ConfirmSettlement, the observer storing a request's history)."""

    source: HistoryCache | StaticHistory | None
    cache: HistoryCache | None = None

    @property
    def observers(self) -> tuple[Callable[[ParsedRequest, Any], None], ...]:
        """Check observers to add (the cache remembers history a request carried; it writes only when the cache's
        `needs_disk` says so, so it is a quick observer)."""
        return (self.cache.observe,) if self.cache is not None else ()

    def close(self) -> None:
        """Close the store."""
        if self.cache is not None:
            self.cache.store.close()


def open_history(
    settings: Settings,
    clock: Callable[[], datetime],
    resolve: Callable[[CheckRequest], CheckRequest] | None = None,
) -> OpenedHistory:
    """The history as configured; purges what is past retention first. Raises OSError / sqlite3.Error when the store
    cannot be opened (the caller names the path)."""
    h, institution = settings.history, settings.institution
    if not h.enabled:
        if institution == InstitutionState():
            return OpenedHistory(None)
        return OpenedHistory(StaticHistory(HistoryFacts(None, h.policy, institution)))
    path = h.path if h.path is not None else settings.data.dir / HISTORY_FILE
    store = HistoryStore(path)
    try:
        cache = HistoryCache(store, h.policy, institution, max_patients=h.cache_patients,
                             ttl_seconds=h.cache_ttl_seconds, clock=clock, resolve=resolve,
                             lookback_days=h.lookback_days, retention_days=h.retention_days)  # fmt: skip
        cache.purge_expired()
    except (OSError, sqlite3.Error):
        store.close()
        raise
    return OpenedHistory(cache, cache)
