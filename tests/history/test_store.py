"""The history store: settlements stored once per mdtrt_id + setl_id, kept across a restart, request history stored
without duplicates and replaced by the real settlement, several settlements of one stay loaded as one encounter,
and a purge by date that leaves the counts consistent (no orphan diagnosis or line); its files are opened at
start, and threads that come later open none."""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from fundguard.agent.engine.model import Encounter
from fundguard.agent.history import HistoryCache, HistoryStore, PurgeCounts, Settlement

from ..open_files import needs_proc, open_files
from .samples import PATIENT, SETTLED_AT, stay, tianma


def _first_stay() -> Settlement:
    enc = stay("S1", date(2026, 10, 1), date(2026, 10, 10), "I63.900", tianma("T0", date(2026, 10, 1), 10))
    return Settlement(PATIENT.patn_id, enc, "SETL-0001", SETTLED_AT)


def test_a_settlement_sent_twice_is_stored_once(tmp_path: Path) -> None:
    """The first confirmation stores; the same mdtrt_id + setl_id again changes nothing."""
    with HistoryStore(tmp_path / "history.sqlite3") as store:
        assert store.confirm(_first_stay()) is True
        assert store.confirm(_first_stay()) is False
        assert {"patients": 1, "encounters": 1, "diagnoses": 1, "lines": 1} == store.counts()
        assert ("S1",) == tuple(e.mdtrt_id for e in store.load(PATIENT.patn_id))


def test_history_survives_a_restart_field_for_field(tmp_path: Path) -> None:
    """Closed and reopened, the store gives back the encounter, its diagnosis and its line as they were confirmed
    (dates, decimals, flags), with the line marked as earlier context (not current)."""
    path = tmp_path / "history.sqlite3"
    with HistoryStore(path) as store:
        store.confirm(_first_stay())
    with HistoryStore(path) as store:
        (enc,) = store.load(PATIENT.patn_id)
    sent = _first_stay().encounter
    assert (sent.adm_date, sent.dscg_date, sent.dscg_main_dise_codg, sent.med_type, sent.insutype) == (
        enc.adm_date, enc.dscg_date, enc.dscg_main_dise_codg, enc.med_type, enc.insutype)  # fmt: skip
    assert sent.diagnoses == enc.diagnoses
    (line,) = enc.orders
    assert ("T0", Decimal(10), Decimal("10.00"), Decimal(100), date(2026, 10, 10), False) == (
        line.rx_id, line.cnt, line.pric, line.sumamt, line.stop_date, line.current)  # fmt: skip


def test_request_history_is_stored_once_and_gives_way_to_the_settlement(tmp_path: Path) -> None:
    """History a request carried is stored when the store holds nothing of it, never twice; the real settlement
    of that encounter then replaces it (one encounter row, from the settlement)."""
    with HistoryStore(tmp_path / "history.sqlite3") as store:
        carried = stay("S1", date(2026, 10, 1), date(2026, 10, 10), "I63.900")
        assert 1 == store.remember(PATIENT.patn_id, [carried], datetime(2026, 10, 20))
        assert 0 == store.remember(PATIENT.patn_id, [carried], datetime(2026, 10, 21))
        assert store.confirm(_first_stay()) is True
        assert 0 == store.remember(PATIENT.patn_id, [carried], datetime(2026, 10, 22))
        assert 1 == store.counts()["encounters"]
        (enc,) = store.load(PATIENT.patn_id)
        assert ("T0",) == tuple(o.rx_id for o in enc.orders)


def test_two_settlements_of_one_stay_load_as_one_encounter(tmp_path: Path) -> None:
    """中途结算: a stay settled twice (its own lines each time) loads as one encounter with both lines and the later
    discharge date."""
    with HistoryStore(tmp_path / "history.sqlite3") as store:
        part1 = stay("S1", date(2026, 9, 1), date(2026, 9, 30), "I63.900", tianma("T0", date(2026, 9, 1), 5))
        part2 = stay("S1", date(2026, 9, 1), date(2026, 10, 20), "I63.900", tianma("T1", date(2026, 10, 1), 5))
        store.confirm(Settlement(PATIENT.patn_id, part1, "SETL-A", SETTLED_AT))
        store.confirm(Settlement(PATIENT.patn_id, part2, "SETL-B", SETTLED_AT))
        (enc,) = store.load(PATIENT.patn_id)
    assert (("T0", "T1"), date(2026, 10, 20), 1) == (tuple(o.rx_id for o in enc.orders), enc.dscg_date,
                                                     len(enc.diagnoses))  # fmt: skip


def test_purge_removes_old_encounters_with_their_rows_and_keeps_counts_consistent(tmp_path: Path) -> None:
    """Encounters dated before the cut are removed with their diagnoses and lines (reported), the rest stay, the
    counts drop by exactly what was reported and no diagnosis or line is left without its encounter."""
    path = tmp_path / "history.sqlite3"
    with HistoryStore(path) as store:
        for n, year in enumerate((2019, 2020, 2024, 2026)):
            enc = stay(f"S{n}", date(year, 3, 1), date(year, 3, 5), "I63.900", tianma(f"T{n}", date(year, 3, 1), 3),
                       tianma(f"U{n}", date(year, 3, 2), 2))  # fmt: skip
            store.confirm(Settlement(PATIENT.patn_id if n else "P-OTHER-0001", enc, f"SETL-{n}", SETTLED_AT))
        before = store.counts()
        purged = store.purge(date(2021, 1, 1))
        after = store.counts()
        assert PurgeCounts(2, 2, 4, frozenset({PATIENT.patn_id, "P-OTHER-0001"})) == purged
        assert {"patients": 1, "encounters": 2, "diagnoses": 2, "lines": 4} == after
        assert before["lines"] - purged.lines == after["lines"]
        assert ("S2", "S3") == tuple(e.mdtrt_id for e in store.load(PATIENT.patn_id))
        assert PurgeCounts() == store.purge(date(2021, 1, 1))
    db = sqlite3.connect(path)
    orphans = db.execute(
        "SELECT (SELECT COUNT(*) FROM lines WHERE encounter_id NOT IN (SELECT id FROM encounters)),"
        " (SELECT COUNT(*) FROM diagnoses WHERE encounter_id NOT IN (SELECT id FROM encounters))"
    )
    assert (0, 0) == orphans.fetchone()
    db.close()


def test_an_undated_encounter_is_dated_by_its_settlement(tmp_path: Path) -> None:
    """An encounter with no admission, discharge or line date takes the settlement's date for retention."""
    with HistoryStore(tmp_path / "history.sqlite3") as store:
        store.confirm(Settlement(PATIENT.patn_id, Encounter("S9", med_type="11"), "SETL-9", datetime(2019, 5, 1)))
        assert 1 == store.purge(date(2020, 1, 1)).encounters


def test_retention_is_kept_by_the_first_settlement_of_each_day(tmp_path: Path) -> None:
    """With a retention, the cache purges what is older at start (`purge_expired`) and again on the first
    settlement of a new day: a stay that ages past retention while the agent runs leaves the store then."""
    today = [datetime(2026, 10, 10, 12, 0)]
    with HistoryStore(tmp_path / "history.sqlite3") as store:
        cache = HistoryCache(store, clock=lambda: today[0], retention_days=366)
        store.confirm(_first_stay())
        assert PurgeCounts() == cache.purge_expired()
        later = stay("S2", date(2027, 10, 12), date(2027, 10, 14), "J18.900")
        today[0] = datetime(2027, 10, 14, 12, 0)  # S1 (2026-10-01) is now past 366 days
        assert cache.confirm(PATIENT, later, "SETL-0002", today[0]) is True
        assert ("S2",) == tuple(e.mdtrt_id for e in store.load(PATIENT.patn_id))


@needs_proc
def test_new_threads_open_no_files(tmp_path: Path) -> None:
    """The store's files are opened at start (two connections: database and WAL each, and the shared memory index);
    sixteen new threads, twice, confirming settlements and loading them at once, leave them as they were, and
    close() closes them all."""
    store = HistoryStore(tmp_path / "history.sqlite3", connections=2)
    at_start = open_files(tmp_path)
    assert Counter({"history.sqlite3": 2, "history.sqlite3-wal": 2, "history.sqlite3-shm": 1}) == at_start
    barrier = threading.Barrier(16)

    def work(n: int) -> None:
        barrier.wait()
        enc = stay(f"S{n}", date(2026, 10, 1), date(2026, 10, 10), "I63.900", tianma("T0", date(2026, 10, 1), 10))
        store.confirm(Settlement(f"P{n % 4}", enc, f"SETL-{n}", SETTLED_AT))
        store.load(f"P{n % 4}")

    for round_ in range(2):
        threads = [threading.Thread(target=work, args=(round_ * 16 + k,)) for k in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert at_start == open_files(tmp_path)
    assert {"patients": 4, "encounters": 32, "diagnoses": 32, "lines": 32} == store.counts()
    store.close()
    assert Counter() == open_files(tmp_path)
