"""The national JSON gateway over real HTTP: 3101/3102 checks, 3103 decisions, errors as infcode -1 naming the field."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from fundguard.agent.config import HttpSettings
from fundguard.agent.feedback import DecisionStore
from fundguard.agent.intake import ParsedRequest
from fundguard.agent.kb import KbStore
from fundguard.agent.service import CheckService
from fundguard.agent.transport.http_national import CALL_SERVICE_PATH, Gateway, national_routes
from fundguard.agent.transport.http_server import HttpListener
from fundguard.knowledge_base import default_bundle_path

from ..fuzz_json import malformed_bodies
from ..samples import IUD_KP_ID, SEX_DRUG_RULE_ID, compliant_3101, male_iud_3101

NOW = datetime(2026, 11, 23, 10, 0, 0)


@pytest.fixture(scope="module")
def service() -> CheckService:
    store = KbStore()
    store.load(default_bundle_path())
    return CheckService(store, clock=lambda: NOW)


@pytest.fixture
def decisions(tmp_path: Path) -> Iterator[DecisionStore]:
    store = DecisionStore(tmp_path / "decisions.sqlite3")
    yield store
    store.close()


@pytest.fixture
def url(service: CheckService, decisions: DecisionStore) -> Iterator[str]:
    listener = HttpListener(HttpSettings("127.0.0.1:0", 64 * 1024), [national_routes(service, decisions)], 1.0)
    listener.start()
    yield f"http://{listener.address}"
    listener.stop()


def post(url: str, body: bytes | dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode("utf-8")
    req = urllib.request.Request(url, data=data, headers=headers or {}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert 200 == resp.status
        doc: dict[str, Any] = json.loads(resp.read())
    return doc


def alerts(doc: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    return [(r["rule_id"], r["kp_id"], [d["rx_id"] for d in r["judge_result_detail_dtos"]])
            for r in doc["output"]["result"]]  # fmt: skip


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_posting_a_3101_envelope_gets_the_national_response(url: str, tmp_path: Path) -> None:
    """A real foreign client: curl posts the national request and gets infcode 0 with the violating line."""
    request = tmp_path / "3101.json"
    request.write_text(json.dumps(male_iud_3101(), ensure_ascii=False), encoding="utf-8")
    out = subprocess.run(
        ["curl", "-sS", "-X", "POST", "-H", "Content-Type: application/json", "--data-binary", f"@{request}",
         f"{url}/3101"], capture_output=True, check=True, timeout=30,
    )  # fmt: skip
    doc = json.loads(out.stdout)
    assert (0, [(SEX_DRUG_RULE_ID, IUD_KP_ID, ["6374"])]) == (doc["infcode"], alerts(doc))


def test_every_route_answers_and_compliant_is_empty(url: str) -> None:
    """POST /, /3102 and the provincial callService path all check; a compliant encounter gets no result."""
    expected = [(SEX_DRUG_RULE_ID, IUD_KP_ID, ["6374"])]
    assert expected == alerts(post(f"{url}/", male_iud_3101()))
    assert expected == alerts(post(f"{url}/3102", {**male_iud_3101(), "infno": "3102"}))
    assert expected == alerts(post(url + CALL_SERVICE_PATH.format(infno="3101"), male_iud_3101()))
    assert [] == alerts(post(f"{url}/3101", compliant_3101()))


def test_english_texts_follow_accept_language(url: str) -> None:
    """Accept-Language: en gives English vola_cont."""
    doc = post(f"{url}/3101", male_iud_3101(), {"Accept-Language": "en-US,en;q=0.9"})
    assert doc["output"]["result"][0]["vola_cont"].startswith("[")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/3101", {"infno": "3101", "input": {"data": {"patient_dtos": [{"gend": "1"}]}}},
         "input.data.patient_dtos[0].fsi_encounter_dtos"),
        ("/3102", male_iud_3101(), "infno"),
        ("/3105", male_iud_3101(), "infno"),
        ("/", {**male_iud_3101(), "infno": "2204"}, "infno"),
        ("/3101", b"\x00garbage", ""),
        ("/3101", b"x" * (70 * 1024), ""),
    ],
)
def test_bad_requests_get_infcode_minus_1_naming_the_field(url: str, path: str, body: Any, field: str) -> None:
    """Wrong content, contradicting infno, unknown transaction, garbage and oversized bodies: infcode -1."""
    doc = post(url + path, body)
    assert (-1, True) == (doc["infcode"], doc["err_msg"].startswith(f"{field}: " if field else ""))
    assert doc["err_msg"]


def test_3103_records_decisions_once(url: str, decisions: DecisionStore) -> None:
    """The jr_id of a 3101 result is accepted as warn_rslt_id; continue without reason is refused; repeats warn."""
    jr_id = post(f"{url}/3101", male_iud_3101())["output"]["result"][0]["jr_id"]

    def feedback(reason: str) -> dict[str, Any]:
        warn = {"warn_rslt_id": jr_id, "dspo_way": "1", "dspo_way_rea": reason}
        return post(f"{url}/3103", {"infno": "3103", "input": {"data": {"warn_type": "1", "warns": [warn]}}})

    refused = feedback("")
    stored = feedback("患者已签署自费知情同意书")
    repeated = feedback("患者已签署自费知情同意书")
    expected = (-1, 0, "", 0, True)
    actual = (refused["infcode"], stored["infcode"], stored["warn_msg"], repeated["infcode"],
              jr_id in repeated["warn_msg"])  # fmt: skip
    assert expected == actual
    decision = decisions.get(jr_id)
    assert decision is not None and ("1", "患者已签署自费知情同意书") == (decision.dspo_way, decision.dspo_way_rea)


@pytest.mark.slow
@settings(max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(body=malformed_bodies(male_iud_3101))
def test_fuzz_every_malformed_body_gets_a_national_answer(body: bytes) -> None:
    """10,000 malformed bodies (mutated, truncated, random): each gets an envelope, -1 always with err_msg."""
    doc = _GATEWAY.respond(body, "3101")
    assert doc["infcode"] in (0, -1)
    assert bool(doc["err_msg"]) == (doc["infcode"] == -1)


def test_server_still_serves_after_malformed_bodies(url: str) -> None:
    """A few hundred malformed bodies over HTTP, then a valid request is answered as before."""

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(body=malformed_bodies(male_iud_3101))
    def send(body: bytes) -> None:
        assert post(f"{url}/3101", body)["infcode"] in (0, -1)

    send()
    assert [(SEX_DRUG_RULE_ID, IUD_KP_ID, ["6374"])] == alerts(post(f"{url}/3101", male_iud_3101()))


def _gateway() -> Gateway:
    store = KbStore()
    store.load(default_bundle_path())
    return Gateway(CheckService(store, clock=lambda: NOW), DecisionStore(":memory:"), lambda: NOW)


_GATEWAY = _gateway()


def test_over_budget_is_check_unavailable_not_an_empty_success(decisions: DecisionStore) -> None:
    """A check made slower (test hook: a slow observer) than the 200 ms budget is answered infcode -1 "check
    unavailable" within the budget + 50 ms, never infcode 0 with no result; the encounter's unavailable check is
    told to the alert stream (the pop-up page shows it)."""
    import time

    store = KbStore()
    store.load(default_bundle_path())
    told: list[tuple[str, str]] = []
    def tell(parsed: ParsedRequest, reason: str, _revision: str) -> None:
        told.append((parsed.request.encounter.mdtrt_id, reason))

    slow = CheckService(store, clock=lambda: NOW, observers=(lambda _p, _r: time.sleep(1.0),), on_unavailable=(tell,))
    listener = HttpListener(HttpSettings("127.0.0.1:0"), [national_routes(slow, decisions, budget_ms=200)], 1.0)
    listener.start()
    try:
        started = time.monotonic()
        doc = post(f"http://{listener.address}/3101", male_iud_3101())
        elapsed = time.monotonic() - started
    finally:
        listener.stop()
    assert (-1, True, []) == (doc["infcode"], doc["err_msg"].startswith("check unavailable"), doc["output"] or [])
    assert elapsed < 0.25, f"answered after {elapsed * 1000:.0f} ms"
    mdtrt_id = male_iud_3101()["input"]["data"]["patient_dtos"][0]["fsi_encounter_dtos"][0]["mdtrt_id"]
    assert [(mdtrt_id, doc["err_msg"])] == told
