"""Sales (3505) and returns (3506) as a state machine: a box code is sold once until returned, 拆零 boxes cover
several split dispenses until their units are used, lines without codes draw the 无码库, repeats are idempotent,
a refusal records nothing — and two concurrent settlements of one code, from two threads or two processes with
their own connections, end with exactly one sale."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from fundguard.agent.trace.ledger import TraceLedger
from fundguard.agent.trace.settle import CodeOutcome, DispenseOutcome, ReturnOutcome

from .ledger_samples import AT, B1, C1, STRAY, VIT_C, sale, stocked_ledger


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[TraceLedger]:
    """A stocked ledger, closed after the test."""
    with stocked_ledger(tmp_path / "trace.sqlite3") as opened:
        yield opened


def test_box_code_sold_twice_is_refused_the_second_time(ledger: TraceLedger) -> None:
    """The same box settled in a second encounter is refused naming the first sale; nothing is recorded."""
    assert DispenseOutcome(True, (CodeOutcome(B1[0], units=Decimal(1)),)) == ledger.dispense(sale("E1", "1", (B1[0],)))
    before = ledger.counts()
    second = ledger.dispense(sale("E2", "1", (B1[0], B1[1])))
    assert (False, "sold") == (second.accepted, second.reason)
    assert ["sold", ""] == [c.reason for c in second.codes]
    assert "E1" in second.detail
    assert before == ledger.counts()
    assert ([], "in_stock") == (ledger.lookup(B1[1])["sales"], ledger.lookup(B1[1])["state"])


def test_after_a_return_the_code_can_be_sold_again(ledger: TraceLedger) -> None:
    """3506 releases the code: a later sale to another encounter is accepted."""
    assert ledger.dispense(sale("E1", "1", (B1[0],))).accepted
    assert ReturnOutcome(True, (B1[0],)) == ledger.return_line("E1", "1", AT)
    assert ledger.dispense(sale("E2", "1", (B1[0],))).accepted
    assert ["E1", "E2"] == [s["mdtrt_id"] for s in ledger.lookup(B1[0])["sales"]]


def test_the_same_dispense_repeated_is_idempotent(ledger: TraceLedger) -> None:
    """A 3505 sent twice for one line is accepted as a repeat and changes nothing."""
    first = ledger.dispense(sale("E1", "1", (B1[0], B1[1]), 2))
    before = ledger.counts()
    again = ledger.dispense(sale("E1", "1", (B1[0], B1[1]), 2))
    assert (True, True, first.codes) == (again.accepted, again.repeat, again.codes)
    assert before == ledger.counts()


def test_a_different_dispense_of_an_open_line_is_refused(ledger: TraceLedger) -> None:
    """The line is dispensed already with other codes: refused until it is returned."""
    assert ledger.dispense(sale("E1", "1", (B1[0],))).accepted
    other = ledger.dispense(sale("E1", "1", (B1[1],)))
    assert (False, "line_dispensed") == (other.accepted, other.reason)
    assert ledger.return_line("E1", "1", AT).returned
    assert ledger.dispense(sale("E1", "1", (B1[1],))).accepted


def test_split_box_covers_several_dispenses_until_its_units_are_used(ledger: TraceLedger) -> None:
    """拆零, box of 10: 4 + 4 are accepted, 3 more is refused (2 left), 2 is accepted, then the box is used up and
    a new box code is needed."""
    assert ledger.dispense(sale("E1", "1", (B1[0],), 4, trdn=True)).accepted
    assert ledger.dispense(sale("E2", "1", (B1[0],), 4, trdn=True)).accepted
    short = ledger.dispense(sale("E3", "1", (B1[0],), 3, trdn=True))
    assert (False, "exhausted") == (short.accepted, short.reason)
    assert "2 left" in short.detail
    assert ledger.dispense(sale("E3", "1", (B1[0],), 2, trdn=True)).accepted
    assert "used_up" == ledger.lookup(B1[0])["state"]
    assert "exhausted" == ledger.dispense(sale("E4", "1", (B1[0],), 1, trdn=True)).reason
    assert ledger.dispense(sale("E4", "1", (B1[1],), 1, trdn=True)).accepted


def test_split_units_spread_over_the_boxes_in_order(ledger: TraceLedger) -> None:
    """12 units from a box with 6 left and a fresh box: 6 from the first, 6 from the second."""
    assert ledger.dispense(sale("E1", "1", (B1[0],), 4, trdn=True)).accepted
    got = ledger.dispense(sale("E2", "1", (B1[0], B1[1]), 12, trdn=True))
    assert [Decimal(6), Decimal(6)] == [c.units for c in got.codes]
    assert {"units_used": "6", "units_left": "4"} == ledger.lookup(B1[1])["split"]


def test_returned_split_units_go_back_to_the_box(ledger: TraceLedger) -> None:
    """Returning a 拆零 line puts its units back: the box can cover them again."""
    assert ledger.dispense(sale("E1", "1", (B1[0],), 10, trdn=True)).accepted
    assert ledger.return_line("E1", "1", AT).returned
    assert {"units_used": "0", "units_left": "10"} == ledger.lookup(B1[0])["split"]
    assert ledger.dispense(sale("E2", "1", (B1[0],), 10, trdn=True)).accepted


def test_opened_box_cannot_be_sold_whole_and_a_sold_box_cannot_be_split(ledger: TraceLedger) -> None:
    """A box with 拆零 units used is no longer a whole box; a box sold whole cannot be opened for 拆零."""
    assert ledger.dispense(sale("E1", "1", (B1[0],), 3, trdn=True)).accepted
    assert "opened" == ledger.dispense(sale("E2", "1", (B1[0],))).reason
    assert ledger.dispense(sale("E1", "2", (B1[1],))).accepted
    assert "sold" == ledger.dispense(sale("E2", "2", (B1[1],), 1, trdn=True)).reason


def test_split_needs_the_pack_size(ledger: TraceLedger) -> None:
    """拆零 of a box whose product has no catalogued pack size cannot be tracked: refused with the reason."""
    got = ledger.dispense(sale("E1", "1", (STRAY,), 2, trdn=True))
    assert (False, "pack_units_unknown") == (got.accepted, got.reason)


@pytest.mark.parametrize(
    ("codes", "reasons"),
    [
        (("8385793000087976666",), ["malformed"]),
        ((B1[0], B1[0]), ["", "duplicate_code"]),
        ((B1[0], "ABC"), ["", "malformed"]),
    ],
)
def test_malformed_and_duplicate_scans_are_refused(
    ledger: TraceLedger, codes: tuple[str, ...], reasons: list[str]
) -> None:
    """Each code's reason is given; the line is refused and nothing is recorded."""
    got = ledger.dispense(sale("E1", "1", codes, len(codes)))
    assert (False, reasons) == (got.accepted, [c.reason for c in got.codes])
    assert 0 == ledger.counts()["open_sales"]


def test_line_without_codes_draws_the_nocode_stock(ledger: TraceLedger) -> None:
    """No code: 3 of the 5 vitamin C boxes in the 无码库 are drawn; 3 more is refused (2 left); exempt lines draw
    nothing; the return puts the 3 back."""
    got = ledger.dispense(sale("E1", "1", (), 3, hilist_code=VIT_C))
    assert (True, Decimal(3)) == (got.accepted, got.nocode_units)
    short = ledger.dispense(sale("E2", "1", (), 3, hilist_code=VIT_C))
    assert (False, "nocode_short") == (short.accepted, short.reason)
    exempt = ledger.dispense(sale("E2", "1", (), 3, hilist_code=VIT_C, exempt=True))
    assert (True, Decimal(0)) == (exempt.accepted, exempt.nocode_units)
    assert ReturnOutcome(True, (), Decimal(3)) == ledger.return_line("E1", "1", AT)
    assert ledger.dispense(sale("E3", "1", (), 5, hilist_code=VIT_C)).accepted


def test_line_without_codes_and_no_nocode_stock_is_refused(ledger: TraceLedger) -> None:
    """A drug with no 无码库 entry at all: refused (无码不付)."""
    assert "nocode_short" == ledger.dispense(sale("E1", "1", (), 1)).reason


def test_returning_what_was_not_dispensed(ledger: TraceLedger) -> None:
    """A return of an unknown line, or a second return, says not_dispensed."""
    assert ReturnOutcome(False, reason="not_dispensed") == ledger.return_line("E9", "1", AT)
    assert ledger.dispense(sale("E1", "1", (C1,), hilist_code=VIT_C)).accepted
    assert ledger.return_line("E1", "1", AT).returned
    assert not ledger.return_line("E1", "1", AT).returned


def test_quantity_must_be_positive(ledger: TraceLedger) -> None:
    """cnt ≤ 0 is not a sale: ValueError naming the field."""
    with pytest.raises(ValueError, match=r"^cnt: "):
        ledger.dispense(sale("E1", "1", (B1[0],), 0))


def test_the_database_refuses_a_second_open_sale_of_a_box(tmp_path: Path) -> None:
    """Whatever the code path, the unique index refuses a second open whole-box sale of one code."""
    with stocked_ledger(tmp_path / "t.sqlite3") as ledger:
        assert ledger.dispense(sale("E1", "1", (B1[0],))).accepted
    db = sqlite3.connect(tmp_path / "t.sqlite3")
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO sales VALUES (99, ?, 'E2', '1', 0, '1', 'x', NULL)", (B1[0],))
    db.close()


def _race(ledger: TraceLedger, code: str, encounters: list[str]) -> list[DispenseOutcome]:
    """One thread per encounter, released together, each settling `code`; their outcomes."""
    barrier = threading.Barrier(len(encounters))
    outcomes: list[DispenseOutcome] = []

    def settle(mdtrt_id: str) -> None:
        barrier.wait()
        outcomes.append(ledger.dispense(sale(mdtrt_id, "1", (code,))))

    threads = [threading.Thread(target=settle, args=(m,)) for m in encounters]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_two_threads_settling_one_code_exactly_one_succeeds(ledger: TraceLedger) -> None:
    """Eight threads (eight connections) settle the same box in eight encounters at once, ten times over:
    each time exactly one is accepted and the others are refused as sold."""
    for round_ in range(10):
        encounters = [f"R{round_}-E{n}" for n in range(8)]
        outcomes = _race(ledger, B1[round_ % len(B1)], encounters)
        assert 1 == sum(o.accepted for o in outcomes)
        assert {"sold"} == {o.reason for o in outcomes if not o.accepted}
        for mdtrt_id in encounters:
            ledger.return_line(mdtrt_id, "1", AT)


def _settle_in_process(path: str, mdtrt_id: str, code: str, start: object, results: object) -> None:
    """Child process: open the ledger (own connection), wait until every child has, settle the code."""
    with TraceLedger(Path(path)) as ledger:
        start.wait(timeout=60)  # type: ignore[attr-defined]
        outcome = ledger.dispense(sale(mdtrt_id, "1", (code,)))
    results.put((mdtrt_id, outcome.accepted, outcome.reason))  # type: ignore[attr-defined]


@pytest.mark.slow
def test_two_processes_settling_one_code_exactly_one_succeeds(tmp_path: Path) -> None:
    """Four processes, each with its own connection, settle the same box at the same moment: exactly one sale is
    recorded, the others are refused as sold."""
    path = tmp_path / "trace.sqlite3"
    stocked_ledger(path).close()
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(4)
    results = ctx.Queue()
    procs = [ctx.Process(target=_settle_in_process, args=(str(path), f"P{n}", B1[0], start, results)) for n in range(4)]
    for p in procs:
        p.start()
    got = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert 1 == sum(accepted for _, accepted, _ in got)
    assert {"sold"} == {reason for _, accepted, reason in got if not accepted}
    winner = next(m for m, accepted, _ in got if accepted)
    with TraceLedger(path) as ledger:
        assert [winner] == [s["mdtrt_id"] for s in ledger.lookup(B1[0])["sales"]]
