"""Which drugs the 无码库 holds, in memory, so that a check whose drug lines carry no code and draw on no 无码库
stock needs no ledger query (and a transport may run it inline, `CheckService.touches_disk`).

The 无码库 changes rarely (`fundguard trace import --nocode`, possibly from another process), but the ledger file
changes with every dispense. The view remembers the set of drug codes that have a `nocode` row together with the
file's `PRAGMA data_version` on a connection of its own: SQLite changes that number whenever any other connection
(in this process or another) commits. `holds_none_of` answers from memory only when the number has not moved since
the set was read; otherwise it says "ask the ledger", and the ledger query on the check pool refreshes the set
(`refresh_if_stale`). A drug with a row is always asked about, whatever its units: a re-check of lines this
encounter already drew from the 无码库 gets those units back.

`PRAGMA data_version` reads the WAL index in shared memory (a few µs, no wait on a writer). The view's connection
is used under a lock; `holds_none_of` never waits for it (a refresh in progress means "ask the ledger").
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Collection

__all__ = ["NocodeView"]

_DRUGS_SQL = "SELECT hilist_code FROM nocode"


class NocodeView:
    """The drug codes with a 无码库 row, as of a `PRAGMA data_version` of `db` (a connection only the view uses)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._version: int | None = None  # None: not read yet, or the last read failed
        self._drugs: frozenset[str] = frozenset()

    def _current_version(self) -> int:
        return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def holds_none_of(self, codes: Collection[str]) -> bool:
        """True when the 无码库 certainly holds none of `codes`: the set is current and none is in it. False means
        "ask the ledger" (a code is held, the file changed since the set was read, or a refresh is running)."""
        if not self._lock.acquire(blocking=False):
            return False
        try:
            if self._version is None or self._current_version() != self._version:
                return False
        except sqlite3.Error:
            return False
        finally:
            self._lock.release()
        drugs = self._drugs
        return not any(code in drugs for code in codes)

    def refresh_if_stale(self) -> None:
        """Read the set again when the file changed since it was read (on the check pool, beside a ledger query)."""
        with self._lock:
            try:
                version = self._current_version()
                if version == self._version:
                    return
                # the version first: a commit between the two reads makes the next check ask again, never trust
                # a set older than its version
                drugs = frozenset(row[0] for row in self._db.execute(_DRUGS_SQL))
            except sqlite3.Error:
                self._version = None
                return
            self._drugs, self._version = drugs, version

    def close(self) -> None:
        """Close the view's connection."""
        with self._lock:
            self._version = None
            self._db.close()
