"""The connection pool: its connections (database and WAL descriptors) are opened at start and stay the only ones
however many threads ask; a user has its connection alone for its block (nested asks get the same one); users beyond
the pool wait their turn; a connection comes back out of any transaction; close() closes everything, also what is
checked out, and wakes whoever waits."""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from fundguard.agent.connections import ConnectionPool

from .open_files import needs_proc, open_files

pytestmark = needs_proc


def connect(path: Path) -> sqlite3.Connection:
    """An autocommit WAL connection usable from any thread, with a table to write."""
    db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS t (n INTEGER)")
    return db


def on_threads(n: int, work: Callable[[], object]) -> list[BaseException]:
    """Run `work()` on `n` new threads started together; the exceptions they raised."""
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def run() -> None:
        barrier.wait()
        try:
            work()
        except BaseException as exc:  # collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_connections_and_their_wal_are_open_from_the_start(tmp_path: Path) -> None:
    """Made with size 3, the pool holds three descriptors on the database and three on its WAL (plus the shared
    memory index) before anyone asks."""
    pool = ConnectionPool(tmp_path / "s.sqlite3", connect, "store", 3)
    assert Counter({"s.sqlite3": 3, "s.sqlite3-wal": 3, "s.sqlite3-shm": 1}) == open_files(tmp_path)
    assert 3 == pool.idle
    pool.close()


def test_many_new_threads_add_no_descriptors(tmp_path: Path) -> None:
    """Sixteen new threads, twice, each writing and reading through the pool at once, leave the descriptors as they
    were at start: none of them opens a connection of its own."""
    pool = ConnectionPool(tmp_path / "s.sqlite3", connect, "store", 2)
    at_start = open_files(tmp_path)

    def work() -> None:
        with pool.connection() as db:
            db.execute("INSERT INTO t VALUES (1)")
        with pool.connection() as db:
            db.execute("SELECT COUNT(*) FROM t").fetchone()

    assert [] == on_threads(16, work) + on_threads(16, work)
    assert at_start == open_files(tmp_path)
    with pool.connection() as db:
        assert (32,) == db.execute("SELECT COUNT(*) FROM t").fetchone()
    pool.close()


def test_a_connection_is_its_users_alone_and_users_beyond_the_pool_wait(tmp_path: Path) -> None:
    """Twelve threads on a pool of two: never more than two blocks run at once, no connection is in two blocks at
    once, and every thread gets its turn."""
    pool = ConnectionPool(tmp_path / "s.sqlite3", connect, "store", 2)
    guard = threading.Lock()
    inside: set[int] = set()
    most = 0
    done: list[int] = []

    def work() -> None:
        nonlocal most
        with pool.connection() as db:
            with guard:
                assert id(db) not in inside
                inside.add(id(db))
                most = max(most, len(inside))
            db.execute("SELECT COUNT(*) FROM t").fetchone()
            threading.Event().wait(0.002)  # hold it a moment, so that the others queue up
            with guard:
                inside.discard(id(db))
        done.append(1)

    assert [] == on_threads(12, work)
    assert (2, 12, 2) == (most, len(done), pool.idle)
    pool.close()


def test_a_nested_ask_gets_the_same_connection_without_waiting(tmp_path: Path) -> None:
    """Inside its block a thread asking again gets its own connection (a pool of one does not wait on itself), and
    the connection goes back only when the outer block ends."""
    pool = ConnectionPool(tmp_path / "s.sqlite3", connect, "store", 1)
    with pool.connection() as outer:
        with pool.connection() as inner:
            assert inner is outer
        assert 0 == pool.idle
    assert 1 == pool.idle
    pool.close()


def test_a_connection_comes_back_out_of_its_transaction(tmp_path: Path) -> None:
    """A block that fails between BEGIN and COMMIT hands its connection back rolled back: the next user (on the same
    connection) sees no open transaction and none of the uncommitted rows."""
    pool = ConnectionPool(tmp_path / "s.sqlite3", connect, "store", 1)
    with pytest.raises(ZeroDivisionError), pool.connection() as db:
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t VALUES (1)")
        _ = 1 / 0
    with pool.connection() as db:
        assert (False, (0,)) == (db.in_transaction, db.execute("SELECT COUNT(*) FROM t").fetchone())
    pool.close()


def test_close_closes_every_connection_also_one_in_use(tmp_path: Path) -> None:
    """close() closes the idle connections at once and the one checked out when its block ends: no descriptor is
    left on the files; asking afterwards is refused, naming the store."""
    pool = ConnectionPool(tmp_path / "s.sqlite3", connect, "history store", 3)
    with pool.connection() as db:
        pool.close()
        assert (1,) == db.execute("SELECT 1").fetchone()  # the block keeps its connection to the end
    with pytest.raises(sqlite3.ProgrammingError):
        db.execute("SELECT 1")
    assert Counter() == open_files(tmp_path)
    with pytest.raises(RuntimeError, match=r"history store .* is closed"), pool.connection():
        pass


def test_close_wakes_a_thread_waiting_for_a_connection(tmp_path: Path) -> None:
    """A thread waiting on an exhausted pool is told the pool is closed instead of waiting for ever."""
    pool = ConnectionPool(tmp_path / "s.sqlite3", connect, "store", 1)
    errors: list[BaseException] = []
    asked = threading.Event()

    def waiter() -> None:
        asked.set()
        try:
            with pool.connection():
                pass
        except RuntimeError as exc:
            errors.append(exc)

    with pool.connection():
        thread = threading.Thread(target=waiter)
        thread.start()
        asked.wait(5)
        for _ in range(5000):  # until it waits for the connection held here (at most 5 s)
            if pool._waiting:
                break
            threading.Event().wait(0.001)
        pool.close()
        thread.join(5)
    assert not thread.is_alive()
    assert ["store"] == [str(e).split()[0] for e in errors]


def test_a_failed_start_leaves_no_connection_open(tmp_path: Path) -> None:
    """When opening the third connection fails, the two opened before it are closed and the error is raised."""
    opened: list[sqlite3.Connection] = []

    def flaky(path: Path) -> sqlite3.Connection:
        if len(opened) == 2:
            raise sqlite3.OperationalError("unable to open database file")
        opened.append(connect(path))
        return opened[-1]

    with pytest.raises(sqlite3.OperationalError):
        ConnectionPool(tmp_path / "s.sqlite3", flaky, "store", 3)
    assert Counter() == open_files(tmp_path)


def test_a_pool_needs_a_connection(tmp_path: Path) -> None:
    """A size below one is refused before anything is opened."""
    with pytest.raises(ValueError, match="at least one"):
        ConnectionPool(tmp_path / "s.sqlite3", connect, "store", 0)
    assert not (tmp_path / "s.sqlite3").exists()
