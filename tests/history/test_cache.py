"""The warm history cache in front of the store, and the check service reading it: a patient is loaded once and
then served from memory, a new settlement refreshes the entry, history a request carried is stored once, a purge
drops the entries it touched, and the store's history reaches the engine (course across stays, 分解住院)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from fundguard.agent.engine.model import CheckRequest, Encounter, OrderLine
from fundguard.agent.history import HistoryCache, HistoryStore
from fundguard.agent.intake import ParsedRequest
from fundguard.agent.kb import KbStore
from fundguard.agent.service import CheckService
from fundguard.knowledge_base import default_bundle_path

from .samples import PATIENT, SETTLED_AT, stay, tianma

NOW = datetime(2026, 10, 25, 9, 0)


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[HistoryCache]:
    store = HistoryStore(tmp_path / "history.sqlite3")
    yield HistoryCache(store, clock=lambda: NOW)
    store.close()


@pytest.fixture(scope="module")
def kb() -> KbStore:
    store = KbStore()
    store.load(default_bundle_path())
    return store


def _second_stay(*, history: bool = False) -> ParsedRequest:
    """Admission on 10-20 (10 days after the first stay's discharge), same category, 6 more days of 天麻素."""
    enc = stay("S2", date(2026, 10, 20), None, "I63.800", tianma("T1", date(2026, 10, 20), 6, current=True))
    carried = (stay("S1", date(2026, 10, 1), date(2026, 10, 10), "I63.900", tianma("T0", date(2026, 10, 1), 10)),)
    return ParsedRequest(CheckRequest("5", PATIENT, enc, carried if history else ()), date(2026, 10, 25))


def _confirm_first_stay(cache: HistoryCache) -> bool:
    first = stay("S1", date(2026, 10, 1), date(2026, 10, 10), "I63.900", tianma("T0", date(2026, 10, 1), 10))
    return cache.confirm(PATIENT, first, "SETL-0001", SETTLED_AT)


def test_a_patient_is_loaded_once_then_served_from_memory(cache: HistoryCache) -> None:
    """The first check loads the patient from the store; later ones get the very same snapshot without a load."""
    _confirm_first_stay(cache)
    loads = cache.loads
    request = _second_stay().request
    first = cache.facts_for(request)
    assert all(cache.facts_for(request) is first for _ in range(100))
    assert loads == cache.loads
    assert first.patient is not None and ("S1",) == tuple(e.mdtrt_id for e in first.patient.encounters)


def test_a_patient_without_history_is_asked_for_once(cache: HistoryCache) -> None:
    """A new patient (nothing stored) costs one store read; later checks get the empty snapshot from memory."""
    request = _second_stay().request
    assert all(cache.facts_for(request).patient is None for _ in range(50))
    assert 1 == cache.loads


def test_a_new_settlement_refreshes_the_entry_and_a_repeat_does_not(cache: HistoryCache) -> None:
    """A settlement replaces the cached snapshot with one that holds it; the same settlement again is not stored."""
    request = _second_stay().request
    assert cache.facts_for(request).patient is None
    assert _confirm_first_stay(cache) is True
    snapshot = cache.facts_for(request)
    assert snapshot.patient is not None and frozenset({"S1"}) == snapshot.patient.mdtrt_ids
    assert _confirm_first_stay(cache) is False
    assert snapshot is cache.facts_for(request)


def test_the_store_history_reaches_the_engine_through_the_service(cache: HistoryCache, kb: KbStore) -> None:
    """The first stay comes from the store only (the request carries no history): the 6 days of 天麻素 now are
    flagged from the 15th day by the course family, and the readmission on day 10 with the same category as
    分解住院; without the history source neither is raised."""
    _confirm_first_stay(cache)
    parsed = _second_stay()
    plain = CheckService(kb, clock=lambda: NOW).check(parsed).result
    assert {"GZ10000101010000", "FG-HIST-SPLIT"}.isdisjoint(a.rule_id for a in plain.alerts)
    result = CheckService(kb, clock=lambda: NOW, history=cache).check(parsed).result
    course = [a for a in result.alerts if a.rule_class == "药品限支付疗程"]
    assert [("T1",)] == [a.rx_ids for a in course]
    assert "2026-10-24起" in course[0].vola_cont
    assert ["FG-HIST-SPLIT"] == [a.rule_id for a in result.alerts if a.rule_id.startswith("FG-HIST-")]


def test_history_a_request_carried_is_stored_once(cache: HistoryCache, kb: KbStore) -> None:
    """A request's earlier encounter unknown to the store is stored after the check (the observer), once; the next
    check without it in the request still sees it."""
    service = CheckService(kb, clock=lambda: NOW, history=cache, observers=(cache.observe,))
    service.check(_second_stay(history=True))
    service.check(_second_stay(history=True))
    assert 1 == cache.store.counts()["encounters"]
    result = service.check(_second_stay()).result
    assert "FG-HIST-SPLIT" in {a.rule_id for a in result.alerts}


def test_needs_disk_only_for_a_cold_patient_or_history_not_yet_stored(cache: HistoryCache, kb: KbStore) -> None:
    """The check service runs a check inline only when the cache touches memory: a patient not yet loaded reads the
    store, a request carrying an encounter the snapshot lacks writes it; once loaded and stored, neither."""
    service = CheckService(kb, clock=lambda: NOW, history=cache, quick_observers=(cache.observe,))
    plain, carrying = _second_stay(), _second_stay(history=True)
    assert (True, True) == (cache.needs_disk(plain.request), service.touches_disk(plain))
    service.check(plain)  # loads the patient (nothing stored yet: an empty snapshot is cached too)
    assert (False, True) == (cache.needs_disk(plain.request), cache.needs_disk(carrying.request))
    service.check(carrying)  # the observer stores S1 and refreshes the entry
    assert 1 == cache.store.counts()["encounters"]
    assert (False, False) == (service.touches_disk(plain), service.touches_disk(carrying))


def test_a_purge_drops_the_entries_it_touched(cache: HistoryCache) -> None:
    """After purging the stay, the patient's next snapshot no longer holds it."""
    _confirm_first_stay(cache)
    request = _second_stay().request
    assert cache.facts_for(request).patient is not None
    assert 1 == cache.purge(date(2026, 10, 15)).encounters
    assert cache.facts_for(request).patient is None


def test_no_log_event_carries_the_raw_patient_id_outside_patn_id(cache: HistoryCache, kb: KbStore) -> None:
    """The cache logs the patient only under `patn_id` (the key the log processor masks), never elsewhere."""
    service = CheckService(kb, clock=lambda: NOW, history=cache, observers=(cache.observe,))
    with capture_logs() as logs:
        _confirm_first_stay(cache)
        service.check(_second_stay(history=True))
        cache.purge(date(2000, 1, 1))
    assert logs
    for event in logs:
        rest = {k: v for k, v in event.items() if k != "patn_id"}
        assert PATIENT.patn_id not in repr(rest), event


def test_second_line_drug_is_accepted_when_the_store_shows_the_first_line(cache: HistoryCache, kb: KbStore) -> None:
    """Morinidazole (限二线用药) gets the reason-required prompt while nothing shows a first-line nitroimidazole;
    once a settled visit with levornidazole (same class J01XD, another generic) is in the store — not in the
    request — the second-line family accepts it."""
    line = OrderLine("S1", "XJ01XDM152B002010100318", Decimal(2), Decimal("98.5"), Decimal(197), "吗啉硝唑氯化钠注射液",
                     begn_date=date(2026, 11, 1))  # fmt: skip
    enc = Encounter("E-S1", med_type="21", insutype="310", medins_lv="02", adm_date=date(2026, 10, 30), orders=(line,))
    parsed = ParsedRequest(CheckRequest("4", PATIENT, enc), date(2026, 11, 1))
    service = CheckService(kb, clock=lambda: NOW, history=cache)
    assert "药品限二线使用" in {a.rule_class for a in service.check(parsed).result.alerts}
    first_line = OrderLine("H1", "XJ01XDZ082B002010101583", Decimal(1), Decimal(45), Decimal(45),
                           "左奥硝唑氯化钠注射液", begn_date=date(2026, 10, 20))  # fmt: skip
    cache.confirm(PATIENT, Encounter("E-H1", med_type="11", adm_date=date(2026, 10, 20), orders=(first_line,)), "S-1",
                  SETTLED_AT)  # fmt: skip
    assert "药品限二线使用" not in {a.rule_class for a in service.check(parsed).result.alerts}


def test_history_older_than_the_lookback_is_kept_but_not_judged_nor_reloaded(cache: HistoryCache, kb: KbStore) -> None:
    """A stay of two years ago stays in the store but is not compiled (lookback 365 days); a request carrying it
    again neither stores it twice nor reloads the patient on each check."""
    old = stay("S0", date(2024, 10, 1), date(2024, 10, 10), "I63.900", tianma("T9", date(2024, 10, 1), 10))
    cache.confirm(PATIENT, old, "SETL-OLD", SETTLED_AT)
    parsed = ParsedRequest(CheckRequest("5", PATIENT, _second_stay().request.encounter, (old,)), date(2026, 10, 25))
    service = CheckService(kb, clock=lambda: NOW, history=cache, observers=(cache.observe,))
    snapshot = cache.facts_for(parsed.request).patient
    assert snapshot is not None and ((), frozenset({"S0"})) == (snapshot.encounters, snapshot.stored_ids)
    loads = cache.loads
    results = [service.check(parsed).result for _ in range(3)]
    assert (loads, 1) == (cache.loads, cache.store.counts()["encounters"])
    assert all(a.rule_class != "药品限支付疗程" for r in results for a in r.alerts)
