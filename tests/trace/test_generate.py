"""The generator: deterministic for a seed, real-shaped (every code parses to its record's key and product, domestic
codes are 8 + 6 + 13 digits, imports are GS1 with expiry and batch), its catalogue covers every product, and its
output imports cleanly — into a file or straight into a ledger, where loading it again adds nothing."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from fundguard.agent.trace.codes import CodeKind, TraceCode, parse_code
from fundguard.agent.trace.generate import (
    catalogue_path,
    generate_codes,
    generate_products,
    load_ledger,
    scan_form,
    write_csv,
)
from fundguard.agent.trace.importer import ImportKind, import_file
from fundguard.agent.trace.ledger import TraceLedger

from .ledger_samples import AT

HILIST = re.compile(r"^X[A-Z]\d{2}[A-Z]{2}[A-Z]\d{3}[A-Z]\d{3}\d{9}$")


def test_same_seed_same_codes_other_seed_other_codes() -> None:
    """Two runs with one seed agree; another seed gives other codes."""
    products = generate_products(200, seed=1)
    assert list(generate_codes(2_000, products, seed=1)) == list(generate_codes(2_000, products, seed=1))
    assert products == generate_products(200, seed=1)
    assert {r.key for r in generate_codes(2_000, products, seed=1)} != {
        r.key for r in generate_codes(2_000, products, seed=2)
    }


def test_products_are_real_shaped_and_unique() -> None:
    """7-digit keys start with 8 or GTIN-14 keys are valid; national codes have the 23-character shape; keys are
    sorted and unique; a few products are imports."""
    products = generate_products(2_000)
    keys = [g.product.product_key for g in products]
    assert sorted(set(keys)) == keys
    assert all(HILIST.match(g.product.hilist_code) for g in products)
    domestic = [k for k in keys if len(k) == 7]
    assert all(k.startswith("8") for k in domestic)
    imports = [g for g in products if g.gs1]
    assert 10 <= len(imports) <= 100
    for g in imports:
        parsed = parse_code(f"(01){g.product.product_key}(21)X1")
        assert isinstance(parsed, TraceCode), parsed


def test_every_code_parses_to_its_record() -> None:
    """The scanned form of every generated code parses to the record's key, product, expiry and batch."""
    products = generate_products(300)
    records = list(generate_codes(6_000, products))
    assert 6_000 == len({r.key for r in records})
    kinds = set()
    for r in records:
        parsed = parse_code(scan_form(r))
        assert isinstance(parsed, TraceCode), parsed
        assert (r.key, r.product_key) == (parsed.key, parsed.product_key)
        if parsed.kind is CodeKind.GS1:
            assert (r.expiry, r.batch) == (parsed.expiry, parsed.batch)
        kinds.add(parsed.kind)
    assert {CodeKind.DOMESTIC, CodeKind.GS1} == kinds


def test_written_files_import_without_rejections(tmp_path: Path) -> None:
    """The codes CSV and its catalogue import with nothing rejected; every code's product is catalogued."""
    codes = tmp_path / "codes.csv"
    cat = write_csv(codes, 3_000, products=100)
    assert catalogue_path(codes) == cat
    with cat.open(encoding="utf-8") as f:
        assert 100 == sum(1 for _ in csv.DictReader(f))
    with TraceLedger(tmp_path / "trace.sqlite3") as ledger:
        assert 100 == import_file(ledger, cat, ImportKind.CATALOGUE, AT).added
        report = import_file(ledger, codes, ImportKind.INBOUND, AT)
        assert (3_000, ()) == (report.added, report.rejected)
        with codes.open(encoding="utf-8") as f:
            first = next(csv.DictReader(f))["drug_trac_codg"]
        assert ledger.lookup(first)["product"] is not None


def test_load_ledger_is_idempotent(tmp_path: Path) -> None:
    """Loading a generation into a ledger adds its codes; loading it again adds none."""
    ticks: list[int] = []
    with TraceLedger(tmp_path / "trace.sqlite3") as ledger:
        assert 4_000 == load_ledger(ledger, 4_000, AT, products=40, progress=ticks.append)
        assert 0 == load_ledger(ledger, 4_000, AT, products=40)
        assert (40, 4_000) == (ledger.counts()["products"], ledger.counts()["inbound_codes"])
    assert 4_000 == ticks[-1]
