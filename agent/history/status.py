"""What the patient-history store holds and how its warm cache is doing: the figures `fundguard history status`
prints, gRPC GetStatus reports and /metrics exposes.

The store is counted on a read-only connection of its own (`mode=ro`: the file is never created or written here,
and no pooled connection of the check path is held while millions of rows are counted). An encounter record is
one settlement (a stay settled in parts, 中途结算, has one per settlement) or one earlier encounter a Check request
carried (it has no `setl_id`). `store_counts` is the quick part GetStatus and every scrape read (two counts over
covering indexes: about 16 ms for 240,000 records on the 2-vCPU test VM); `store_summary` adds patients,
diagnoses, lines and the visit-date range for the command line (a full count of lines: about 100 ms in all for
those 240,000 records with 2.4 million lines).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from .cache import HistoryCache

__all__ = ["HistoryStatus", "StoreCounts", "StoreSummary", "history_status", "store_counts", "store_summary"]

READ_TIMEOUT_S = 5.0  # WAL: readers do not wait for writers; this covers a checkpoint or a schema change only

_COUNTS = "SELECT (SELECT COUNT(*) FROM encounters), (SELECT COUNT(*) FROM encounters WHERE setl_id != '')"
_SUMMARY = (
    "SELECT (SELECT COUNT(DISTINCT patn_id) FROM encounters), (SELECT COUNT(*) FROM diagnoses),"
    " (SELECT COUNT(*) FROM lines), (SELECT MIN(visit_date) FROM encounters), (SELECT MAX(visit_date) FROM encounters)"
)


@dataclass(frozen=True, slots=True)
class StoreCounts:
    """Encounter records stored, and how many of them are confirmed settlements."""

    encounters: int
    settlements: int

    @property
    def carried(self) -> int:
        """Records of earlier encounters a Check request carried (not settled through this agent)."""
        return self.encounters - self.settlements


@dataclass(frozen=True, slots=True)
class StoreSummary:
    """Everything `fundguard history status` prints about the store file."""

    counts: StoreCounts
    patients: int
    diagnoses: int
    lines: int
    oldest_visit: date | None
    newest_visit: date | None


@dataclass(frozen=True, slots=True)
class HistoryStatus:
    """The running agent's history: its warm cache and what its store holds (`store_error` when it could not be
    counted: the counts are then 0)."""

    patients_cached: int
    cache_loads: int
    encounters_stored: int = 0
    settlements_stored: int = 0
    store_error: str = ""


@contextmanager
def _reading(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection to an existing store file, in one read transaction (one snapshot)."""
    if not path.is_file():  # sqlite would say "unable to open database file"; name the file instead
        raise FileNotFoundError(f"no history store at {path}")
    with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=READ_TIMEOUT_S)) as db:
        db.execute("BEGIN")
        try:
            yield db
        finally:
            db.execute("COMMIT")


def _counts(db: sqlite3.Connection) -> StoreCounts:
    encounters, settlements = db.execute(_COUNTS).fetchone()
    return StoreCounts(int(encounters), int(settlements))


def store_counts(path: Path) -> StoreCounts:
    """The store's record counts. FileNotFoundError without a store at `path`, sqlite3.Error when unreadable."""
    with _reading(path) as db:
        return _counts(db)


def store_summary(path: Path) -> StoreSummary:
    """Counts, patients, diagnoses, lines and the visit-date range of the store at `path` (one snapshot)."""
    with _reading(path) as db:
        counts = _counts(db)
        patients, diagnoses, lines, oldest, newest = db.execute(_SUMMARY).fetchone()
    return StoreSummary(counts, int(patients), int(diagnoses), int(lines),
                        None if oldest is None else date.fromisoformat(oldest),
                        None if newest is None else date.fromisoformat(newest))  # fmt: skip


def history_status(cache: HistoryCache) -> HistoryStatus:
    """The cache's figures (memory) and its store's counts (a read of the file); a store that cannot be read is
    reported in `store_error`, never raised (GetStatus and a scrape must still answer)."""
    cached, loads = cache.patients_cached, cache.loads
    try:
        counts = store_counts(cache.store.path)
    except (OSError, sqlite3.Error) as exc:
        return HistoryStatus(cached, loads, store_error=f"{type(exc).__name__}: {exc}")
    return HistoryStatus(cached, loads, counts.encounters, counts.settlements)
