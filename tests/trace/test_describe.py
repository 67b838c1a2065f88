"""`lookup` and `counts`: one code's parse, product, inbound record, 拆零 state and sale history with a one-word
state (unknown, in_stock, sold, opened, used_up), and the ledger's row counts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fundguard.agent.trace.ledger import TraceLedger

from .ledger_samples import AT, B1, STRAY, VIT_C, sale, stocked_ledger


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[TraceLedger]:
    """A stocked ledger, closed after the test."""
    with stocked_ledger(tmp_path / "trace.sqlite3") as opened:
        yield opened


def test_states_of_a_code(ledger: TraceLedger) -> None:
    """Received: in_stock; sold whole: sold; returned: in_stock again; 拆零 units used: opened, then used_up;
    never received: unknown."""
    assert "in_stock" == ledger.lookup(B1[0])["state"]
    ledger.dispense(sale("E1", "1", (B1[0],)))
    assert "sold" == ledger.lookup(B1[0])["state"]
    ledger.return_line("E1", "1", AT)
    assert "in_stock" == ledger.lookup(B1[0])["state"]
    ledger.dispense(sale("E2", "1", (B1[1],), 4, trdn=True))
    assert "opened" == ledger.lookup(B1[1])["state"]
    ledger.dispense(sale("E3", "1", (B1[1],), 6, trdn=True))
    assert "used_up" == ledger.lookup(B1[1])["state"]
    assert ("unknown", None, None) == tuple(ledger.lookup(STRAY)[k] for k in ("state", "product", "inbound"))


def test_sale_history_lists_returned_and_open_sales(ledger: TraceLedger) -> None:
    """Every sale of the code, in order, with its encounter, line, flag, units and return time."""
    ledger.dispense(sale("E1", "1", (B1[0],)))
    ledger.return_line("E1", "1", AT)
    ledger.dispense(sale("E2", "4", (B1[0],), 3, trdn=True))
    expected = [
        {"mdtrt_id": "E1", "rx_id": "1", "trdn_flag": False, "units": "1", "at": "2025-08-01T09:30:00",
         "returned_at": "2025-08-01T09:30:00"},
        {"mdtrt_id": "E2", "rx_id": "4", "trdn_flag": True, "units": "3", "at": "2025-08-01T09:30:00",
         "returned_at": None},
    ]  # fmt: skip
    assert expected == ledger.lookup(B1[0])["sales"]
    assert {"units_used": "3", "units_left": "7"} == ledger.lookup(B1[0])["split"]


def test_counts(ledger: TraceLedger) -> None:
    """Row counts of the stocked ledger after one open sale, one returned sale and a no-code draw."""
    ledger.dispense(sale("E1", "1", (B1[0],)))
    ledger.dispense(sale("E2", "1", (B1[1],)))
    ledger.return_line("E2", "1", AT)
    ledger.dispense(sale("E3", "1", (), 2, hilist_code=VIT_C))
    expected = {
        "products": 3,
        "inbound_codes": 7,
        "open_sales": 1,
        "returned_sales": 1,
        "opened_boxes": 0,
        "nocode_drugs": 1,
        "import_runs": 1,
    }
    assert expected == ledger.counts()
