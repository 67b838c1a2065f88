"""The in-memory view of which drugs the 无码库 holds: a check whose drug lines carry no code needs no ledger query
when the 无码库 holds none of its drugs, and the view never answers from a set older than the file, whoever wrote
it (the ledger's own connections, another connection, another process)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from fundguard.agent.engine.trace_model import TracePolicy
from fundguard.agent.intake import ParsedRequest
from fundguard.agent.kb import KbStore
from fundguard.agent.service import CheckService
from fundguard.agent.trace.ledger import TraceLedger
from fundguard.agent.trace.nocode_view import NocodeView
from fundguard.agent.trace.schema import connect
from fundguard.agent.trace.stock import NocodeStock
from fundguard.knowledge_base import default_bundle_path

from .ledger_samples import B1, VIT_B1, VIT_C, line, request, sale, stocked_ledger

POLICY = TracePolicy(exempt_prefixes=("T",))
LACKED = request("E1", line("1", VIT_B1, 2))  # no code scanned; the 无码库 holds no 维生素B1片
HELD = request("E1", line("1", VIT_C, 2))  # the 无码库 holds 5 维生素C片


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[TraceLedger]:
    """A stocked ledger (无码库: VIT_C only), closed after the test. Stocking it wrote the file after the view was
    read at open, so the first check of a lacked drug asks the ledger, and that query reads the view again."""
    with stocked_ledger(tmp_path / "trace.sqlite3") as opened:
        assert opened.needs_disk(LACKED, POLICY)
        opened.facts_for(LACKED, POLICY)
        yield opened


def test_a_drug_the_nocode_stock_lacks_needs_no_query(ledger: TraceLedger) -> None:
    """Without a code and without 无码库 stock, the answer is known in memory: empty, as the query would say."""
    assert not ledger.needs_disk(LACKED, POLICY)
    assert {} == dict(ledger.facts_for(LACKED, POLICY).nocode_left)
    assert ledger.needs_disk(HELD, POLICY)  # a drug it holds is always asked about (the units left)
    assert ledger.needs_disk(request("E1", line("1", VIT_B1, 1, (B1[0],))), POLICY)  # a scanned code: asked


def test_stock_added_by_another_connection_is_seen_at_the_next_check(ledger: TraceLedger) -> None:
    """`fundguard trace import` writes the file from its own process: the next check asks the ledger again and
    sees the new stock; from then on the drug is one the 无码库 holds."""
    assert not ledger.needs_disk(LACKED, POLICY)
    other = connect(ledger.path, create=False)
    try:
        other.execute("INSERT INTO nocode VALUES (?, ?)", (VIT_B1, "7"))
    finally:
        other.close()
    assert ledger.needs_disk(LACKED, POLICY)
    assert {VIT_B1: Decimal(7)} == dict(ledger.facts_for(LACKED, POLICY).nocode_left)
    assert ledger.needs_disk(LACKED, POLICY)


def test_stock_added_by_another_process_is_seen(ledger: TraceLedger) -> None:
    """The same with a writer in another process (as the command line is)."""
    assert not ledger.needs_disk(LACKED, POLICY)
    script = (
        "import sqlite3, sys; db = sqlite3.connect(sys.argv[1], isolation_level=None);"
        " db.execute('INSERT INTO nocode VALUES (?, ?)', (sys.argv[2], '3')); db.close()"
    )
    subprocess.run([sys.executable, "-c", script, str(ledger.path), VIT_B1], check=True, timeout=60)
    assert ledger.needs_disk(LACKED, POLICY)
    assert {VIT_B1: Decimal(3)} == dict(ledger.facts_for(LACKED, POLICY).nocode_left)


def test_any_write_makes_the_view_ask_once_then_the_query_refreshes_it(ledger: TraceLedger) -> None:
    """A dispense (the ledger's own pool) changes the file: the next check of a lacked drug asks the ledger, whose
    query reads the set again; the one after answers from memory."""
    assert ledger.dispense(sale("E9", "1", (B1[0],), 1)).accepted
    assert ledger.needs_disk(LACKED, POLICY)
    assert {} == dict(ledger.facts_for(LACKED, POLICY).nocode_left)
    assert not ledger.needs_disk(LACKED, POLICY)


def test_a_removed_row_and_a_set_call_keep_the_view_true(ledger: TraceLedger) -> None:
    """`set_nocode` for a new drug and a row deleted by another connection: each is seen after one ledger query."""
    ledger.set_nocode([NocodeStock(VIT_B1, Decimal(1))])
    assert ledger.needs_disk(LACKED, POLICY)
    ledger.facts_for(LACKED, POLICY)
    other = connect(ledger.path, create=False)
    try:
        other.execute("DELETE FROM nocode WHERE hilist_code = ?", (VIT_B1,))
    finally:
        other.close()
    assert ledger.needs_disk(LACKED, POLICY)
    assert {} == dict(ledger.facts_for(LACKED, POLICY).nocode_left)
    assert not ledger.needs_disk(LACKED, POLICY)


def test_the_view_never_waits_and_is_empty_until_read(tmp_path: Path) -> None:
    """Not read yet, or its lock held by a refresh: "ask the ledger". A closed connection: the same, no error."""
    path = tmp_path / "trace.sqlite3"
    connect(path).close()
    view = NocodeView(connect(path, create=False))
    assert not view.holds_none_of([VIT_B1])
    view.refresh_if_stale()
    assert view.holds_none_of([VIT_B1])
    with view._lock:  # a refresh in progress on another thread
        assert not view.holds_none_of([VIT_B1])
    view.close()
    assert not view.holds_none_of([VIT_B1])
    view.refresh_if_stale()  # a closed connection: stays "ask the ledger"
    assert not view.holds_none_of([VIT_B1])
    with pytest.raises(sqlite3.ProgrammingError):
        view._db.execute("SELECT 1")


def test_a_reopened_ledger_reads_the_view_at_open(ledger: TraceLedger) -> None:
    """The agent's start: the view is read when the ledger opens, so the first check needs no query either."""
    with TraceLedger(ledger.path) as reopened:
        assert not reopened.needs_disk(LACKED, POLICY)
        assert reopened.needs_disk(HELD, POLICY)


def test_the_check_service_judges_such_a_check_in_memory(ledger: TraceLedger) -> None:
    """Through the check service: `touches_disk` is False (a transport answers it inline) and the line is still
    blocked for its missing code (无码不付), exactly as after a ledger query."""
    kb = KbStore()
    kb.load(default_bundle_path())
    service = CheckService(kb, trace=ledger, trace_policy=POLICY)
    parsed = ParsedRequest(LACKED, date(2026, 7, 15))
    assert not service.touches_disk(parsed)
    in_memory = [(a.rule_name, a.rx_ids) for a in service.check(parsed).result.alerts]
    assert ("药品未扫描追溯码", ("1",)) in in_memory
    assert ledger.dispense(sale("E9", "1", (B1[0],), 1)).accepted  # the file changed: the next check asks
    assert service.touches_disk(parsed)
    assert in_memory == [(a.rule_name, a.rx_ids) for a in service.check(parsed).result.alerts]
