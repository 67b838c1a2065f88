"""Loading the ledger: catalogue upserts, inbound codes and the 无码库 are idempotent (the same rows again change
nothing), an inbound code known with other data is a conflict that keeps the first record, and an inbound row
naming its drug catalogues a new product or conflicts with the catalogue."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from fundguard.agent.trace.ledger import TraceLedger
from fundguard.agent.trace.stock import ImportCounts, InboundRecord, NocodeStock, Product

from .ledger_samples import AT, B1, B1_BOX, C_BOX, STRAY, UNCATALOGUED, VIT_B1, VIT_C


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[TraceLedger]:
    """An empty ledger, closed after the test."""
    with TraceLedger(tmp_path / "trace.sqlite3") as opened:
        yield opened


def test_catalogue_upsert_counts(ledger: TraceLedger) -> None:
    """New rows are added, the same rows unchanged, changed rows updated; the last row of a key wins."""
    rows = [Product(B1_BOX, VIT_B1, "box", 10), Product(C_BOX, VIT_C, "box", 24)]
    assert ImportCounts(added=2) == ledger.upsert_products(rows)
    assert ImportCounts(unchanged=2) == ledger.upsert_products(rows)
    changed = [Product(B1_BOX, VIT_B1, "box", 20), Product(B1_BOX, VIT_B1, "box", 30)]
    assert ImportCounts(updated=2) == ledger.upsert_products(changed)
    assert 30 == ledger.lookup(B1[0])["product"]["pack_units"]


def test_inbound_import_is_idempotent(ledger: TraceLedger) -> None:
    """The same rows again: all unchanged, the ledger (and its log of import runs) as it was."""
    rows = [InboundRecord(code, B1_BOX, "240601", date(2027, 5, 31)) for code in B1]
    assert ImportCounts(added=5) == ledger.import_inbound(rows, "a.csv", AT)
    before = ledger.counts()
    assert ImportCounts(unchanged=5) == ledger.import_inbound(rows, "a.csv", AT.replace(hour=12))
    assert before == ledger.counts()
    assert 1 == before["import_runs"]


def test_known_code_with_other_data_is_a_conflict_and_the_first_stands(ledger: TraceLedger) -> None:
    """A code already received with another batch or expiry is reported at its position; the first record stays."""
    ledger.import_inbound([InboundRecord(B1[0], B1_BOX, "240601", date(2027, 5, 31))], "a.csv", AT)
    rows = [
        InboundRecord(B1[1], B1_BOX, "240601", date(2027, 5, 31)),
        InboundRecord(B1[0], B1_BOX, "240999", date(2027, 5, 31)),
        InboundRecord(B1[0], B1_BOX, "240601", None),
    ]
    got = ledger.import_inbound(rows, "b.csv", AT)
    assert (1, 0, [1, 2]) == (got.added, got.unchanged, [pos for pos, _ in got.conflicts])
    assert "240601" in got.conflicts[0][1]
    assert {"batch": "240601", "expiry": "2027-05-31", "source": "a.csv", "imported_at": "2025-08-01T09:30:00"} == (
        ledger.lookup(B1[0])["inbound"]
    )


def test_duplicates_within_one_batch(ledger: TraceLedger) -> None:
    """The same code twice in one batch: once added, once unchanged (same data) or conflicting (other data)."""
    rows = [InboundRecord(B1[0], B1_BOX, "1"), InboundRecord(B1[0], B1_BOX, "1"), InboundRecord(B1[0], B1_BOX, "2")]
    got = ledger.import_inbound(rows, "a.csv", AT)
    assert (1, 1, [2]) == (got.added, got.unchanged, [pos for pos, _ in got.conflicts])


def test_inbound_row_naming_its_drug_catalogues_a_new_product(ledger: TraceLedger) -> None:
    """An uncatalogued product is catalogued from the row's hilist_code and pack_units."""
    ledger.import_inbound([InboundRecord(STRAY, UNCATALOGUED, "", None, VIT_C, 12)], "a.csv", AT)
    assert {"hilist_code": VIT_C, "pack_level": "", "pack_units": 12} == ledger.lookup(STRAY)["product"]


def test_inbound_row_contradicting_the_catalogue_is_a_conflict(ledger: TraceLedger) -> None:
    """Another national code, or another pack size, than the catalogue's: the row is not imported and the reason
    names the column; a pack size the catalogue lacks is filled in."""
    ledger.upsert_products([Product(B1_BOX, VIT_B1, "box", 10), Product(C_BOX, VIT_C, "box", None)])
    rows = [
        InboundRecord(B1[0], B1_BOX, hilist_code=VIT_C),
        InboundRecord(B1[1], B1_BOX, hilist_code=VIT_B1, pack_units=20),
        InboundRecord(B1[2], B1_BOX, hilist_code=VIT_B1, pack_units=10),
        InboundRecord(f"{C_BOX}0000000000001", C_BOX, hilist_code=VIT_C, pack_units=24),
    ]
    got = ledger.import_inbound(rows, "a.csv", AT)
    assert [0, 1] == [pos for pos, _ in got.conflicts]
    assert got.conflicts[0][1].startswith("hilist_code: ") and got.conflicts[1][1].startswith("pack_units: ")
    assert 2 == got.added
    assert 24 == ledger.lookup(f"{C_BOX}0000000000001")["product"]["pack_units"]


def test_nocode_stock_is_set_absolutely(ledger: TraceLedger) -> None:
    """The 无码库 quantity is set, not added: the same rows again change nothing; other quantities update."""
    rows = [NocodeStock(VIT_C, Decimal(5)), NocodeStock(VIT_B1, Decimal("2.5"))]
    assert ImportCounts(added=2) == ledger.set_nocode(rows)
    assert ImportCounts(unchanged=2) == ledger.set_nocode(rows)
    assert ImportCounts(updated=1) == ledger.set_nocode([NocodeStock(VIT_C, Decimal(7))])
    assert 2 == ledger.counts()["nocode_drugs"]
