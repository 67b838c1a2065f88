"""The agent's outbox: events waiting for the central platform, in a SQLite file (WAL), bounded, never dropped silently.

`record` is called inside a check (an observer of `CheckService`), so it is one autocommitted INSERT on the writer
connection (the statement stays prepared in its cache), serialised with the other writers by a lock rather than by
SQLite's busy handler (which sleeps milliseconds). Every write (record, delete, the locked part of `maintain`) runs
on that one connection under that lock; reads (`take`, `metrics`, the passive checkpoint) check a connection out of
a small pool (`agent.connections`). All of them are opened with the outbox, so its open files never grow with the
threads that record. The row is committed before `record` returns. With `journal_mode=WAL` and `synchronous=NORMAL`
a commit is a write to the WAL file without an fsync: an event recorded survives `kill -9` of the agent (the OS
holds the written pages); only a power cut or an OS crash can lose the last commits. The check path never
checkpoints (`wal_autocheckpoint=0`): the uploader's thread calls `maintain()`, which copies the WAL into the file,
truncates it, and gives freed pages back to the OS (`auto_vacuum=INCREMENTAL`), so the file shrinks as the backlog
drains.

Sequence numbers are never reused (central dedupes by `event_id = "<agent_id>:<seq>"`, so a reused id would be a
lost event): the next number is one past the larger of the highest row and the `floor` kept in `meta`, which a
delete raises to the highest number it removed (so an emptied outbox continues where it was; SQLite's
`AUTOINCREMENT` would do the same at the cost of a second page written per commit). A new file starts at its
creation time in µs, so an outbox deleted by hand and created afresh does not reuse the ids stored centrally
either. One agent process writes an outbox file.

The file locked by another process (a tool holding a write lock) must not stall the checks that record events: SQLite
waits at most `BUSY_TIMEOUT_S` for the lock and a recording thread at most `WRITER_WAIT_S` for its turn, then the
event is refused (counted, logged, the `outbox_refusing` alarm) and the check answered; the uploader's deletes and
checkpoints that meet the lock fail and are retried (a batch stored but not deleted is sent again: the central
dedupes by event id).

Disk is bounded by `max_bytes` (file plus WAL). An event is refused — counted in `refused`, logged once per run
of refusals, never dropped unseen — when it would bring them past `max_bytes` less the WAL allowance (1/16 of it,
at most 64 MiB). The allowance is room for what the WAL holds between checkpoints: a checkpoint copies WAL pages
into the file before it truncates the WAL, and deleting a draining backlog writes pages fast; the uploader
checkpoints about every second, and as soon as half the allowance is used (`checkpoint_due`). From `alarm_ratio` ×
`max_bytes` the `alarm` flag is up (logged once per crossing; cleared below 90 % of that). The alarm is judged
after each `maintain()`, on the size with the WAL truncated (between two checkpoints the WAL holds every commit's
pages again and again, which would make it flap), and whenever an event is refused. Nothing here logs an event's
content.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

from fundguard.agent.connections import ConnectionPool

__all__ = ["OUTBOX_FILE", "Outbox", "OutboxEvent", "OutboxMetrics"]

OUTBOX_FILE = "outbox.sqlite3"  # under the data dir unless [uplink] outbox names another file
ALARM_CLEAR = 0.9  # the alarm clears below this share of the alarm threshold (no flapping at the edge)
WAL_ALLOWANCE_MAX = 64 * 1024 * 1024  # room kept free under max_bytes for the WAL between checkpoints …
WAL_ALLOWANCE_SHARE = 16  # … or this fraction of max_bytes if smaller
REFUSAL_ROOM = 64 * 1024  # a run of refusals is over when a checkpoint leaves this much room
VACUUM_PAGES = 4096  # freed pages given back per maintain (bounds how long writers wait for it)
BUSY_TIMEOUT_S = 0.1  # SQLite's wait for a lock another process holds (ours are serialised by `_write`) …
WRITER_WAIT_S = 0.25  # … and a check's wait for the writer lock: past it the event is refused, the check answered
READERS = 2  # reader connections: the uploader's take and checkpoint, and a metrics or status read beside it
_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    at_s REAL NOT NULL,
    mdtrt_id TEXT NOT NULL,
    practitioner_code TEXT NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
_INSERT = "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)"
_FLOOR = "UPDATE meta SET value = max(value, ?) WHERE key = 'floor'"
_TAKE = "SELECT seq, kind, occurred_at, mdtrt_id, practitioner_code, payload FROM events ORDER BY seq LIMIT ?"

_log = structlog.get_logger("fundguard.agent.uplink")


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """One stored event, as the uploader sends it."""

    seq: int
    event_id: str
    kind: str
    occurred_at: str
    mdtrt_id: str
    practitioner_code: str
    payload_json: bytes


@dataclass(frozen=True, slots=True)
class OutboxMetrics:
    """A snapshot: events waiting, age of the oldest (s), bytes on disk (file + WAL), events refused (and whether
    the last one was), alarm."""

    depth: int
    oldest_age_s: float
    bytes: int
    max_bytes: int
    refused: int
    refusing: bool
    alarm: bool


def _stamp(at: datetime) -> str:
    """ISO 8601 with offset (a naive time is taken as local time)."""
    return (at if at.tzinfo is not None else at.astimezone()).isoformat(timespec="microseconds")


class Outbox:
    """The outbox in the SQLite file at `path` (created on first use); thread-safe, a writer connection and `READERS`
    reader connections opened now. `clock` stamps events recorded without a time and measures the oldest event's
    age."""

    def __init__(
        self,
        path: Path,
        max_bytes: int,
        alarm_ratio: float = 0.8,
        clock: Callable[[], datetime] = datetime.now,
        *,
        agent_id: str,
    ) -> None:
        if max_bytes <= 0 or not 0 < alarm_ratio <= 1:
            raise ValueError("max_bytes must be positive and alarm_ratio in (0, 1]")
        self.path = path
        self.agent_id = agent_id
        self.max_bytes = max_bytes
        self._wal_allowance = min(WAL_ALLOWANCE_MAX, max_bytes // WAL_ALLOWANCE_SHARE)
        self._accept_limit = max_bytes - self._wal_allowance  # the rest stays free for the WAL of deletes
        self._alarm_at = min(alarm_ratio * max_bytes, self._accept_limit)  # never later than the first refusal
        self._clock = clock
        self._wal = Path(f"{path}-wal")
        self._write = threading.Lock()  # one writer at a time on `_writer`, without SQLite's sleeping busy handler
        self._counting = threading.Lock()  # refusals are counted also when the writer lock is not had
        self._refused = 0
        self._refusing = False
        self._refusal = ""
        self._alarm = False
        path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = self._connect(path)
        try:
            with self._write:
                self._next = self._create(self._writer)
                self._depth = int(self._writer.execute("SELECT COUNT(*) FROM events").fetchone()[0])
            self._readers = ConnectionPool(path, self._connect, "outbox", READERS)  # the schema exists: they read it
        except BaseException:
            self._writer.close()
            raise

    def _create(self, db: sqlite3.Connection) -> int:
        """Create the schema if needed; the next sequence number."""
        db.executescript(_SCHEMA)
        start = int(self._clock().timestamp() * 1_000_000)
        db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('floor', ?)", (start,))
        (top,) = db.execute(
            "SELECT max((SELECT value FROM meta WHERE key = 'floor'), ifnull(max(seq), 0)) FROM events"
        ).fetchone()
        return int(top) + 1

    def _connect(self, path: Path) -> sqlite3.Connection:
        """A connection usable from any thread (one at a time), its WAL open."""
        db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_S)
        try:
            db.execute("PRAGMA auto_vacuum=INCREMENTAL")  # takes effect only on a new file: it can shrink
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints run on the uploader's thread
            db.execute(f"PRAGMA journal_size_limit={self._wal_allowance}")
        except BaseException:
            db.close()
            raise
        return db

    def disk_bytes(self) -> int:
        """Size of the file plus its WAL."""
        try:
            size = os.stat(self.path).st_size
        except FileNotFoundError:
            size = 0
        try:
            return size + os.stat(self._wal).st_size
        except FileNotFoundError:
            return size

    @property
    def checkpoint_due(self) -> bool:
        """The WAL has used half its allowance: checkpoint now rather than in a second (a fast drain's deletes)."""
        try:
            return os.stat(self._wal).st_size >= self._wal_allowance // 2
        except FileNotFoundError:
            return False

    def record(
        self,
        kind: str,
        mdtrt_id: str,
        practitioner_code: str,
        payload: Mapping[str, Any],
        at: datetime | None = None,
    ) -> str | None:
        """Store one event, committed before returning; its event id, or None when refused (outbox full or the
        file unwritable: counted in `refused` and logged)."""
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        when = at if at is not None else self._clock()
        if not self._write.acquire(timeout=WRITER_WAIT_S):  # another writer stuck on a locked file: do not queue up
            self._refuse("outbox busy (another writer is waiting on a locked file)", -1)
            return None
        try:
            return self._insert(self._writer, kind=kind, mdtrt_id=mdtrt_id, practitioner_code=practitioner_code,
                                body=body, when=when)  # fmt: skip
        finally:
            self._write.release()

    def _insert(
        self, db: sqlite3.Connection, *, kind: str, mdtrt_id: str, practitioner_code: str, body: bytes, when: datetime
    ) -> str | None:
        """The INSERT under the writer lock; the event id, or None when refused."""
        size = self.disk_bytes()
        if size + len(body) > self._accept_limit:
            self._watch(size)
            self._refuse("outbox_full", size)
            return None
        seq = self._next
        try:
            db.execute(_INSERT, (seq, kind, _stamp(when), when.timestamp(), mdtrt_id, practitioner_code, body))
        except sqlite3.Error as exc:
            self._refuse(f"sqlite: {exc}", size)
            return None
        self._next = seq + 1
        self._depth += 1
        if self._refusing:
            self._end_refusals()
        return f"{self.agent_id}:{seq}"

    def _refuse(self, reason: str, size: int) -> None:
        with self._counting:  # also called without the writer lock (outbox busy)
            self._refused += 1
        self._refusal = reason
        if not self._refusing:
            self._refusing = True
            _log.error("uplink.event_refused", reason=reason, bytes=size, max_bytes=self.max_bytes)

    def refusal(self) -> str | None:
        """While events are refused, why the last one was (an alarm condition); None while they are accepted."""
        return f"{self.path}: events refused ({self._refusal})" if self._refusing else None

    def _end_refusals(self) -> None:
        self._refusing = False
        _log.info("uplink.outbox_accepting", refused_total=self._refused)

    def _watch(self, size: int) -> None:
        """Raise the alarm at the threshold, clear it well below; log each crossing once. A run of refusals ends
        when the next event is accepted, or when a checkpoint leaves room again."""
        if self._refusing and size + REFUSAL_ROOM <= self._accept_limit:
            self._end_refusals()
        if not self._alarm and size >= self._alarm_at:
            self._alarm = True
            _log.warning("uplink.outbox_alarm", bytes=size, max_bytes=self.max_bytes, depth=self._depth)
        elif self._alarm and size < self._alarm_at * ALARM_CLEAR:
            self._alarm = False
            _log.info("uplink.outbox_alarm_cleared", bytes=size, max_bytes=self.max_bytes, depth=self._depth)

    def take(self, limit: int) -> list[OutboxEvent]:
        """The oldest `limit` events, in sequence order (so per encounter in the order they happened)."""
        with self._readers.connection() as db:
            rows = db.execute(_TAKE, (limit,)).fetchall()
        prefix = f"{self.agent_id}:"
        return [OutboxEvent(seq, f"{prefix}{seq}", k, at, m, p, bytes(body)) for seq, k, at, m, p, body in rows]

    def delete(self, event_ids: Iterable[str]) -> int:
        """Remove events the central has stored (ids of other agents are ignored); how many were removed."""
        prefix = f"{self.agent_id}:"
        seqs = [(int(i[len(prefix) :]),) for i in event_ids if i.startswith(prefix) and i[len(prefix) :].isdigit()]
        if not seqs:
            return 0
        db = self._writer
        with self._write:
            before = db.total_changes
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("DELETE FROM events WHERE seq = ?", seqs)
                removed = db.total_changes - before
                db.execute(_FLOOR, (max(seqs)[0],))
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:  # never leave the writer, which `record` shares, inside a transaction
                    db.execute("ROLLBACK")
                raise
            self._depth -= removed
        return removed

    def maintain(self) -> None:
        """Give disk back (the uploader's thread calls it, about every second): freed pages are returned to the OS
        and the WAL is copied into the file and truncated. Most of the copying runs beside the writers (a passive
        checkpoint); writers wait only for the pages written since and the truncation. Copying moves bytes from
        the WAL into the file, never adds any, so the bound on file + WAL holds across it."""
        with self._readers.connection() as reader:
            reader.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        db = self._writer
        with self._write:
            db.executescript(f"PRAGMA incremental_vacuum({VACUUM_PAGES});")  # runs to the end (execute: 1 page)
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            self._watch(self.disk_bytes())

    def metrics(self) -> OutboxMetrics:
        """Depth, age of the oldest event (s), bytes on disk, refused count, alarm flag."""
        with self._readers.connection() as db:
            row = db.execute("SELECT at_s FROM events ORDER BY seq LIMIT 1").fetchone()
        age = max(self._clock().timestamp() - row[0], 0.0) if row is not None else 0.0
        return OutboxMetrics(
            self._depth, age, self.disk_bytes(), self.max_bytes, self._refused, self._refusing, self._alarm
        )

    @property
    def depth(self) -> int:
        """Events waiting."""
        return self._depth

    @property
    def refused(self) -> int:
        """Events refused since this Outbox was opened."""
        return self._refused

    def close(self) -> None:
        """Close every connection (committed events stay on disk): the readers, and the writer once no write runs;
        an event recorded afterwards is refused."""
        self._readers.close()
        with self._write:
            self._writer.close()
