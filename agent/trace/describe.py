"""What `fundguard trace lookup` and status show: one code's whole story in the ledger, and row counts.

Plain JSON-ready dicts, read in one snapshot. Encounter ids (`mdtrt_id`) and line ids appear, patient identity
never does (the ledger holds none).
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from typing import Any

from .codes import TraceCode

__all__ = ["counts", "describe"]

_COUNTS = {
    "products": "SELECT COUNT(*) FROM products",
    "inbound_codes": "SELECT COUNT(*) FROM inbound",
    "open_sales": "SELECT COUNT(*) FROM sales WHERE returned_at IS NULL",
    "returned_sales": "SELECT COUNT(*) FROM sales WHERE returned_at IS NOT NULL",
    "opened_boxes": "SELECT COUNT(*) FROM opened WHERE units_used != '0'",
    "nocode_drugs": "SELECT COUNT(*) FROM nocode",
    "import_runs": "SELECT COUNT(*) FROM imports",
}


def _state(inbound: bool, sold: bool, used: Decimal, pack_units: int | None) -> str:
    """One word for the code: sold (whole box, not returned), used_up / opened (拆零), in_stock or unknown."""
    if sold:
        return "sold"
    if used > 0:
        return "used_up" if pack_units is not None and used >= pack_units else "opened"
    return "in_stock" if inbound else "unknown"


def describe(db: sqlite3.Connection, code: TraceCode) -> dict[str, Any]:
    """The parse of `code`, its product, its inbound record, its 拆零 state and every sale of it, with a summary
    `state`."""
    db.execute("BEGIN")
    try:
        product = db.execute(
            "SELECT hilist_code, pack_level, pack_units FROM products WHERE product_key = ?", (code.product_key,)
        ).fetchone()
        inbound = db.execute(
            "SELECT i.batch, i.expiry, m.source, m.imported_at FROM inbound AS i"
            " LEFT JOIN imports AS m ON m.id = i.import_id WHERE i.key = ?",
            (code.key,),
        ).fetchone()
        opened = db.execute("SELECT units_used FROM opened WHERE key = ?", (code.key,)).fetchone()
        sales = db.execute(
            "SELECT mdtrt_id, rx_id, trdn, units, at, returned_at FROM sales WHERE key = ? ORDER BY at, dispense_id",
            (code.key,),
        ).fetchall()
    finally:
        db.execute("COMMIT")
    pack_units = product[2] if product is not None else None
    used = Decimal(opened[0]) if opened is not None else Decimal(0)
    sold = any(not trdn and returned is None for _, _, trdn, _, _, returned in sales)
    return {
        "code": code.raw,
        "state": _state(inbound is not None, sold, used, pack_units),
        "parse": {
            "kind": str(code.kind),
            "key": code.key,
            "product_key": code.product_key,
            "serial": code.serial,
            "expiry": code.expiry.isoformat() if code.expiry else None,
            "batch": code.batch or None,
        },
        "product": None
        if product is None
        else {"hilist_code": product[0], "pack_level": product[1], "pack_units": product[2]},
        "inbound": None
        if inbound is None
        else {"batch": inbound[0], "expiry": inbound[1], "source": inbound[2], "imported_at": inbound[3]},
        "split": None
        if opened is None
        else {
            "units_used": str(used),
            "units_left": None if pack_units is None else str(Decimal(pack_units) - used),
        },
        "sales": [
            {"mdtrt_id": m, "rx_id": rx, "trdn_flag": bool(t), "units": u, "at": at, "returned_at": ret}
            for m, rx, t, u, at, ret in sales
        ],
    }


def counts(db: sqlite3.Connection) -> dict[str, int]:
    """Row counts of the ledger's tables (the inbound count reads the whole table: seconds at 10M codes)."""
    return {name: int(db.execute(sql).fetchone()[0]) for name, sql in _COUNTS.items()}
