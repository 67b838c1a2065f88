"""The decision store: one row per alert (`jr_id`), written once, durable before the caller is answered.

A clinician answers an alert by going back to modify the order (`dspo_way` 2) or continuing with a reason
(`dspo_way` 1, reason required; the edge refuses it without one). The national 3103 feedback, the CDS Hooks
feedback endpoint and later the pop-up page all land here. SQLite (stdlib) in WAL mode with synchronous=FULL: a
decision acknowledged to the HIS survives a crash or power cut. Idempotent by `jr_id`: the first decision stands,
a repeat is reported as such and not stored again. With the register of issued alerts, a decision on a `jr_id` the
agent never answered is not stored (`UNKNOWN`); transports call `unknown()` first to refuse it naming the field.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from fundguard.agent.faults import FaultLatch

from .fatigue import DecidedAlerts
from .issued import IssuedAlerts

__all__ = ["Decision", "DecisionStore", "StoreResult"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    jr_id TEXT PRIMARY KEY,
    dspo_way TEXT NOT NULL,
    dspo_way_rea TEXT NOT NULL,
    warn_type TEXT NOT NULL,
    source TEXT NOT NULL,
    decided_at TEXT NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class Decision:
    """One clinician decision: `dspo_way` "1" continue (with `dspo_way_rea`) or "2" modify the order."""

    jr_id: str
    dspo_way: str
    dspo_way_rea: str
    warn_type: str  # "1" 事前 (after 3101), "2" 事中 (after 3102)
    source: str  # which transport brought it: nhsa-3103, cds-hooks …
    decided_at: str  # ISO timestamp given by the caller (the store reads no clock)


class StoreResult(StrEnum):
    """What `record` did."""

    STORED = "stored"
    DUPLICATE = "duplicate"  # the same decision was already stored
    CONFLICT = "conflict"  # a different decision for this jr_id was stored first; it stands
    UNKNOWN = "unknown"  # no alert with this jr_id was answered by this agent: not stored


class DecisionStore:
    """SQLite-backed, thread-safe; `path` ":memory:" for tests."""

    def __init__(
        self,
        path: Path | str,
        issued: IssuedAlerts | None = None,
        decided: DecidedAlerts | None = None,
        *,
        on_stored: Callable[[Sequence[Decision], Sequence[StoreResult]], None] | None = None,
    ) -> None:
        if isinstance(path, Path):
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._issued = issued
        self._decided = decided
        self._on_stored = on_stored  # told after each durable record (the uplink's decision events)
        self.fault = FaultLatch(str(path))  # the last failed write (disk full, locked): the `decisions` alarm
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(_SCHEMA)
            if decided is not None and self._has_issued():  # the most recent decisions, the newest added last
                rows = self._db.execute(
                    "SELECT i.mdtrt_id, i.rule_id, i.fingerprint FROM decisions d JOIN issued i ON i.jr_id = d.jr_id"
                    " ORDER BY d.decided_at DESC, d.rowid DESC LIMIT ?",
                    (decided.capacity,),
                ).fetchall()
                for key in reversed(rows):
                    decided.add(*key)

    def _has_issued(self) -> bool:
        row = self._db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'issued'").fetchone()
        return row is not None

    def unknown(self, decisions: Sequence[Decision]) -> list[int]:
        """Positions of the decisions whose jr_id no answered alert has (empty without a register)."""
        if self._issued is None:
            return []
        return [n for n, d in enumerate(decisions) if not self._issued.known(d.jr_id)]

    def record(self, decisions: Sequence[Decision]) -> list[StoreResult]:
        """Store each decision unless its jr_id already has one (or is unknown); one durable transaction."""
        out: list[StoreResult] = []
        unknown = set(self.unknown(decisions))
        with self._lock:
            self.fault.guard(lambda: self._store(decisions, unknown, out))
        if self._on_stored is not None:
            self._on_stored(decisions, out)
        return out

    def _store(self, decisions: Sequence[Decision], unknown: set[int], out: list[StoreResult]) -> None:
        """One transaction (under the lock), each decision's result appended to `out`; the fatigue control is told
        of the decisions stored only once they are committed (a COMMIT that fails on a full disk stores nothing)."""
        stored: list[str] = []
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for n, d in enumerate(decisions):
                if n in unknown:
                    out.append(StoreResult.UNKNOWN)
                    continue
                row = self._db.execute(
                    "SELECT dspo_way, dspo_way_rea FROM decisions WHERE jr_id = ?", (d.jr_id,)
                ).fetchone()
                if row is None:
                    self._db.execute(
                        "INSERT INTO decisions VALUES (?, ?, ?, ?, ?, ?)",
                        (d.jr_id, d.dspo_way, d.dspo_way_rea, d.warn_type, d.source, d.decided_at),
                    )
                    out.append(StoreResult.STORED)
                    stored.append(d.jr_id)
                elif tuple(row) == (d.dspo_way, d.dspo_way_rea):
                    out.append(StoreResult.DUPLICATE)
                else:
                    out.append(StoreResult.CONFLICT)
            self._db.execute("COMMIT")
        except BaseException:
            out.clear()
            if self._db.in_transaction:  # a COMMIT that failed (disk full) may have ended it already
                self._db.execute("ROLLBACK")
            raise
        for jr_id in stored:
            self._remember(jr_id)

    def _remember(self, jr_id: str) -> None:
        """Tell the fatigue control: this alert (rule, encounter, lines as they were) is decided."""
        if self._decided is None or self._issued is None:
            return
        item = self._issued.get(jr_id)
        if item is not None:
            self._decided.add(item.mdtrt_id, item.rule_id, item.fingerprint)

    def get(self, jr_id: str) -> Decision | None:
        """The stored decision for `jr_id`, if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT jr_id, dspo_way, dspo_way_rea, warn_type, source, decided_at FROM decisions WHERE jr_id = ?",
                (jr_id,),
            ).fetchone()
        return None if row is None else Decision(*row)

    def count(self) -> int:
        """How many decisions are stored."""
        with self._lock:
            (n,) = self._db.execute("SELECT COUNT(*) FROM decisions").fetchone()
        return int(n)

    def override_rates(self) -> dict[str, list[dict[str, object]]]:
        """Override rate per rule and per practitioner: of the decided alerts (joined with the register of issued
        alerts in the same file), how many were continued (dspo_way 1) rather than modified."""
        out: dict[str, list[dict[str, object]]] = {}
        with self._lock:
            has_issued = self._has_issued()
            for key, column in (("by_rule", "i.rule_id"), ("by_practitioner", "i.practitioner")):
                rows = [] if not has_issued else self._db.execute(
                    f"SELECT {column}, COUNT(*), SUM(d.dspo_way = '1') FROM decisions d "
                    f"JOIN issued i ON i.jr_id = d.jr_id GROUP BY {column} ORDER BY {column}"
                ).fetchall()
                out[key] = [
                    {"key": k, "decided": n, "overridden": o, "override_rate": round(o / n, 4) if n else 0.0}
                    for k, n, o in rows
                ]
        return out

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
