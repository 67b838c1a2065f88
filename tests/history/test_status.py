"""The patient history in the operator's views of a running agent: gRPC GetStatus reports patients cached, cache
loads, encounter records and settlements stored (unset with the store off), and /metrics carries the same as
`fundguard_history_*` series; a store that cannot be read is reported, never raised."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import grpc
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from fundguard.agent.app import Agent, build_agent
from fundguard.agent.config import load_settings
from fundguard.agent.history import HistoryCache, HistoryStore, Settlement
from fundguard.agent.history.status import HistoryStatus, history_status, store_counts
from fundguard.agent.ops import HistoryCollector
from fundguard.v1 import compliance_pb2 as pb
from fundguard.v1 import compliance_pb2_grpc as pb_grpc

from .samples import PATIENT, SETTLED_AT, TIANMA, stay

WAIT_S = 10.0  # a guard for the check observer's write, not a timing assertion


@contextmanager
def running(data_dir: Path, **config: Any) -> Iterator[tuple[Agent, pb_grpc.ComplianceAgentStub]]:
    """An agent with gRPC and a /metrics port of its own on free ports, its data in `data_dir`."""
    settings = load_settings(None, {"grpc.address": "127.0.0.1:0", "metrics.address": "127.0.0.1:0",
                                    "data.dir": data_dir, **config})  # fmt: skip
    agent = build_agent(settings)
    agent.start()
    try:
        with grpc.insecure_channel(agent.address) as channel:
            yield agent, pb_grpc.ComplianceAgentStub(channel)
    finally:
        agent.stop(grace=0)


def _settlement(patn_id: str, mdtrt_id: str, setl_id: str) -> pb.ConfirmSettlementRequest:
    order = pb.Order(rx_id="T0", hilist_code=TIANMA, hilist_name="天麻素注射液", cnt="10", pric="10",
                     drord_begn_date="2026-10-01", drord_stop_date="2026-10-10")  # fmt: skip
    diagnosis = pb.Diagnosis(dise_codg="I63.900", maindise_flag="1", inout_dise_type="2")
    encounter = pb.Encounter(mdtrt_id=mdtrt_id, med_type="21", adm_date="2026-10-01", dscg_date="2026-10-10",
                             dscg_main_dise_codg="I63.900", orders=[order], diagnoses=[diagnosis])  # fmt: skip
    patient = pb.Patient(patn_id=patn_id, gend="1", brdy="1950-04-04")
    return pb.ConfirmSettlementRequest(patient=patient, encounter=encounter, setl_id=setl_id,
                                       setl_time="2026-10-10 16:30:00")  # fmt: skip


def _check_carrying_history(patn_id: str) -> pb.CheckRequest:
    """An outpatient check of a new patient whose request carries one earlier encounter."""
    earlier = pb.Encounter(mdtrt_id="EARLIER-1", med_type="11", adm_date="2026-09-01",
                           orders=[pb.Order(rx_id="H1", hilist_code="001102000010000", cnt="1", pric="10",
                                            drord_begn_date="2026-09-01")])  # fmt: skip
    current = pb.Encounter(mdtrt_id="NOW-1", med_type="11", adm_date="2026-10-20",
                           orders=[pb.Order(rx_id="B1", hilist_code="001102000010000", cnt="1", pric="10",
                                            drord_begn_date="2026-10-20")])  # fmt: skip
    return pb.CheckRequest(trig_scen="1", service_date="2026-10-20", encounter=current, history=[earlier],
                           patient=pb.Patient(patn_id=patn_id, gend="2", brdy="1980-01-01"))  # fmt: skip


def _history(stub: pb_grpc.ComplianceAgentStub) -> tuple[int, int, int, int, str]:
    h = stub.GetStatus(pb.StatusRequest(), timeout=10).history
    return h.patients_cached, h.cache_loads, h.encounters_stored, h.settlements_stored, h.store_error


def _until(probe: Callable[[], Any], wanted: Any) -> Any:
    """`probe()` once it equals `wanted`, or its last value after WAIT_S."""
    deadline = time.monotonic() + WAIT_S
    seen = probe()
    while seen != wanted and time.monotonic() < deadline:
        time.sleep(0.02)
        seen = probe()
    return seen


def _scrape(address: str) -> dict[str, float]:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as resp:
        text = resp.read().decode("utf-8")
    return {s.name: s.value for family in text_string_to_metric_families(text) for s in family.samples
            if s.name.startswith("fundguard_history_")}  # fmt: skip


def test_get_status_reports_the_history_as_it_grows(tmp_path: Path) -> None:
    """A new agent: history set, all zeros. A settlement confirmed (twice: stored once) → 1 patient cached, 1 load,
    1 encounter record, 1 settlement. A check of another patient carrying an earlier encounter → 2 patients cached,
    2 encounter records, still 1 settlement. The KB part is still there."""
    with running(tmp_path / "data") as (_agent, stub):
        status = stub.GetStatus(pb.StatusRequest(), timeout=10)
        assert (True, True) == (status.HasField("history"), bool(status.kb.revision))
        assert (0, 0, 0, 0, "") == _history(stub)
        stub.ConfirmSettlement(_settlement("P-STATUS-0001", "S1", "SETL-1"), timeout=10)
        stub.ConfirmSettlement(_settlement("P-STATUS-0001", "S1", "SETL-1"), timeout=10)
        assert (1, 1, 1, 1, "") == _history(stub)
        stub.Check(_check_carrying_history("P-STATUS-0002"), timeout=10)
        assert 2 == _until(lambda: _history(stub)[2], 2)  # the observer stores the carried encounter
        patients, loads, encounters, settlements, error = _history(stub)
        assert (2, 2, 1, "") == (patients, encounters, settlements, error)
        assert loads >= 2  # the new patient's miss, and a reload once its carried encounter was stored


def test_history_off_leaves_get_status_without_history(tmp_path: Path) -> None:
    """`[history] enabled = false`: GetStatus answers the KB part only; /metrics has no history series."""
    with running(tmp_path / "data", **{"history.enabled": False}) as (agent, stub):
        status = stub.GetStatus(pb.StatusRequest(), timeout=10)
        (metrics,) = [item for item in agent.listeners if item.name == "metrics"]
        assert (False, True, {}) == (status.HasField("history"), bool(status.kb.revision), _scrape(metrics.address))


def test_metrics_carry_the_history_gauges(tmp_path: Path) -> None:
    """After two settlements of one patient (one stay settled in two parts), /metrics shows 1 patient cached, 2
    encounter records, 2 settlements and the cache loads, as GetStatus does."""
    with running(tmp_path / "data") as (agent, stub):
        stub.ConfirmSettlement(_settlement("P-STATUS-0003", "S1", "SETL-1"), timeout=10)
        stub.ConfirmSettlement(_settlement("P-STATUS-0003", "S1", "SETL-2"), timeout=10)
        (metrics,) = [item for item in agent.listeners if item.name == "metrics"]
        samples = _scrape(metrics.address)
        cached, loads, encounters, settlements, _ = _history(stub)
    assert {"fundguard_history_patients_cached": 1, "fundguard_history_cache_loads_total": loads,
            "fundguard_history_encounters_stored": 2, "fundguard_history_settlements_stored": 2} == samples  # fmt: skip
    assert (1, 2, 2) == (cached, encounters, settlements)


def test_a_store_that_cannot_be_read_is_reported_not_raised(tmp_path: Path) -> None:
    """The store's file gone from under the agent: history_status says why in `store_error` with zero counts (the
    cache's own figures still given), and the collector leaves the stored series out rather than report 0."""
    path = tmp_path / "history.sqlite3"
    with HistoryStore(path) as store:
        cache = HistoryCache(store, clock=lambda: datetime(2026, 10, 20))
        cache.warm("P-STATUS-0004")
        assert (0, 0) == (store_counts(path).encounters, store_counts(path).settlements)
        path.unlink()
        status = history_status(cache)
    assert (1, 1, 0, 0) == (status.patients_cached, status.cache_loads, status.encounters_stored,
                            status.settlements_stored)  # fmt: skip
    assert status.store_error.startswith("FileNotFoundError: no history store at")
    registry = CollectorRegistry()
    registry.register(HistoryCollector(lambda: status))
    names = {m.name for m in registry.collect()}
    assert {"fundguard_history_patients_cached", "fundguard_history_cache_loads"} == names


def test_status_counts_carried_encounters_apart_from_settlements(tmp_path: Path) -> None:
    """history_status on a cache whose store holds one settlement and one encounter a request carried: 2 records,
    1 settlement; the patient loaded is counted as cached."""
    with HistoryStore(tmp_path / "history.sqlite3") as store:
        cache = HistoryCache(store, clock=lambda: datetime(2026, 10, 20))
        store.confirm(Settlement(PATIENT.patn_id, stay("S1", date(2026, 10, 1), date(2026, 10, 10), "I63.900"),
                                 "SETL-1", SETTLED_AT))  # fmt: skip
        store.remember(PATIENT.patn_id, [stay("S0", date(2026, 9, 1), None, "I63.900")], SETTLED_AT)
        cache.warm(PATIENT.patn_id)
        assert HistoryStatus(1, 1, 2, 1) == history_status(cache)
