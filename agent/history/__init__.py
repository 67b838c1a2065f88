"""The patient history: a store of settled encounters (SQLite, `DATA_DIR/history.sqlite3`) and the warm per-patient
cache the check path reads (`HistoryCache.facts_for`), feeding the engine's cross-visit rules."""

from __future__ import annotations

from .cache import HistoryCache
from .store import HISTORY_FILE, HistoryStore, PurgeCounts, Settlement

__all__ = ["HISTORY_FILE", "HistoryCache", "HistoryStore", "PurgeCounts", "Settlement"]
