"""Import a file into the trace ledger: inbound codes (入库), the product catalogue, or the 无码库.

The file is streamed (`readers`: CSV with a header row, a JSON array or JSON Lines) and applied in batches, one
transaction each, so a million-line file neither sits in memory nor holds the ledger's write lock for long; a
progress callback gets the bytes read after every batch. Every line that is not imported is in the report with
its line number and the reason (a malformed code says `parse_code`'s reason, a bad date names the column, a code
already in stock with other data says so), and everything else is imported: nothing is lost silently.
Importing the same file again changes nothing (the report counts its lines as unchanged).

Columns (CSV header names = JSON keys; extra ones are ignored):
- inbound: `drug_trac_codg` (required), `manu_lotnum` (or `batch`), `expy_end` (or `expiry`, YYYY-MM-DD),
  `hilist_code` and `pack_units` (catalogue the product when it is not yet);
- catalogue: `product_key` (7-digit 药品标识码 or GTIN), `hilist_code` (required), `pack_level`, `pack_units`;
- nocode: `hilist_code`, `units` (or `units_left`): the 无码库 quantity left, set absolutely.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any

from .codes import CodeProblem, parse_code
from .ledger import TraceLedger
from .readers import JSON_SUFFIXES, BadRow, ByteCounter, Row, read_rows
from .stock import ImportCounts, InboundRecord, NocodeStock, Product

__all__ = [
    "BATCH_ROWS",
    "ImportFileError",
    "ImportKind",
    "ImportReport",
    "Rejected",
    "catalogue_product",
    "import_file",
    "inbound_record",
    "nocode_stock",
]

BATCH_ROWS = 20_000  # rows per transaction: ~1 MB of CSV; the write lock is held a fraction of a second
GTIN_LENGTHS = (8, 12, 13, 14)

Progress = Callable[[int], None]  # bytes of the file read so far


class ImportKind(StrEnum):
    """What a file holds."""

    INBOUND = "inbound"
    CATALOGUE = "catalogue"
    NOCODE = "nocode"


class ImportFileError(Exception):
    """The file cannot be imported at all (unreadable, or a CSV header without a required column)."""


@dataclass(frozen=True, slots=True)
class Rejected:
    """A line not imported, and why ("column: problem")."""

    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did: records read, added / unchanged / updated, and every rejected line in line order."""

    kind: ImportKind
    source: str
    records: int
    added: int
    unchanged: int
    updated: int
    rejected: tuple[Rejected, ...]


REQUIRED = {
    ImportKind.INBOUND: ("drug_trac_codg",),
    ImportKind.CATALOGUE: ("product_key", "hilist_code"),
    ImportKind.NOCODE: ("hilist_code",),
}


def _first(fields: Mapping[str, str], *names: str) -> str:
    return next((fields[n] for n in names if fields.get(n)), "")


def _date(fields: Mapping[str, str], *names: str) -> date | None:
    """The date in the first of `names` present; ValueError naming the column when it is not YYYY-MM-DD."""
    name = next((n for n in names if fields.get(n)), None)
    if name is None:
        return None
    text = fields[name]
    try:  # a national datetime ("2027-05-31 00:00:00") carries its date first
        return date.fromisoformat(text[:10] if len(text) > 10 and text[10] in " T" else text)
    except ValueError:
        raise ValueError(f"{name}: {text!r} is not a date (YYYY-MM-DD)") from None


def _pack_units(fields: Mapping[str, str]) -> int | None:
    text = fields.get("pack_units", "")
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or int(text) <= 0:
        raise ValueError(f"pack_units: {text!r} is not a positive whole number")
    return int(text)


def inbound_record(fields: Mapping[str, str]) -> InboundRecord:
    """One inbound line's fields (stripped text) as a record; ValueError "column: problem" when invalid: a
    malformed code (parse_code's reason), a bad date or pack size, or a batch / expiry contradicting the GS1
    code's own AI 10 / AI 17."""
    code = parse_code(fields.get("drug_trac_codg", ""))
    if isinstance(code, CodeProblem):
        raise ValueError(f"drug_trac_codg: {code.reason}: {code.detail}")
    batch = _first(fields, "manu_lotnum", "batch")
    if code.batch and batch and batch != code.batch:
        raise ValueError(f"manu_lotnum: {batch!r} but the code carries batch (AI 10) {code.batch!r}")
    expiry = _date(fields, "expy_end", "expiry")
    if code.expiry and expiry and expiry != code.expiry:
        raise ValueError(f"expy_end: {expiry} but the code carries expiry (AI 17) {code.expiry}")
    hilist_code = fields.get("hilist_code", "")
    scan = code.raw if code.raw != code.key else ""  # a GS1 scan: remembered, so checks need not parse it again
    return InboundRecord(
        code.key, code.product_key, batch or code.batch, expiry or code.expiry, hilist_code, _pack_units(fields),
        scan, code.expiry, code.batch,
    )  # fmt: skip


def catalogue_product(fields: Mapping[str, str]) -> Product:
    """One catalogue line as a product (a GTIN-8/12/13 padded to 14 digits); ValueError "column: problem"."""
    key = fields.get("product_key", "")
    domestic = len(key) == 7 and key.startswith("8")
    if not key.isdigit() or not (domestic or len(key) in GTIN_LENGTHS):
        raise ValueError(f"product_key: {key!r} is neither a 7-digit 药品标识码 (8…) nor a GTIN")
    if not fields.get("hilist_code"):
        raise ValueError("hilist_code: missing")
    product_key = key if domestic else key.zfill(14)
    return Product(product_key, fields["hilist_code"], fields.get("pack_level", ""), _pack_units(fields))


def nocode_stock(fields: Mapping[str, str]) -> NocodeStock:
    """One 无码库 line as a quantity of a drug; ValueError "column: problem"."""
    if not fields.get("hilist_code"):
        raise ValueError("hilist_code: missing")
    text = _first(fields, "units", "units_left")
    try:
        units = Decimal(text)
    except InvalidOperation:
        units = Decimal(-1)
    if not units.is_finite() or units < 0:
        raise ValueError(f"units: {text!r} is not a quantity ≥ 0")
    return NocodeStock(fields["hilist_code"], units)


_VALIDATE: dict[ImportKind, Callable[[Mapping[str, str]], Any]] = {
    ImportKind.INBOUND: inbound_record,
    ImportKind.CATALOGUE: catalogue_product,
    ImportKind.NOCODE: nocode_stock,
}


def _apply(ledger: TraceLedger, kind: ImportKind, batch: Sequence[Any], source: str, at: datetime) -> ImportCounts:
    if kind is ImportKind.INBOUND:
        return ledger.import_inbound(batch, source, at)
    if kind is ImportKind.CATALOGUE:
        return ledger.upsert_products(batch)
    return ledger.set_nocode(batch)


def _check_header(path: Path, kind: ImportKind, row: Row) -> None:
    """A CSV whose header lacks a required column is refused whole (rather than every line rejected)."""
    if path.suffix.lower() in JSON_SUFFIXES:
        return
    missing = [c for c in REQUIRED[kind] if c not in row.fields]
    if missing:
        found = ", ".join(row.fields) or "none"
        raise ImportFileError(f"{path}: line 1: the header has no column {', '.join(missing)} (found {found})")


def import_file(
    ledger: TraceLedger,
    path: Path,
    kind: ImportKind,
    at: datetime,
    *,
    progress: Progress | None = None,
    batch_rows: int = BATCH_ROWS,
) -> ImportReport:
    """Stream the file at `path` into the ledger in batches (see the module docstring); `at` stamps the import."""
    source = str(path)
    validate = _VALIDATE[kind]
    rejected: list[Rejected] = []
    totals = [0, 0, 0]  # added, unchanged, updated
    batch: list[Any] = []
    lines: list[int] = []
    counter: list[ByteCounter] = []
    records = 0
    checked = False

    def flush() -> None:
        counts = _apply(ledger, kind, batch, source, at)
        totals[0] += counts.added
        totals[1] += counts.unchanged
        totals[2] += counts.updated
        rejected.extend(Rejected(lines[pos], reason) for pos, reason in counts.conflicts)
        batch.clear()
        lines.clear()
        if progress is not None and counter:
            progress(counter[0].done)

    try:
        for item in read_rows(path, counter):
            records += 1
            if isinstance(item, BadRow):
                rejected.append(Rejected(item.line, item.reason))
                continue
            if not checked:
                _check_header(path, kind, item)
                checked = True
            try:
                batch.append(validate(item.fields))
            except ValueError as exc:
                rejected.append(Rejected(item.line, str(exc)))
                continue
            lines.append(item.line)
            if len(batch) >= batch_rows:
                flush()
        flush()
    except OSError as exc:
        raise ImportFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    rejected.sort(key=lambda r: r.line)
    return ImportReport(kind, source, records, totals[0], totals[1], totals[2], tuple(rejected))
