"""Loading the trace ledger: product catalogue, inbound (入库) codes and the 无码库, plus what `lookup` shows.

Every loader takes one batch of already validated rows (the importer parses and checks the file) and applies it in
one `BEGIN IMMEDIATE` transaction: existing rows are read with one `IN (…)` probe per few hundred keys, new rows
go in with `executemany`. All loaders are idempotent: loading the same rows again changes nothing (the counts say
"unchanged"). An inbound code already known with other data (batch, expiry, product) is a conflict: the first
record stands and the row's position and reason are returned, so that the importer can report its line.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

__all__ = ["ImportCounts", "InboundRecord", "NocodeStock", "Product", "import_inbound", "set_nocode", "upsert_products"]

PROBE = 500  # keys per IN (…) probe


@dataclass(frozen=True, slots=True)
class Product:
    """A catalogue row: 药品标识码 (or GTIN) → national drug code, package level, smallest units per box."""

    product_key: str
    hilist_code: str
    pack_level: str = ""
    pack_units: int | None = None


@dataclass(frozen=True, slots=True)
class InboundRecord:
    """One received box: its canonical code key and product, batch and expiry; when the file names the drug
    (`hilist_code`, `pack_units`), an uncatalogued product is catalogued from it."""

    key: str
    product_key: str
    batch: str = ""
    expiry: date | None = None
    hilist_code: str = ""
    pack_units: int | None = None
    scan: str = ""  # a GS1 code as scanned (its key is not the scan): remembered so checks need not parse it again
    scan_expiry: date | None = None  # the scanned code's own AI 17 (may differ from the inbound record's expiry)
    scan_batch: str = ""  # ... and AI 10


@dataclass(frozen=True, slots=True)
class NocodeStock:
    """无码库 stock of one drug: units left (in the unit the HIS dispenses it in)."""

    hilist_code: str
    units: Decimal


@dataclass(frozen=True, slots=True)
class ImportCounts:
    """What one batch did; `conflicts` are (position in the batch, reason) of the rows not applied."""

    added: int = 0
    unchanged: int = 0
    updated: int = 0
    conflicts: tuple[tuple[int, str], ...] = ()


def _existing(db: sqlite3.Connection, sql: str, keys: Sequence[str]) -> Iterator[tuple[Any, ...]]:
    """Rows of `sql` (a SELECT ending in `IN ({})`) for `keys`, probed a few hundred at a time."""
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), PROBE):
        chunk = unique[start : start + PROBE]
        yield from db.execute(sql.format(",".join("?" * len(chunk))), chunk)


def _import_id(db: sqlite3.Connection, source: str, at: datetime) -> int:
    stamp = at.isoformat(timespec="seconds")
    row = db.execute("SELECT id FROM imports WHERE source = ? AND imported_at = ?", (source, stamp)).fetchone()
    if row is not None:
        return int(row[0])
    cur = db.execute("INSERT INTO imports (source, imported_at) VALUES (?, ?)", (source, stamp))
    return int(cur.lastrowid or 0)


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """One write transaction (BEGIN IMMEDIATE … COMMIT), rolled back on any exception."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:  # a COMMIT that failed (disk full) may have ended it already
            db.execute("ROLLBACK")
        raise


def upsert_products(db: sqlite3.Connection, rows: Sequence[Product]) -> ImportCounts:
    """Add or update catalogue rows (the last row of a key wins); counts added / unchanged / updated."""
    sql = "SELECT product_key, hilist_code, pack_level, pack_units FROM products WHERE product_key IN ({})"
    added = unchanged = updated = 0
    with _transaction(db):
        known = {r[0]: tuple(r) for r in _existing(db, sql, [p.product_key for p in rows])}
        write = {}
        for p in rows:
            row = (p.product_key, p.hilist_code, p.pack_level, p.pack_units)
            before = known.get(p.product_key)
            if before == row:
                unchanged += 1
                continue
            added, updated = (added + 1, updated) if before is None else (added, updated + 1)
            known[p.product_key] = write[p.product_key] = row
        db.executemany("INSERT OR REPLACE INTO products VALUES (?, ?, ?, ?)", write.values())
    return ImportCounts(added, unchanged, updated)


def _catalogue_conflict(r: InboundRecord, catalogued: tuple[str, int | None] | None) -> str:
    """Why the row's drug contradicts the catalogue ("" when it does not)."""
    if catalogued is None or not r.hilist_code:
        return ""
    hilist_code, pack_units = catalogued
    if hilist_code != r.hilist_code:
        return f"hilist_code: product {r.product_key} is catalogued as {hilist_code}, this line says {r.hilist_code}"
    if r.pack_units is not None and pack_units is not None and pack_units != r.pack_units:
        return f"pack_units: product {r.product_key} has {pack_units} units per box, this line says {r.pack_units}"
    return ""


def import_inbound(db: sqlite3.Connection, rows: Sequence[InboundRecord], source: str, at: datetime) -> ImportCounts:
    """Add inbound codes; a known code with the same data is unchanged, with other data a conflict."""
    sql_codes = "SELECT key, product_key, batch, expiry FROM inbound WHERE key IN ({})"
    sql_products = "SELECT product_key, hilist_code, pack_units FROM products WHERE product_key IN ({})"
    added = unchanged = 0
    conflicts: list[tuple[int, str]] = []
    with _transaction(db):
        known = {r[0]: tuple(r[1:]) for r in _existing(db, sql_codes, [r.key for r in rows])}
        named = [r.product_key for r in rows if r.hilist_code]
        catalogue = {r[0]: (r[1], r[2]) for r in _existing(db, sql_products, named)}
        new_codes: list[tuple[str, str, str, str | None]] = []
        new_products: dict[str, tuple[str, str, str, int | None]] = {}
        for pos, r in enumerate(rows):
            data = (r.product_key, r.batch, r.expiry.isoformat() if r.expiry else None)
            before = known.get(r.key)
            if before is not None:
                if before == data:
                    unchanged += 1
                else:
                    conflicts.append((pos, f"code already in stock with batch {before[1]!r}, expiry {before[2]}"))
                continue
            clash = _catalogue_conflict(r, catalogue.get(r.product_key))
            if clash:
                conflicts.append((pos, clash))
                continue
            if r.hilist_code and (r.product_key not in catalogue or catalogue[r.product_key][1] is None):
                catalogue[r.product_key] = (r.hilist_code, r.pack_units)
                new_products[r.product_key] = (r.product_key, r.hilist_code, "", r.pack_units)
            known[r.key] = data
            new_codes.append((r.key, *data))
        if new_codes:
            import_id = _import_id(db, source, at)
            db.executemany("INSERT INTO inbound VALUES (?, ?, ?, ?, ?)", [(*c, import_id) for c in new_codes])
        scans = [(r.scan, r.key, r.product_key, r.scan_expiry.isoformat() if r.scan_expiry else None, r.scan_batch)
                 for r in rows if r.scan]  # fmt: skip
        if scans:  # also for codes already in stock: a new scan form of a known box
            db.executemany("INSERT OR IGNORE INTO scans VALUES (?, ?, ?, ?, ?)", scans)
        db.executemany(
            "INSERT INTO products VALUES (?, ?, ?, ?)"
            " ON CONFLICT (product_key) DO UPDATE SET pack_units = excluded.pack_units",
            new_products.values(),
        )
        added = len(new_codes)
    return ImportCounts(added, unchanged, 0, tuple(conflicts))


def set_nocode(db: sqlite3.Connection, rows: Sequence[NocodeStock]) -> ImportCounts:
    """Set the 无码库 units left per drug (the last row of a drug wins); counts added / unchanged / updated."""
    sql = "SELECT hilist_code, units_left FROM nocode WHERE hilist_code IN ({})"
    added = unchanged = updated = 0
    with _transaction(db):
        known = {code: Decimal(units) for code, units in _existing(db, sql, [r.hilist_code for r in rows])}
        write: dict[str, str] = {}
        for r in rows:
            before = known.get(r.hilist_code)
            if before == r.units:
                unchanged += 1
                continue
            added, updated = (added + 1, updated) if before is None else (added, updated + 1)
            known[r.hilist_code] = r.units
            write[r.hilist_code] = str(r.units)
        db.executemany("INSERT OR REPLACE INTO nocode VALUES (?, ?)", write.items())
    return ImportCounts(added, unchanged, updated)
