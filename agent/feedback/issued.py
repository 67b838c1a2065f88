"""The register of issued alerts: which `jr_id`s the agent has answered, so feedback can be checked against them.

Every check that raises alerts is recorded here (by `CheckService`, for every transport). Recording is off the hot
path: `record` only puts the alerts on a queue and into a bounded in-memory index; a writer thread inserts them in
batches into the `issued` table of the agent's SQLite file (the one the decision store uses). `known(jr_id)` looks
in memory first, then on disk after the writer has caught up: alerts issued before a restart stay known.
A batch the writer cannot write (disk full, file locked) is latched in `fault` (the agent's `issued_alerts` alarm)
and tried again every `RETRY_SECONDS` until it is written; meanwhile it and the alerts issued after it are known
from memory (the bounded index).
A decision on an unknown `jr_id` is refused by the transports ("unknown jr_id"), never stored.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog
from cachetools import LRUCache

from fundguard.agent.engine.model import CheckResult
from fundguard.agent.faults import FaultLatch
from fundguard.agent.intake import ParsedRequest

from .fatigue import fingerprint

__all__ = ["IssuedAlert", "IssuedAlerts"]

MEMORY_ENTRIES = 200_000
BATCH = 500
RETRY_SECONDS = 1.0  # a batch that could not be written is tried again after this
BUSY_TIMEOUT_S = 0.2  # the writer's wait for a lock another process holds (then it retries: alerts stay indexed)

_log = structlog.get_logger("fundguard.agent.feedback")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS issued (
    jr_id TEXT PRIMARY KEY,
    judgement_id TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    rule_class TEXT NOT NULL,
    kp_id TEXT NOT NULL,
    mdtrt_id TEXT NOT NULL,
    practitioner TEXT NOT NULL,
    rx_ids TEXT NOT NULL,
    fingerprint TEXT NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class IssuedAlert:
    """What the register keeps of one alert (no patient identity)."""

    jr_id: str
    judgement_id: str
    rule_id: str
    rule_class: str
    kp_id: str
    mdtrt_id: str
    practitioner: str  # drord_dr_codg of the first violating line
    rx_ids: tuple[str, ...]
    fingerprint: str = ""  # what the violating lines were (see `fatigue.fingerprint`): a changed line differs


class IssuedAlerts:
    """Thread-safe register; `close()` flushes and stops the writer."""

    def __init__(self, path: Path | str) -> None:
        if isinstance(path, Path):
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_S)
        self._db.execute("PRAGMA journal_mode=WAL")
        # no fsync per commit: a power cut may lose the last moments of the register (their feedback is then refused
        # as unknown and the clinician is asked again); an agent crash loses nothing (WAL). Decisions stay FULL.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)
        self._db_lock = threading.Lock()
        self._memory: LRUCache[str, IssuedAlert] = LRUCache(MEMORY_ENTRIES)
        self._memory_lock = threading.Lock()
        self._queue: queue.SimpleQueue[tuple[ParsedRequest, CheckResult] | None] = queue.SimpleQueue()
        self._pending = 0
        self._queued = self._indexed = 0  # results queued / indexed in memory by the writer
        self._flushed = threading.Condition()
        self.fault = FaultLatch(str(path))
        self._writer = threading.Thread(target=self._write, name="fundguard-issued", daemon=True)
        self._writer.start()

    @property
    def pending(self) -> int:
        """Alerts recorded but not yet on disk."""
        return self._pending

    def record(self, parsed: ParsedRequest, result: CheckResult) -> None:
        """Register the result's alerts: on the check path only a count and a queue put; the writer builds the
        entries (fingerprints), keeps them in memory and writes them. `get` waits for it on a miss."""
        if not result.alerts:
            return
        with self._flushed:
            self._pending += len(result.alerts)
            self._queued += 1
        self._queue.put((parsed, result))

    def _entries(self, parsed: ParsedRequest, result: CheckResult) -> list[IssuedAlert]:
        lines = {o.rx_id: o for o in parsed.request.encounter.orders}
        items = [
            IssuedAlert(a.jr_id, result.judgement_id, a.rule_id, a.rule_class, a.kp_id, a.mdtrt_id,
                        a.drord_dr_codg, a.rx_ids, fingerprint(a, lines))
            for a in result.alerts
        ]  # fmt: skip
        with self._memory_lock:
            for item in items:
                self._memory[item.jr_id] = item
        with self._flushed:
            self._indexed += 1
            self._flushed.notify_all()
        return items

    def get(self, jr_id: str) -> IssuedAlert | None:
        """The issued alert `jr_id`, from memory or disk; None if the agent never answered it."""
        with self._memory_lock:
            item = self._memory.get(jr_id)
        if item is not None:
            return item
        with self._flushed:  # what was recorded until now is in memory (also while writes fail) …
            target = self._queued
            self._flushed.wait_for(lambda: self._indexed >= target, 10.0)
        with self._memory_lock:
            item = self._memory.get(jr_id)
        if item is not None:
            return item
        if self.fault.reason is None:  # … and, unless writes fail, on disk: older alerts are read from there
            self.flush()
        with self._db_lock:
            row = self._db.execute(
                "SELECT jr_id, judgement_id, rule_id, rule_class, kp_id, mdtrt_id, practitioner, rx_ids, fingerprint "
                "FROM issued WHERE jr_id = ?",
                (jr_id,),
            ).fetchone()
        if row is None:
            return None
        jr, judgement, rule_id, rule_class, kp_id, mdtrt_id, practitioner, rx_ids, printed = row
        rx = tuple(filter(None, rx_ids.split("\x1f")))
        return IssuedAlert(jr, judgement, rule_id, rule_class, kp_id, mdtrt_id, practitioner, rx, printed)

    def known(self, jr_id: str) -> bool:
        """True when the agent answered an alert with this jr_id."""
        return self.get(jr_id) is not None

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything recorded so far is on disk (False if `timeout` ran out)."""
        with self._flushed:
            return self._flushed.wait_for(lambda: self._pending == 0, timeout)

    def _write(self) -> None:
        backlog: list[IssuedAlert] = []  # known in memory, not yet on disk (kept while writes fail)
        while True:
            stop = False
            try:
                item = self._queue.get(timeout=RETRY_SECONDS) if backlog else self._queue.get()
            except queue.Empty:
                pass  # nothing new: try the backlog again
            else:
                stop = item is None
                if item is not None:
                    backlog.extend(self._entries(*item))
            while not stop and (len(backlog) < BATCH or self.fault.reason is not None):  # failing: index them all
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                else:
                    backlog.extend(self._entries(*more))
            if backlog and self._insert(backlog):
                backlog = []
            if stop:
                if backlog:  # closing while the file still refuses them: known until exit, then lost (logged)
                    _log.error("issued.not_written", alerts=len(backlog), reason=self.fault.reason)
                    self._written(len(backlog))
                return

    def _insert(self, batch: Iterable[IssuedAlert]) -> bool:
        """Write a batch; False when the write failed (latched in `fault`, tried again later)."""
        rows = [(i.jr_id, i.judgement_id, i.rule_id, i.rule_class, i.kp_id, i.mdtrt_id, i.practitioner,
                 "\x1f".join(i.rx_ids), i.fingerprint) for i in batch]  # fmt: skip
        try:
            with self._db_lock:
                self.fault.guard(lambda: self._commit(rows))
        except sqlite3.Error:  # latched (the `issued_alerts` alarm)
            return False
        self._written(len(rows))
        return True

    def _written(self, count: int) -> None:
        with self._flushed:
            self._pending -= count
            self._flushed.notify_all()

    def _commit(self, rows: Sequence[tuple[str, ...]]) -> None:
        self._db.execute("BEGIN")
        try:
            self._db.executemany("INSERT OR IGNORE INTO issued VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        """Write what is queued (a batch that still cannot be written is tried once more), stop the writer and
        close the database."""
        if self._writer.is_alive():
            self._queue.put(None)
            self._writer.join()
        with self._db_lock:
            self._db.close()
