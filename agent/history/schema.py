"""The history store's SQLite file: its tables, indexes and how every connection to it is opened.

One file (default `<data dir>/history.sqlite3`) in WAL mode: a cache miss on the check path reads while a settlement
confirmation writes. An encounter row is one settlement of one encounter (`mdtrt_id` + `setl_id`, unique: a
confirmation sent twice is stored once); history a Check request carried, never settled here, has `setl_id` ""
and gives way to the real settlement when it arrives. Diagnoses and order lines hang off their encounter row and go
with it (ON DELETE CASCADE), so a purge by date leaves no orphan. Dates are ISO TEXT, quantities and money decimal
TEXT (computed with `Decimal`, never floating point).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

__all__ = ["SCHEMA", "SCHEMA_VERSION", "connect"]

SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 30.0

SCHEMA = """
-- One settlement of one encounter (or, with setl_id '', an earlier encounter a Check request carried).
CREATE TABLE IF NOT EXISTS encounters (
    id INTEGER PRIMARY KEY,
    patn_id TEXT NOT NULL,
    mdtrt_id TEXT NOT NULL,
    setl_id TEXT NOT NULL,
    visit_date TEXT NOT NULL,       -- admission (visit) date, else discharge, else first line, else settlement date
    med_type TEXT NOT NULL DEFAULT '',
    med_mdtrt_type TEXT NOT NULL DEFAULT '',
    insutype TEXT NOT NULL DEFAULT '',
    medins_lv TEXT NOT NULL DEFAULT '',
    medins_id TEXT NOT NULL DEFAULT '',
    medins_type TEXT NOT NULL DEFAULT '',
    out_setl_flag TEXT NOT NULL DEFAULT '',
    adm_date TEXT,
    dscg_date TEXT,
    dr_codg TEXT NOT NULL DEFAULT '',
    dscg_main_dise_codg TEXT NOT NULL DEFAULT '',
    settled_at TEXT NOT NULL,
    source TEXT NOT NULL            -- 'settlement' (ConfirmSettlement) or 'request' (a Check request's history)
);
CREATE UNIQUE INDEX IF NOT EXISTS encounters_settlement ON encounters (mdtrt_id, setl_id);
CREATE INDEX IF NOT EXISTS encounters_patient ON encounters (patn_id, visit_date);
CREATE INDEX IF NOT EXISTS encounters_visit_date ON encounters (visit_date);

CREATE TABLE IF NOT EXISTS diagnoses (
    encounter_id INTEGER NOT NULL REFERENCES encounters (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    dise_codg TEXT NOT NULL,
    dise_name TEXT NOT NULL DEFAULT '',
    maindise_flag INTEGER NOT NULL DEFAULT 0,
    inout_dise_type TEXT NOT NULL DEFAULT '',
    dise_date TEXT,
    PRIMARY KEY (encounter_id, seq)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS lines (
    encounter_id INTEGER NOT NULL REFERENCES encounters (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    rx_id TEXT NOT NULL,
    hilist_code TEXT NOT NULL,
    hosplist_code TEXT NOT NULL DEFAULT '',
    hilist_name TEXT NOT NULL DEFAULT '',
    hilist_type TEXT NOT NULL DEFAULT '',
    cnt TEXT NOT NULL,
    pric TEXT NOT NULL,
    sumamt TEXT NOT NULL,
    begn_date TEXT,
    stop_date TEXT,
    long_drord INTEGER NOT NULL DEFAULT 0,
    drord_dr_codg TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (encounter_id, seq)
) WITHOUT ROWID;
"""


def connect(path: Path) -> sqlite3.Connection:
    """An autocommit connection (transactions are explicit) to the store at `path`, schema created if new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")  # a confirmed settlement survives a power cut
    db.execute("PRAGMA foreign_keys=ON")
    if db.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
        db.executescript(f"BEGIN IMMEDIATE;\n{SCHEMA}\nPRAGMA user_version = {SCHEMA_VERSION};\nCOMMIT;")
    return db
