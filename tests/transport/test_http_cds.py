"""The CDS Hooks routes on a real HTTP listener (127.0.0.1:0): discovery, hooks, feedback, error statuses, masking,
and a flood of malformed requests after which the service still answers."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fundguard.agent.config import HttpSettings, LogSettings
from fundguard.agent.feedback import Decision, DecisionStore
from fundguard.agent.kb import KbStore
from fundguard.agent.log import configure_logging, reset_logging
from fundguard.agent.service import CheckService
from fundguard.agent.transport.http_cds import cds_routes
from fundguard.agent.transport.http_server import HttpListener
from fundguard.knowledge_base import default_bundle_path
from tests.cds_samples import feedback, male_iud_order_select, male_iud_order_sign, malformed

SELECT = "/cds-services/fundguard-order-select"
RULE_ID = "GZ10000301004000"
PATIENT_ID = "1058158"


def fixed_clock() -> datetime:
    """The agent's clock in these tests."""
    return datetime(2025, 6, 14, 15, 0)


class Served:
    """A started HTTP listener with the CDS routes, and a small JSON client for it."""

    def __init__(self, service: CheckService, decisions: DecisionStore, max_body_bytes: int = 1 << 20) -> None:
        settings = HttpSettings(address="127.0.0.1:0", max_body_bytes=max_body_bytes)
        self.listener = HttpListener(settings, [cds_routes(service, decisions, fixed_clock)], grace_seconds=1)
        self.listener.start()
        self.base = f"http://{self.listener.address}"

    def call(self, path: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """GET (no body) or POST (a JSON document, or raw bytes): (status, parsed JSON answer)."""
        data = body if isinstance(body, bytes) or body is None else json.dumps(body, ensure_ascii=False).encode()
        req = urllib.request.Request(self.base + path, data=data, headers={"Content-Type": "application/json"})
        for key, value in (headers or {}).items():
            req.add_header(key, value)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            with err:
                return err.code, json.loads(err.read())


@pytest.fixture(scope="module")
def store() -> KbStore:
    """A store with the embedded default KB."""
    kb_store = KbStore()
    kb_store.load(default_bundle_path())
    return kb_store


@pytest.fixture(scope="module")
def decisions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DecisionStore]:
    """The module's decision store (a file in a temporary directory)."""
    db = DecisionStore(tmp_path_factory.mktemp("cds") / "decisions.sqlite3")
    yield db
    db.close()


@pytest.fixture(scope="module")
def served(store: KbStore, decisions: DecisionStore) -> Iterator[Served]:
    """One listener for the module."""
    running = Served(CheckService(store, clock=fixed_clock), decisions)
    yield running
    running.listener.stop()


def test_discovery_lists_the_two_services(served: Served) -> None:
    """GET /cds-services: fundguard-order-select and fundguard-order-sign with their prefetch templates."""
    status, doc = served.call("/cds-services")
    assert 200 == status
    assert [("fundguard-order-select", "order-select"), ("fundguard-order-sign", "order-sign")] == [
        (s["id"], s["hook"]) for s in doc["services"]
    ]
    assert "Patient/{{context.patientId}}" == doc["services"][0]["prefetch"]["patient"]


def test_order_select_answers_a_card_for_the_male_iud(served: Served) -> None:
    """POST order-select for the man's IUD: 200 with one warning card whose topic is the sex rule."""
    status, doc = served.call(SELECT, male_iud_order_select())
    assert 200 == status
    assert [(RULE_ID, "warning", "MedicationRequest/6374")] == [
        (c["source"]["topic"]["code"], c["indicator"], c["suggestions"][0]["actions"][0]["resourceId"])
        for c in doc["cards"]
    ]


def test_compliant_order_sign_answers_no_cards(served: Served) -> None:
    """POST order-sign for a woman: `{"cards": []}`."""
    body = male_iud_order_sign()
    body["prefetch"]["patient"]["gender"] = "female"
    assert (200, {"cards": []}) == served.call("/cds-services/fundguard-order-sign", body)


def test_english_accept_language_gives_english_cards(served: Served) -> None:
    """Accept-Language: en → the alert text and labels in English."""
    _, doc = served.call(SELECT, male_iud_order_select(), {"Accept-Language": "en-US,en;q=0.9"})
    assert "fundguard insurance pre-check" == doc["cards"][0]["source"]["label"]


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/cds-services/nope", male_iud_order_select(), 404, "id"),
        ("/cds-services/nope/feedback", feedback("J-1"), 404, "id"),
        (SELECT, b"{not json", 400, ""),
        (SELECT, [1, 2], 400, ""),
        (SELECT, male_iud_order_sign(), 422, "hook"),
        (SELECT, {**male_iud_order_select(), "prefetch": {}}, 412, "prefetch.patient"),
        (SELECT + "/feedback", {"feedback": []}, 422, "feedback"),
    ],
)
def test_errors_answer_status_and_the_field(served: Served, path: str, body: Any, status: int, field: str) -> None:
    """Unknown service 404, unreadable body 400, bad field 422, missing prefetch 412: `{code, field, message}`."""
    answer, doc = served.call(path, body)
    assert (status, field) == (answer, doc["field"])
    assert doc["code"] in ("invalid_field", "not_found") and doc["message"]


def test_bad_fhir_field_is_named(served: Served) -> None:
    """A draft whose dispense quantity is not a number: 422 naming its FHIR location."""
    body = male_iud_order_select()
    body["context"]["draftOrders"]["entry"][1]["resource"]["dispenseRequest"]["quantity"]["value"] = "two"
    status, doc = served.call(SELECT, body)
    expected = (422, "invalid_field", "context.draftOrders.entry[1].resource.dispenseRequest.quantity.value")
    assert expected == (status, doc["code"], doc["field"])


def test_no_knowledge_base_is_503(decisions: DecisionStore) -> None:
    """With no KB loaded the hook answers 503 kb_unavailable."""
    running = Served(CheckService(KbStore(), clock=fixed_clock), decisions)
    try:
        status, doc = running.call(SELECT, male_iud_order_select())
    finally:
        running.listener.stop()
    assert (503, "kb_unavailable") == (status, doc["code"])


def test_body_over_the_limit_is_413(store: KbStore, decisions: DecisionStore) -> None:
    """A body larger than http.max_body_bytes is refused with 413 and the JSON error body."""
    running = Served(CheckService(store, clock=fixed_clock), decisions, max_body_bytes=1024)
    try:
        status, doc = running.call(SELECT, male_iud_order_select())
    finally:
        running.listener.stop()
    assert (413, "too_large") == (status, doc["code"])


def test_feedback_override_is_stored_once(served: Served, decisions: DecisionStore) -> None:
    """The card's uuid fed back as overridden with a reason: stored as dspo_way 1 (source cds-hooks); posting it
    again is answered 200 and keeps the first decision."""
    _, answer = served.call(SELECT, male_iud_order_select())
    card = answer["cards"][0]["uuid"]
    assert (200, {"stored": 1, "already_decided": []}) == served.call(SELECT + "/feedback", feedback(card))
    expected = Decision(
        card, "1", "临床必需 (clinical-necessity): HIS 性别登记有误，已提交更正", "1", "cds-hooks",
        "2025-06-14T06:30:00+00:00",
    )  # fmt: skip
    assert expected == decisions.get(card)
    assert (200, {"stored": 0, "already_decided": [card]}) == served.call(SELECT + "/feedback", feedback(card))


def test_feedback_accepted_and_reasonless_override(served: Served, decisions: DecisionStore) -> None:
    """accepted → dspo_way 2; an override without a reason → 422 naming overrideReason, nothing stored."""
    _, answer = served.call(SELECT, male_iud_order_select())
    card = answer["cards"][0]["uuid"]
    bare = feedback(card)
    del bare["feedback"][0]["overrideReason"]
    status, doc = served.call(SELECT + "/feedback", bare)
    assert (422, "feedback[0].overrideReason", None) == (status, doc["field"], decisions.get(card))
    assert 200 == served.call(SELECT + "/feedback", feedback(card, "accepted"))[0]
    stored = decisions.get(card)
    assert ("2", "") == ((stored.dspo_way, stored.dspo_way_rea) if stored else None)


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """Agent logging at debug level into a string buffer; reset afterwards."""
    stream = io.StringIO()
    configure_logging(LogSettings(level="debug", json=True), stream)
    yield stream
    reset_logging()


def test_patient_id_never_reaches_the_log(store: KbStore, decisions: DecisionStore, log_stream: io.StringIO) -> None:
    """A check, a refused request and an internal error whose message holds the patient id: the id appears in no
    log line (masked where bound), and the internal error is a 500 with the JSON error body."""

    def failing_id() -> str:
        raise KeyError(f"no ledger for {PATIENT_ID}")

    ok = Served(CheckService(store, clock=fixed_clock), decisions)
    broken = Served(CheckService(store, clock=fixed_clock, new_id=failing_id), decisions)
    try:
        ok.call(SELECT, male_iud_order_select())
        ok.call(SELECT, {**male_iud_order_select(), "hook": "order-sign"})
        status, doc = broken.call(SELECT, male_iud_order_select())
    finally:
        ok.listener.stop()
        broken.listener.stop()
    events = {e["event"]: e for e in map(json.loads, log_stream.getvalue().splitlines())}
    assert (500, "internal") == (status, doc["code"])
    assert PATIENT_ID not in log_stream.getvalue()
    assert "张某某" not in log_stream.getvalue()
    assert ("*******", "2001668") == (events["cds.checked"]["patn_id"], events["cds.checked"]["mdtrt_id"])
    assert "hook" == events["cds.invalid_request"]["field"]
    assert "no ledger for *******" in events["cds.internal_error"]["exception"]


def test_malformed_flood_then_still_serving(served: Served) -> None:
    """200 mutated hook and feedback bodies over HTTP (wrong types, missing keys, cut JSON, garbage bytes): each is
    answered with cards / a feedback receipt (200) or the JSON error body (4xx), never a 5xx; afterwards a valid
    request is still answered with its card."""

    @settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(body=st.one_of(malformed(male_iud_order_select()), malformed(feedback("J-9"))))
    def flood(body: Any) -> None:
        path = SELECT + "/feedback" if isinstance(body, dict) and "feedback" in body else SELECT
        status, doc = served.call(path, body.encode() if isinstance(body, str) else body)
        assert (200 == status and ("cards" in doc or "stored" in doc)) or (400 <= status < 500 and "code" in doc), doc

    flood()
    status, doc = served.call(SELECT, male_iud_order_select())
    assert (200, [RULE_ID]) == (status, [c["source"]["topic"]["code"] for c in doc["cards"]])
