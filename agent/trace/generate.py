"""A deterministic generator of real-shaped inbound codes and their catalogue, for scale tests and `bench/`.

Products: a few thousand 7-digit 药品标识码 (8 + 6 digits) mapped to 23-character national drug codes
(`X` + class + 通用名码 + 剂型码 + 9 digits), each with a package ratio; about one in fifty is an import with a
GTIN-14 (valid check digit, Chinese 690–699 prefix) instead. Codes: for a domestic product the 7-digit prefix and a
random 13-digit serial; for an import a GS1 human-readable string `(01)GTIN(17)YYMMDD(10)BATCH(21)SERIAL`. Each
product has a few batches with their expiry dates, a few of them already past (relative to a fixed base date,
never the clock). The same `seed` always gives the same codes, in ledger key order per product.

`write_csv` writes an inbound file (`drug_trac_codg,manu_lotnum,expy_end`) and the catalogue beside it;
`load_ledger` puts both straight into a ledger in large batches.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path

from .ledger import TraceLedger
from .stock import InboundRecord, Product

__all__ = [
    "GenProduct",
    "catalogue_path",
    "generate_codes",
    "generate_products",
    "load_ledger",
    "scan_form",
    "write_csv",
]

DEFAULT_PRODUCTS = 3000
DEFAULT_SEED = 20250701
GS1_SHARE = 50  # one product in this many is an import with a GTIN
BASE_DATE = date(2025, 7, 1)
PACK_UNITS = (6, 7, 10, 12, 14, 20, 24, 28, 30, 36, 48, 60, 100)
CLASSES = ("A02BC", "A10BA", "A11DA", "B01AC", "C08CA", "C09AA", "C10AA", "J01CA", "J01DC", "M01AE", "N02BE", "R05CB")
FORMS = ("A001", "A010", "C002", "E001", "G001", "H002", "L001")
LOAD_BATCH = 50_000


@dataclass(frozen=True, slots=True)
class GenProduct:
    """A generated product with its batches: (batch number, expiry) in manufacturing order."""

    product: Product
    gs1: bool
    batches: tuple[tuple[str, date], ...]


def _gtin14(rng: random.Random) -> str:
    body = f"0{rng.randint(690, 699)}{rng.randrange(10**9):09d}"  # indicator 0 + GTIN-13 without its check digit
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


def generate_products(count: int = DEFAULT_PRODUCTS, seed: int = DEFAULT_SEED) -> list[GenProduct]:
    """`count` products, sorted by product key, deterministic for `seed`."""
    rng = random.Random(seed)
    keys: set[str] = set()
    out: list[GenProduct] = []
    while len(out) < count:
        gs1 = rng.randrange(GS1_SHARE) == 0
        key = _gtin14(rng) if gs1 else f"8{rng.randrange(10**6):06d}"
        if key in keys:
            continue
        keys.add(key)
        hilist = (
            f"X{rng.choice(CLASSES)}{rng.choice('ABCDEFGHJKLMNPQRSTW')}{rng.randrange(1000):03d}"
            f"{rng.choice(FORMS)}{rng.randrange(10**9):09d}"
        )
        made = [BASE_DATE - timedelta(days=rng.randrange(30, 800)) for _ in range(rng.randint(1, 4))]
        shelf = timedelta(days=rng.choice((730, 1095)))  # a few batches made long ago are past their expiry
        batches = tuple((f"{d:%y%m%d}{n:02d}", d + shelf) for n, d in enumerate(sorted(made), 1))
        out.append(GenProduct(Product(key, hilist, "box", rng.choice(PACK_UNITS)), gs1, batches))
    out.sort(key=lambda p: p.product.product_key)
    return out


def generate_codes(count: int, products: list[GenProduct], seed: int = DEFAULT_SEED) -> Iterator[InboundRecord]:
    """`count` inbound codes spread over `products` (ledger key order within each product); the record's
    `hilist_code` is left empty (the catalogue carries it); `scan_form` gives the code as scanned."""
    rng = random.Random(seed + 1)
    share, extra = divmod(count, len(products))
    for n, gp in enumerate(products):
        k = share + (1 if n < extra else 0)
        key = gp.product.product_key
        if gp.gs1:
            serials = sorted(f"{s:010d}" for s in rng.sample(range(10**10), k))
            prefix = f"01{key}21"
        else:
            serials = [f"{s:013d}" for s in sorted(rng.sample(range(10**13), k))]
            prefix = key
        nb = len(gp.batches)
        for i, serial in enumerate(serials):
            batch, expiry = gp.batches[i * nb // k]
            record = InboundRecord(prefix + serial, key, batch, expiry)
            # a GS1 box is received as scanned (as `fundguard trace import` of a scan list records it)
            yield replace(record, scan=scan_form(record), scan_expiry=expiry, scan_batch=batch) if gp.gs1 else record


def scan_form(record: InboundRecord) -> str:
    """The code as a scanner reads it: the 20 digits, or a GS1 human-readable string with expiry and batch."""
    if len(record.key) == 20:
        return record.key
    gtin, serial = record.key[2:16], record.key[18:]
    expiry = f"{record.expiry:%y%m%d}" if record.expiry else ""
    return f"(01){gtin}(17){expiry}(10){record.batch}(21){serial}"


def catalogue_path(codes_csv: Path) -> Path:
    """Where `write_csv` puts the catalogue of a codes file: `<stem>.catalogue.csv` beside it."""
    return codes_csv.with_name(codes_csv.stem + ".catalogue.csv")


def write_csv(
    path: Path,
    count: int,
    *,
    products: int = DEFAULT_PRODUCTS,
    seed: int = DEFAULT_SEED,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Write `count` inbound codes to `path` and the catalogue to `catalogue_path(path)` (returned)."""
    items = generate_products(products, seed)
    cat = catalogue_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with cat.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(("product_key", "hilist_code", "pack_level", "pack_units"))
        out.writerows((p.product_key, p.hilist_code, p.pack_level, p.pack_units) for p in (g.product for g in items))
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(("drug_trac_codg", "manu_lotnum", "expy_end"))
        for n, r in enumerate(generate_codes(count, items, seed), 1):
            out.writerow((scan_form(r), r.batch, r.expiry.isoformat() if r.expiry else ""))
            if progress is not None and n % LOAD_BATCH == 0:
                progress(n)
    if progress is not None:
        progress(count)
    return cat


def load_ledger(
    ledger: TraceLedger,
    count: int,
    at: datetime,
    *,
    products: int = DEFAULT_PRODUCTS,
    seed: int = DEFAULT_SEED,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Put the catalogue and `count` codes straight into `ledger` (import run stamped `at`); returns how many codes
    were added (0 when the same generation is loaded again)."""
    items = generate_products(products, seed)
    ledger.upsert_products([g.product for g in items])
    added = done = 0
    batch: list[InboundRecord] = []
    source = f"generated:seed={seed}"
    for record in generate_codes(count, items, seed):
        batch.append(record)
        if len(batch) >= LOAD_BATCH:
            added += ledger.import_inbound(batch, source, at).added
            done += len(batch)
            batch.clear()
            if progress is not None:
                progress(done)
    if batch:
        added += ledger.import_inbound(batch, source, at).added
    if progress is not None:
        progress(count)
    return added
