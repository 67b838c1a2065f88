"""The check budget of the asyncio transports: a check made slower than the budget (test hook: a slow observer) is
answered "check unavailable" in the transport's own terms within the budget + 50 ms — HL7 AE, one CDS warning card
— never an empty success, and the check service is told (the workstation's alert stream shows it)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import hl7
import hl7.client
import pytest

from fundguard.agent.config import HttpSettings, MllpSettings
from fundguard.agent.engine.model import CheckResult
from fundguard.agent.feedback import DecisionStore, IssuedAlerts
from fundguard.agent.intake import ParsedRequest
from fundguard.agent.kb import KbStore
from fundguard.agent.service import CheckService
from fundguard.agent.transport.budget import OVER_BUDGET, CheckBudget
from fundguard.agent.transport.http_cds import cds_routes
from fundguard.agent.transport.http_server import HttpListener
from fundguard.agent.transport.mllp_server import MllpListener
from fundguard.knowledge_base import default_bundle_path
from tests.cds_samples import male_iud_order_select
from tests.hl7_samples import rde_o11

BUDGET_MS = 200
SLOW_S = 1.0
NOW = datetime(2025, 6, 14, 15, 0)


class Slow:
    """Test hook: an observer (run inside the check) that takes SLOW_S while `on` is set; records what the service
    was told was unavailable."""

    def __init__(self) -> None:
        self.on = threading.Event()
        self.told: list[tuple[str, str]] = []

    def __call__(self, _parsed: ParsedRequest, _result: CheckResult) -> None:
        if self.on.is_set():
            time.sleep(SLOW_S)

    def unavailable(self, parsed: ParsedRequest, reason: str, _revision: str) -> None:
        self.told.append((parsed.request.encounter.mdtrt_id, reason))


@pytest.fixture
def slow() -> Iterator[Slow]:
    hook = Slow()
    yield hook
    hook.on.clear()


@pytest.fixture
def service(slow: Slow) -> CheckService:
    store = KbStore()
    store.load(default_bundle_path())
    return CheckService(store, clock=lambda: NOW, observers=(slow,), on_unavailable=(slow.unavailable,))


def test_budget_runs_the_work_or_says_over_budget() -> None:
    """Within the budget the work's value; past it OVER_BUDGET at the budget; budget 0 runs inline."""

    async def main() -> tuple[object, object, object, float]:
        budget, inline = CheckBudget(50, "t"), CheckBudget(0, "t")
        quick = await budget.run(lambda x: x + 1, 1)
        started = time.monotonic()
        late = await budget.run(time.sleep, 0.3)
        waited = time.monotonic() - started
        budget.close()
        return quick, late, await inline.run(lambda: threading.current_thread().name), waited

    quick, late, thread, waited = asyncio.run(main())
    assert (2, OVER_BUDGET, "MainThread") == (quick, late, thread)
    assert waited < 0.25


def test_mllp_over_budget_is_an_ae_check_unavailable(service: CheckService, slow: Slow) -> None:
    listener = MllpListener(MllpSettings(address="127.0.0.1:0"), service, lambda: NOW, budget_ms=BUDGET_MS)
    listener.start()
    try:
        host, _, port = listener.address.rpartition(":")
        with hl7.client.MLLPClient(host, int(port)) as client:
            assert "AA" == str(hl7.parse(client.send_message(rde_o11()).decode()).segment("MSA")[1])
            slow.on.set()
            started = time.monotonic()
            ack = hl7.parse(client.send_message(rde_o11()).decode())
            elapsed = time.monotonic() - started
    finally:
        listener.stop()
    msa = ack.segment("MSA")
    assert ("AE", True) == (str(msa[1]), str(msa[3]).startswith("check unavailable"))
    assert elapsed < (BUDGET_MS + 50) / 1000, f"answered after {elapsed * 1000:.0f} ms"
    assert 1 == len(slow.told) and slow.told[0][1].startswith("check unavailable")


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    data = json.dumps(body, ensure_ascii=False).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        doc: dict[str, Any] = json.loads(response.read())
    return doc


def test_cds_over_budget_is_one_warning_card(service: CheckService, slow: Slow, tmp_path: Path) -> None:
    issued = IssuedAlerts(tmp_path / "d.sqlite3")
    decisions = DecisionStore(tmp_path / "d.sqlite3", issued)
    listener = HttpListener(HttpSettings("127.0.0.1:0"), [cds_routes(service, decisions, lambda: NOW, BUDGET_MS)], 1.0)
    listener.start()
    try:
        url = f"http://{listener.address}/cds-services/fundguard-order-select"
        assert "jr_id" in _post(url, male_iud_order_select())["cards"][0]["extension"]["fundguard"]  # in time: alerts
        slow.on.set()
        started = time.monotonic()
        doc = _post(url, male_iud_order_select())
        elapsed = time.monotonic() - started
    finally:
        listener.stop()
        decisions.close()
        issued.close()
    (card,) = doc["cards"]
    status = card["extension"]["fundguard"]
    assert ("warning", "CHECK_UNAVAILABLE", True) == (
        card["indicator"],
        status["status"],
        status["status_reason"].startswith("check unavailable"),
    )
    assert card["summary"].startswith("医保审核未完成") and len(card["summary"]) <= 140
    assert elapsed < (BUDGET_MS + 50) / 1000, f"answered after {elapsed * 1000:.0f} ms"
    assert [status["status_reason"]] == [reason for _, reason in slow.told]
