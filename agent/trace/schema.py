"""The trace ledger's SQLite file: its tables, indexes and how every connection to it is opened.

One file (default `<data dir>/trace.sqlite3`) in WAL mode: readers (the check path) never wait for the writer (a
dispense, an import), and a 10M-code ledger stays on disk with only a modest page cache per connection. Every
lookup the check path makes is a primary-key or index probe (`facts_for` is one statement per code).

Quantities (units of a 拆零 sale, units used of an opened box, the 无码库) are stored as decimal TEXT and computed
with `Decimal` in Python, never as floating point. Dates are ISO TEXT (`YYYY-MM-DD`, timestamps
`YYYY-MM-DDTHH:MM:SS`).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

__all__ = ["CACHE_KIB", "SCHEMA", "SCHEMA_VERSION", "connect"]

SCHEMA_VERSION = 1
CACHE_KIB = 16 * 1024  # page cache per connection: B-tree interior pages of 10M codes fit; leaves come from the OS
BUSY_TIMEOUT_S = 30.0  # a writer waits this long for another writer (BEGIN IMMEDIATE) before giving up

SCHEMA = """
-- 药品标识码 (7 digits) or GTIN (14) → the national drug code, package level and units per box (package ratio).
CREATE TABLE IF NOT EXISTS products (
    product_key TEXT PRIMARY KEY,
    hilist_code TEXT NOT NULL,
    pack_level TEXT NOT NULL DEFAULT '',
    pack_units INTEGER              -- NULL: package ratio unknown (拆零 of such a box cannot be tracked)
) WITHOUT ROWID;

-- One row per import run: where inbound codes came from and when.
CREATE TABLE IF NOT EXISTS imports (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    imported_at TEXT NOT NULL
);

-- 入库: every box code received, keyed by the canonical code key (domestic: the 20 digits; GS1: 01 GTIN 21 serial).
CREATE TABLE IF NOT EXISTS inbound (
    key TEXT PRIMARY KEY,
    product_key TEXT NOT NULL,
    batch TEXT NOT NULL DEFAULT '',
    expiry TEXT,                    -- NULL: not given (a GS1 code's own AI 17 then applies)
    import_id INTEGER NOT NULL
) WITHOUT ROWID;

-- 3505 lines: one row per dispensed order line (encounter + rx_id); returned_at set by 3506.
CREATE TABLE IF NOT EXISTS dispenses (
    id INTEGER PRIMARY KEY,
    mdtrt_id TEXT NOT NULL,
    rx_id TEXT NOT NULL,
    hilist_code TEXT NOT NULL,
    cnt TEXT NOT NULL,
    trdn INTEGER NOT NULL,
    codes TEXT NOT NULL,            -- the codes as scanned, one per line (to recognise a repeated 3505)
    nocode_units TEXT NOT NULL,     -- drawn from the 无码库 by this line
    at TEXT NOT NULL,
    returned_at TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS dispenses_open_line ON dispenses (mdtrt_id, rx_id) WHERE returned_at IS NULL;

-- One row per code of a dispense. Whole box: units "1"; 拆零: smallest units taken from that opened box.
CREATE TABLE IF NOT EXISTS sales (
    dispense_id INTEGER NOT NULL REFERENCES dispenses (id),
    key TEXT NOT NULL,
    mdtrt_id TEXT NOT NULL,
    rx_id TEXT NOT NULL,
    trdn INTEGER NOT NULL,
    units TEXT NOT NULL,
    at TEXT NOT NULL,
    returned_at TEXT,
    PRIMARY KEY (dispense_id, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sales_key ON sales (key);
-- The database itself refuses a second open whole-box sale of one code, whatever the code path.
CREATE UNIQUE INDEX IF NOT EXISTS sales_open_box ON sales (key) WHERE trdn = 0 AND returned_at IS NULL;

-- 拆零 state: units already taken from an opened box (0 again once every split sale of it was returned).
CREATE TABLE IF NOT EXISTS opened (
    key TEXT PRIMARY KEY,
    units_used TEXT NOT NULL
) WITHOUT ROWID;

-- GS1 codes as scanned at import ("(01)…(17)…(10)…(21)…", or with GS separators) → their parse: the check path looks
-- a known scan up here (one probe) instead of parsing it again (biip: ~55 µs a code).
CREATE TABLE IF NOT EXISTS scans (
    raw TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    product_key TEXT NOT NULL,
    expiry TEXT,                    -- the code's own AI 17
    batch TEXT NOT NULL DEFAULT ''  -- the code's own AI 10
) WITHOUT ROWID;
-- 无码库: stock bought before 2025-07-01 without codes, per national drug code, in the lines' dispensing unit.
CREATE TABLE IF NOT EXISTS nocode (
    hilist_code TEXT PRIMARY KEY,
    units_left TEXT NOT NULL
) WITHOUT ROWID;
"""


def connect(path: Path, *, create: bool = True) -> sqlite3.Connection:
    """An autocommit connection to the ledger at `path` (transactions are explicit: BEGIN / BEGIN IMMEDIATE),
    usable from any thread that owns it; the schema is created when `create`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")  # a recorded sale survives a power cut, as the decision store's answers
    db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    db.execute("PRAGMA foreign_keys=ON")
    if create and db.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
        # One transaction, so that two processes opening a new ledger at once cannot half-create it.
        db.executescript(f"BEGIN IMMEDIATE;\n{SCHEMA}\nPRAGMA user_version = {SCHEMA_VERSION};\nCOMMIT;")
    return db
