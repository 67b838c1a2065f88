"""The ledger's check path: `facts_for` answers, per scanned code, what the ledger knows (format problem, product,
stock, expiry, open sale, 拆零 units used) and the 无码库 left, and a re-check of dispensed lines does not count
them against themselves. Also: threads share a fixed set of connections opened at start (new threads open no
files), and a closed ledger refuses use."""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from fundguard.agent.engine.trace_model import CodeFacts, TracePolicy
from fundguard.agent.trace.ledger import TraceLedger
from fundguard.agent.trace.stock import InboundRecord

from ..open_files import needs_proc, open_files
from .ledger_samples import (
    AT,
    B1,
    B1_BOX,
    B1_EXPIRY,
    C1,
    GS1,
    GS1_KEY,
    GTIN,
    IMPORTED,
    STRAY,
    UNCATALOGUED,
    VIT_B1,
    VIT_C,
    line,
    request,
    sale,
    stocked_ledger,
)

POLICY = TracePolicy(exempt_prefixes=("T",))


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[TraceLedger]:
    """A stocked ledger, closed after the test."""
    with stocked_ledger(tmp_path / "trace.sqlite3") as opened:
        yield opened


def test_received_catalogued_code(ledger: TraceLedger) -> None:
    """A received domestic code: its product's national code and pack size, in stock, the inbound expiry."""
    facts = ledger.facts_for(request("E1", line("1", VIT_B1, 1, (B1[0],))), POLICY)
    expected = CodeFacts(
        B1[0],
        kind="domestic",
        product_key=B1_BOX,
        product_hilist_code=VIT_B1,
        pack_units=10,
        in_stock=True,
        expiry=B1_EXPIRY,
        key=B1[0],
    )
    assert {B1[0]: expected} == dict(facts.codes)
    assert POLICY == facts.policy


def test_unknown_code_of_an_uncatalogued_product(ledger: TraceLedger) -> None:
    """A well-formed code never received, of a product not in the catalogue: not in stock, no product."""
    facts = ledger.facts_for(request("E1", line("1", VIT_B1, 1, (STRAY,))), POLICY)
    expected = CodeFacts(STRAY, kind="domestic", product_key=UNCATALOGUED, key=STRAY)
    assert expected == facts.codes[STRAY]


def test_malformed_code_carries_its_reason_only(ledger: TraceLedger) -> None:
    """A code that is not a code gets parse_code's reason and detail, and no ledger facts."""
    facts = ledger.facts_for(request("E1", line("1", VIT_B1, 1, ("8385793000087976666",))), POLICY)
    got = facts.codes["8385793000087976666"]
    assert ("length", "", False, None) == (got.problem, got.kind, got.in_stock, got.product_hilist_code)
    assert "20" in got.problem_detail


def test_gs1_expiry_from_the_code_when_the_inbound_record_has_none(ledger: TraceLedger) -> None:
    """The GS1 box was received without an expiry: its AI 17 applies; the key is the canonical 01…21… form."""
    got = ledger.facts_for(request("E1", line("1", IMPORTED, 1, (GS1,))), POLICY).codes[GS1]
    assert ("gs1", GTIN, IMPORTED, 30, True) == (
        got.kind,
        got.product_key,
        got.product_hilist_code,
        got.pack_units,
        got.in_stock,
    )
    assert (date(2027, 6, 30), GS1_KEY) == (got.expiry, got.key)


def test_inbound_expiry_wins_over_the_codes_own(tmp_path: Path) -> None:
    """When the inbound record has an expiry, that is the one reported."""
    with TraceLedger(tmp_path / "t.sqlite3") as ledger:
        ledger.import_inbound([InboundRecord(GS1_KEY, GTIN, "LOT42", date(2027, 1, 31))], "s", AT)
        got = ledger.facts_for(request("E1", line("1", IMPORTED, 1, (GS1,))), POLICY).codes[GS1]
    assert date(2027, 1, 31) == got.expiry


def test_code_sold_to_another_encounter(ledger: TraceLedger) -> None:
    """An open whole-box sale names its encounter and line; after the return it is gone."""
    assert ledger.dispense(sale("E1", "7", (B1[0],))).accepted
    got = ledger.facts_for(request("E2", line("1", VIT_B1, 1, (B1[0],))), POLICY).codes[B1[0]]
    assert ("E1", "7") == (got.sold_mdtrt_id, got.sold_rx_id)
    assert ledger.return_line("E1", "7", AT).returned
    got = ledger.facts_for(request("E2", line("1", VIT_B1, 1, (B1[0],))), POLICY).codes[B1[0]]
    assert ("", "") == (got.sold_mdtrt_id, got.sold_rx_id)


def test_split_units_used_exclude_the_line_under_check(ledger: TraceLedger) -> None:
    """拆零: units taken by other encounters, and by other lines of this encounter, count; the line's own
    earlier dispense (a re-check) does not."""
    assert ledger.dispense(sale("E1", "1", (B1[1],), 4, trdn=True)).accepted
    assert ledger.dispense(sale("E2", "1", (B1[1],), 3, trdn=True)).accepted
    assert ledger.dispense(sale("E2", "2", (B1[1],), 2, trdn=True)).accepted
    recheck = request("E2", line("1", VIT_B1, 3, (B1[1],), trdn=True))
    assert Decimal(6) == ledger.facts_for(recheck, POLICY).codes[B1[1]].units_used
    other = request("E3", line("1", VIT_B1, 1, (B1[1],), trdn=True))
    assert Decimal(9) == ledger.facts_for(other, POLICY).codes[B1[1]].units_used


def test_nocode_left_for_lines_without_codes(ledger: TraceLedger) -> None:
    """The 无码库 is reported for drugs of current lines that carry no code; a re-check adds back the line's own
    draw; a drug without 无码库 stock is absent."""
    req = request("E1", line("1", VIT_C, 2), line("2", VIT_B1, 1), line("3", VIT_B1, 1, (B1[0],)))
    assert {VIT_C: Decimal(5)} == dict(ledger.facts_for(req, POLICY).nocode_left)
    assert ledger.dispense(sale("E1", "1", (), 2, hilist_code=VIT_C)).accepted
    assert {VIT_C: Decimal(5)} == dict(ledger.facts_for(req, POLICY).nocode_left)
    other = request("E2", line("1", VIT_C, 1))
    assert {VIT_C: Decimal(3)} == dict(ledger.facts_for(other, POLICY).nocode_left)


def test_needs_disk_exactly_when_facts_for_queries(tmp_path: Path) -> None:
    """`needs_disk` is True for a line carrying a code and for a drug that may draw the 无码库; for services, exempt
    drugs and earlier lines it is False, and `facts_for` then answers empty without a connection: it does so even on
    a closed ledger, which refuses every query."""
    service, exempt = line("1", "001102000010000-110200001", 1), line("2", "T0100000000001", 1)
    earlier = line("0", VIT_B1, 1, (B1[3],))
    earlier.current = False
    asks = [request("E1", line("1", VIT_B1, 1, (B1[0],))), request("E1", service, line("2", VIT_C, 1))]
    quiet = request("E1", service, exempt, earlier)
    with stocked_ledger(tmp_path / "trace.sqlite3") as ledger:
        assert [True, True, False] == [ledger.needs_disk(r, POLICY) for r in (*asks, quiet)]
    facts = ledger.facts_for(quiet, POLICY)  # closed now
    assert ({}, {}) == (dict(facts.codes), dict(facts.nocode_left))
    with pytest.raises((RuntimeError, sqlite3.ProgrammingError), match="closed"):
        ledger.facts_for(asks[1], POLICY)


def test_only_current_lines_and_real_codes_are_looked_up(ledger: TraceLedger) -> None:
    """Lines with curr_drord_flag 0 are context, blank scans are nothing; surrounding blanks are stripped."""
    earlier = line("0", VIT_B1, 1, (B1[3],))
    earlier.current = False
    req = request("E1", earlier, line("1", VIT_B1, 1, ("  ", f" {B1[2]} ")))
    assert [B1[2]] == list(ledger.facts_for(req, POLICY).codes)


def test_same_code_on_two_lines_is_one_entry(ledger: TraceLedger) -> None:
    """A code scanned on two lines is one entry (the rules see the repeat from the lines)."""
    req = request("E1", line("1", VIT_B1, 1, (B1[0],)), line("2", VIT_B1, 1, (B1[0], C1)))
    assert {B1[0], C1} == set(ledger.facts_for(req, POLICY).codes)


def test_threads_read_in_parallel_with_the_pools_connections(ledger: TraceLedger) -> None:
    """Eight threads checking at once (more than the ledger's connections) all get the same facts."""
    req = request("E1", line("1", VIT_B1, 1, (B1[0], GS1, STRAY)))
    expected = ledger.facts_for(req, POLICY)
    got: list[object] = []
    barrier = threading.Barrier(8)

    def work() -> None:
        barrier.wait()
        got.extend(ledger.facts_for(req, POLICY) for _ in range(20))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [expected] * 160 == got


@needs_proc
def test_new_threads_open_no_files(tmp_path: Path) -> None:
    """The ledger's files are opened at start (two pooled connections and the 无码库 view's: database and WAL
    each, and the shared memory index); twelve new threads, twice, checking codes and recording sales at once,
    leave them as they were, and close() closes them all."""
    ledger = stocked_ledger(tmp_path / "trace.sqlite3", connections=2)
    at_start = open_files(tmp_path)
    assert Counter({"trace.sqlite3": 3, "trace.sqlite3-wal": 3, "trace.sqlite3-shm": 1}) == at_start
    req = request("E1", line("1", VIT_B1, 1, (B1[0], GS1, STRAY)))
    barrier = threading.Barrier(12)

    def work(n: int) -> None:
        barrier.wait()
        ledger.facts_for(req, POLICY)
        ledger.dispense(sale(f"E{n}", "1", (), 1, hilist_code=VIT_C))

    for round_ in range(2):
        threads = [threading.Thread(target=work, args=(round_ * 12 + k,)) for k in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert at_start == open_files(tmp_path)
    ledger.close()
    assert Counter() == open_files(tmp_path)


def test_closed_ledger_refuses_new_connections(tmp_path: Path) -> None:
    """After close(), a thread cannot use the ledger."""
    ledger = TraceLedger(tmp_path / "t.sqlite3")
    ledger.close()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            ledger.counts()
        except RuntimeError as exc:
            errors.append(exc)

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert 1 == len(errors)
    assert "closed" in str(errors[0])


def test_a_gs1_scan_received_before_is_not_parsed_again(tmp_path: Path) -> None:
    """An inbound GS1 scan is remembered: its check reads the parse back from the ledger (biip is not called), with
    the same facts as a fresh parse."""
    from unittest import mock

    from fundguard.agent.trace import importer

    ledger = TraceLedger(tmp_path / "scans.sqlite3")
    record = importer.inbound_record({"drug_trac_codg": GS1, "expy_end": ""})
    ledger.import_inbound([record], "scan-list", AT)
    fresh = ledger.facts_for(request("E9", line("1", IMPORTED, 1, (GS1,))), POLICY).codes[GS1]
    with mock.patch("fundguard.agent.trace.ledger.parse_code", side_effect=AssertionError("parsed again")):
        remembered = ledger.facts_for(request("E9", line("1", IMPORTED, 1, (GS1,))), POLICY).codes[GS1]
    assert (fresh, "gs1", GS1_KEY, True) == (remembered, remembered.kind, remembered.key, remembered.in_stock)
