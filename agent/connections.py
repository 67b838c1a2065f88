"""One SQLite connection per thread to one database file, all closed together: the stores that are read and written
from several threads (the trace ledger, the history store) each keep one `ThreadConnections`.

A `sqlite3.Connection` must not be shared between threads while in use, and opening one per call costs more than
the query; so each thread opens its own on first use and keeps it. `close()` closes every thread's connection; a
thread that asks afterwards gets a `RuntimeError` naming the store.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

__all__ = ["ThreadConnections"]


class ThreadConnections:
    """Connections to `path` made by `connect`, one per thread; `what` names the store in errors."""

    def __init__(self, path: Path, connect: Callable[[Path], sqlite3.Connection], what: str) -> None:
        self._path = path
        self._connect = connect
        self._what = what
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    def get(self) -> sqlite3.Connection:
        """This thread's connection, opened on its first use."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            with self._lock:
                if self._closed:
                    raise RuntimeError(f"{self._what} {self._path} is closed")
                db = self._connect(self._path)
                self._all.append(db)
            self._local.db = db
        return db

    def close(self) -> None:
        """Close every thread's connection."""
        with self._lock:
            self._closed = True
            for db in self._all:
                db.close()
            self._all.clear()
