"""The history store: the hospital's own record of its patients' settled encounters, diagnoses and order lines.

`HistoryStore(path)` owns one SQLite file (tables in `schema.py`) and a fixed pool of connections to it, opened at
start (`agent.connections`): each call checks one out (WAL: a cache miss on the check path reads while a
confirmation writes), and the open files never grow with threads. It offers:
- `confirm(settlement)`: a settled encounter (ConfirmSettlement), once per `mdtrt_id` + `setl_id` — sent twice, it
  is stored once (the first stands); it replaces what a Check request carried for that encounter;
- `remember(patn_id, encounters, at)`: earlier encounters a Check request carried, stored only when the store
  holds nothing for their mdtrt_id (never a duplicate);
- `load(patn_id)`: the patient's encounters as engine `Encounter`s (several settlements of one stay, 中途结算,
  come back as one encounter with all their lines);
- `purge(before)`: drop encounters dated before a day, with their diagnoses and lines, in one transaction;
- `counts()` for status and tests.
A write that fails (disk full, file locked) is rolled back, latched in `fault` (the agent's `history_store` alarm)
and raised. Patient ids are stored (the hospital's own data) and never logged here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from fundguard.agent.connections import DEFAULT_POOL_SIZE, ConnectionPool
from fundguard.agent.engine.history_model import encounter_date
from fundguard.agent.engine.model import Diagnosis, Encounter, OrderLine
from fundguard.agent.faults import FaultLatch

from .schema import connect

__all__ = ["HISTORY_FILE", "HistoryStore", "PurgeCounts", "Settlement"]

HISTORY_FILE = "history.sqlite3"  # under the agent's data dir, unless [history] path says otherwise

_ENCOUNTER_COLUMNS = (
    "patn_id, mdtrt_id, setl_id, visit_date, med_type, med_mdtrt_type, insutype, medins_lv, medins_id, medins_type,"
    " out_setl_flag, adm_date, dscg_date, dr_codg, dscg_main_dise_codg, settled_at, source"
)
_INSERT_ENCOUNTER = f"INSERT INTO encounters ({_ENCOUNTER_COLUMNS}) VALUES ({','.join('?' * 17)})"
_INSERT_DIAGNOSIS = "INSERT INTO diagnoses VALUES (?,?,?,?,?,?,?)"
_INSERT_LINE = "INSERT INTO lines VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
_LOAD_ENCOUNTERS = (
    "SELECT id, mdtrt_id, med_type, med_mdtrt_type, insutype, medins_lv, medins_id, medins_type, out_setl_flag,"
    " adm_date, dscg_date, dr_codg, dscg_main_dise_codg FROM encounters WHERE patn_id = ? ORDER BY visit_date, id"
)
_LOAD_DIAGNOSES = (
    "SELECT d.encounter_id, d.dise_codg, d.dise_name, d.maindise_flag, d.inout_dise_type, d.dise_date FROM diagnoses"
    " AS d JOIN encounters AS e ON e.id = d.encounter_id WHERE e.patn_id = ? ORDER BY d.encounter_id, d.seq"
)
_LOAD_LINES = (
    "SELECT l.encounter_id, l.rx_id, l.hilist_code, l.cnt, l.pric, l.sumamt, l.hilist_name, l.hilist_type,"
    " l.begn_date, l.stop_date, l.drord_dr_codg, l.long_drord, l.hosplist_code FROM lines AS l"
    " JOIN encounters AS e ON e.id = l.encounter_id WHERE e.patn_id = ? ORDER BY l.encounter_id, l.seq"
)
_OLD = "SELECT id FROM encounters WHERE visit_date < ?"


@dataclass(frozen=True, slots=True)
class Settlement:
    """One confirmed settlement: whose, which encounter (with its diagnoses and lines), its id and time."""

    patn_id: str
    encounter: Encounter
    setl_id: str
    settled_at: datetime


@dataclass(frozen=True, slots=True)
class PurgeCounts:
    """What a purge removed, and whose history changed."""

    encounters: int = 0
    diagnoses: int = 0
    lines: int = 0
    patients: frozenset[str] = frozenset()


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _day(raw: str | None) -> date | None:
    return None if raw is None else date.fromisoformat(raw)


def _text(value: Decimal) -> str:
    return format(value, "f")


class HistoryStore:
    """The store in the SQLite file at `path` (created on first use); thread-safe, `connections` connections opened
    now and shared by every thread that asks."""

    def __init__(self, path: Path, connections: int = DEFAULT_POOL_SIZE) -> None:
        self.path = path
        self._connections = ConnectionPool(path, connect, "history store", connections)  # the first creates the schema
        self.fault = FaultLatch(str(path))

    def close(self) -> None:
        """Close every connection."""
        self._connections.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing --------------------------------------------------------------------------------------------------

    def confirm(self, s: Settlement) -> bool:
        """Store a settlement; False when this `mdtrt_id` + `setl_id` was stored before (nothing changes)."""
        return self.fault.guard(lambda: self._confirm(s))

    def _confirm(self, s: Settlement) -> bool:
        with self._connections.connection() as db:
            return self._confirm_on(db, s)

    def _confirm_on(self, db: sqlite3.Connection, s: Settlement) -> bool:
        enc = s.encounter
        db.execute("BEGIN IMMEDIATE")
        try:
            known = db.execute(
                "SELECT 1 FROM encounters WHERE mdtrt_id = ? AND setl_id = ?", (enc.mdtrt_id, s.setl_id)
            ).fetchone()
            if known is None:
                db.execute("DELETE FROM encounters WHERE mdtrt_id = ? AND setl_id = ''", (enc.mdtrt_id,))
                self._insert(db, s.patn_id, enc, setl_id=s.setl_id, at=s.settled_at, source="settlement")
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:  # a COMMIT that failed (disk full) may have ended it already
                db.execute("ROLLBACK")
            raise
        return known is None

    def remember(self, patn_id: str, encounters: Iterable[Encounter], at: datetime) -> int:
        """Store the earlier encounters a request carried that the store holds nothing of; how many were added."""
        return self.fault.guard(lambda: self._remember(patn_id, encounters, at))

    def _remember(self, patn_id: str, encounters: Iterable[Encounter], at: datetime) -> int:
        with self._connections.connection() as db:
            return self._remember_on(db, patn_id, encounters, at)

    def _remember_on(self, db: sqlite3.Connection, patn_id: str, encounters: Iterable[Encounter], at: datetime) -> int:
        added = 0
        db.execute("BEGIN IMMEDIATE")
        try:
            for enc in encounters:
                if db.execute("SELECT 1 FROM encounters WHERE mdtrt_id = ? LIMIT 1", (enc.mdtrt_id,)).fetchone():
                    continue
                self._insert(db, patn_id, enc, setl_id="", at=at, source="request")
                added += 1
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:  # a COMMIT that failed (disk full) may have ended it already
                db.execute("ROLLBACK")
            raise
        return added

    @staticmethod
    def _insert(db: sqlite3.Connection, patn_id: str, e: Encounter, *, setl_id: str, at: datetime, source: str) -> None:
        visit = encounter_date(e) or at.date()
        row = (patn_id, e.mdtrt_id, setl_id, visit.isoformat(), e.med_type, e.med_mdtrt_type, e.insutype,
               e.medins_lv, e.medins_id, e.medins_type, e.out_setl_flag, _iso(e.adm_date), _iso(e.dscg_date),
               e.dr_codg, e.dscg_main_dise_codg, at.isoformat(timespec="seconds"), source)  # fmt: skip
        enc_id = db.execute(_INSERT_ENCOUNTER, row).lastrowid
        db.executemany(
            _INSERT_DIAGNOSIS,
            [(enc_id, n, d.dise_codg, d.dise_name, int(d.maindise_flag), d.inout_dise_type, _iso(d.dise_date))
             for n, d in enumerate(e.diagnoses)],
        )  # fmt: skip
        db.executemany(
            _INSERT_LINE,
            [(enc_id, n, o.rx_id, o.hilist_code, o.hosplist_code, o.hilist_name, o.hilist_type, _text(o.cnt),
              _text(o.pric), _text(o.sumamt), _iso(o.begn_date), _iso(o.stop_date), int(o.long_drord),
              o.drord_dr_codg) for n, o in enumerate(e.orders)],
        )  # fmt: skip

    def purge(self, before: date) -> PurgeCounts:
        """Remove every encounter dated before `before`, with its diagnoses and lines (one transaction)."""
        return self.fault.guard(lambda: self._purge(before))

    def _purge(self, before: date) -> PurgeCounts:
        with self._connections.connection() as db:
            return self._purge_on(db, before)

    def _purge_on(self, db: sqlite3.Connection, before: date) -> PurgeCounts:
        cutoff = before.isoformat()
        db.execute("BEGIN IMMEDIATE")
        try:
            patients = frozenset(r[0] for r in db.execute(
                "SELECT DISTINCT patn_id FROM encounters WHERE visit_date < ?", (cutoff,)))  # fmt: skip
            diagnoses = db.execute(f"SELECT COUNT(*) FROM diagnoses WHERE encounter_id IN ({_OLD})", (cutoff,))
            n_diagnoses = diagnoses.fetchone()[0]
            n_lines = db.execute(f"SELECT COUNT(*) FROM lines WHERE encounter_id IN ({_OLD})", (cutoff,)).fetchone()[0]
            n_encounters = db.execute("DELETE FROM encounters WHERE visit_date < ?", (cutoff,)).rowcount
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:  # a COMMIT that failed (disk full) may have ended it already
                db.execute("ROLLBACK")
            raise
        return PurgeCounts(n_encounters, n_diagnoses, n_lines, patients)

    # -- reading --------------------------------------------------------------------------------------------------

    def load(self, patn_id: str) -> tuple[Encounter, ...]:
        """The patient's stored encounters by date; the settlements of one mdtrt_id merged into one encounter."""
        with self._connections.connection() as db:
            db.execute("BEGIN")  # one snapshot across the three statements
            try:
                rows = db.execute(_LOAD_ENCOUNTERS, (patn_id,)).fetchall()
                diagnoses: dict[int, list[Diagnosis]] = {}
                for enc_id, codg, name, main, inout, day in db.execute(_LOAD_DIAGNOSES, (patn_id,)):
                    diagnoses.setdefault(enc_id, []).append(Diagnosis(codg, name, bool(main), inout, _day(day)))
                lines: dict[int, list[OrderLine]] = {}
                for r in db.execute(_LOAD_LINES, (patn_id,)):
                    line = OrderLine(r[1], r[2], Decimal(r[3]), Decimal(r[4]), Decimal(r[5]), r[6], r[7],
                                     begn_date=_day(r[8]), stop_date=_day(r[9]), drord_dr_codg=r[10], current=False,
                                     long_drord=bool(r[11]), hosplist_code=r[12])  # fmt: skip
                    lines.setdefault(r[0], []).append(line)
            finally:
                db.execute("COMMIT")
        merged: dict[str, Encounter] = {}
        for r in rows:
            enc = Encounter(r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], _day(r[9]), _day(r[10]), r[11],
                            dscg_main_dise_codg=r[12], diagnoses=tuple(diagnoses.get(r[0], ())),
                            orders=tuple(lines.get(r[0], ())))  # fmt: skip
            first = merged.get(enc.mdtrt_id)
            merged[enc.mdtrt_id] = enc if first is None else _merge(first, enc)
        return tuple(merged.values())

    def counts(self) -> dict[str, int]:
        """Row counts: patients, encounters (settlements), diagnoses, lines."""
        with self._connections.connection() as db:
            one = db.execute(
                "SELECT (SELECT COUNT(DISTINCT patn_id) FROM encounters), (SELECT COUNT(*) FROM encounters),"
                " (SELECT COUNT(*) FROM diagnoses), (SELECT COUNT(*) FROM lines)"
            ).fetchone()
        return dict(zip(("patients", "encounters", "diagnoses", "lines"), one, strict=True))


def _merge(first: Encounter, later: Encounter) -> Encounter:
    """Two settlements of one stay as one encounter: the widest dates, the later main diagnosis, every line once."""
    rx_ids = {o.rx_id for o in first.orders}
    days = [d for d in (first.dscg_date, later.dscg_date) if d is not None]
    return replace(
        first,
        adm_date=first.adm_date or later.adm_date,
        dscg_date=max(days) if days else None,
        dscg_main_dise_codg=later.dscg_main_dise_codg or first.dscg_main_dise_codg,
        diagnoses=_unique_diagnoses((*first.diagnoses, *later.diagnoses)),
        orders=(*first.orders, *(o for o in later.orders if o.rx_id not in rx_ids)),
    )


def _unique_diagnoses(items: Sequence[Diagnosis]) -> tuple[Diagnosis, ...]:
    seen: set[tuple[str, bool, str]] = set()
    out: list[Diagnosis] = []
    for d in items:
        key = (d.dise_codg, d.maindise_flag, d.inout_dise_type)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return tuple(out)
