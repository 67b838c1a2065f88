"""A fixed pool of SQLite connections to one database file, all opened at start and closed together: the stores that
are read and written from several threads (the trace ledger, the history store, the outbox's readers) each keep one
`ConnectionPool`.

A `sqlite3.Connection` must not be used by two threads at once, and opening one per call costs more than the query.
Opening one per thread on first use ties the open files to the threads that ever asked: a thread pool that grows a
thread under a burst of load, long after start-up, opens new files (the database and its WAL, two descriptors per
connection), so the process's descriptors grow with traffic. Here the `size` connections are opened when the pool
is made (each has read the file, so its WAL is open too) and a user checks one out for one unit of work and back in:

    with pool.connection() as db:
        ...

so the descriptors are fixed at start, whichever and however many threads ask. Inside the block the connection is
the caller's alone: a transaction (a read snapshot `BEGIN … COMMIT`, a write `BEGIN IMMEDIATE … COMMIT`) stays on
one connection. A thread that asks again inside its block gets the same connection (nesting never waits on
itself). When every connection is out, a user waits for one to come back (a statement takes microseconds). The
most recently returned connection is handed out first, so light traffic keeps to one connection with a warm page
cache. A connection handed back inside a transaction (an error between BEGIN and COMMIT) is rolled back first.

`close()` closes the idle connections at once and the others as they come back; after it, asking raises a
`RuntimeError` naming the store.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

__all__ = ["DEFAULT_POOL_SIZE", "ConnectionPool", "Lease"]

DEFAULT_POOL_SIZE = 4  # a check reads for microseconds: 4 connections serve the transports' worker threads on 2 cores


class ConnectionPool:
    """`size` connections to `path` made by `connect`, opened now; `what` names the store in errors."""

    def __init__(
        self, path: Path, connect: Callable[[Path], sqlite3.Connection], what: str, size: int = DEFAULT_POOL_SIZE
    ) -> None:
        if size < 1:
            raise ValueError(f"a {what} needs at least one connection")
        self._path = path
        self._what = what
        self.size = size
        self._idle: list[sqlite3.Connection] = []  # popped without the lock (atomic), appended under it
        self._lock = threading.Lock()
        self._returned = threading.Condition(self._lock)  # notified when a connection comes back and someone waits
        self._waiting = 0
        self._held = threading.local()  # the connection the calling thread has checked out, while it has one
        self._closed = False
        try:
            for _ in range(size):
                self._idle.append(connect(path))
        except BaseException:
            for db in self._idle:
                db.close()
            raise

    def connection(self) -> Lease:
        """A context manager that checks a connection out for the block and back in after it."""
        return Lease(self)

    def _check_out(self) -> sqlite3.Connection:
        try:
            db = self._idle.pop()  # the common case, without taking the lock
        except IndexError:
            db = self._wait()
        if self._closed:  # closed meanwhile: `close()` did not see this one
            db.close()
            raise RuntimeError(f"{self._what} {self._path} is closed")
        return db

    def _wait(self) -> sqlite3.Connection:
        with self._lock:
            self._waiting += 1
            try:
                while True:
                    if self._closed:
                        raise RuntimeError(f"{self._what} {self._path} is closed")
                    try:
                        return self._idle.pop()
                    except IndexError:
                        self._returned.wait()
            finally:
                self._waiting -= 1

    def _check_in(self, db: sqlite3.Connection) -> None:
        if db.in_transaction:  # left open by an error between BEGIN and COMMIT: the next user starts clean
            with contextlib.suppress(sqlite3.Error):  # already ended by SQLite itself (a failed COMMIT): nothing to do
                db.execute("ROLLBACK")
        with self._lock:
            if self._closed:
                db.close()
                return
            self._idle.append(db)
            if self._waiting:
                self._returned.notify()

    @property
    def idle(self) -> int:
        """Connections not checked out now."""
        return len(self._idle)

    def close(self) -> None:
        """Close every connection: the idle ones now, those checked out when they come back."""
        with self._lock:
            self._closed = True
            while self._idle:  # each connection is popped once: here, or by a user who then closes it
                self._idle.pop().close()
            self._returned.notify_all()


class Lease:
    """One use of a pool's connection (`ConnectionPool.connection()`): the calling thread's own if it holds one
    already, else one checked out until the block ends."""

    __slots__ = ("_db", "_nested", "_pool")

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._db: sqlite3.Connection | None = None
        self._nested = False

    def __enter__(self) -> sqlite3.Connection:
        held: sqlite3.Connection | None = getattr(self._pool._held, "db", None)
        if held is not None:
            self._nested = True
            return held
        db = self._pool._check_out()
        self._pool._held.db = self._db = db
        return db

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._nested or self._db is None:
            return
        self._pool._held.db = None
        self._pool._check_in(self._db)
        self._db = None
