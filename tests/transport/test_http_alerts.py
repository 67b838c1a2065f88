"""The pop-up page's routes on a real HTTP listener (127.0.0.1:0), read without a browser: the page and its assets,
the Server-Sent Events stream (cards, filters, resume from Last-Event-ID / ?cursor=, heartbeat, clean stop) and the
feedback endpoint (3103 rules, idempotent by jr_id, unknown jr_id refused)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from fundguard.adapters.his import nhsa_json
from fundguard.agent.alerts import labels, render_card
from fundguard.agent.config import HttpSettings
from fundguard.agent.engine.model import Alert
from fundguard.agent.feedback import Decision, DecisionStore, IssuedAlerts
from fundguard.agent.intake import ParsedRequest
from fundguard.agent.kb import KbStore
from fundguard.agent.service import CheckService
from fundguard.agent.stream import AlertBus
from fundguard.agent.transport.http_alerts import alert_page_routes, page_texts
from fundguard.agent.transport.http_server import HttpListener
from fundguard.knowledge_base import default_bundle_path
from tests.samples import SEX_DRUG_RULE_ID, male_iud_3101

WAIT = 10.0
NOW = datetime(2025, 6, 14, 15, 0)


def fixed_clock() -> datetime:
    """The agent's clock in these tests."""
    return NOW


@dataclass
class Frame:
    """One Server-Sent Events frame: its event type, id and JSON data, or a comment."""

    event: str = "message"
    id: str | None = None
    data: Any = None
    comment: str | None = None


class Stream:
    """`GET /alerts/events` read frame by frame (blocking, with a socket timeout)."""

    def __init__(self, base: str, query: str = "", headers: dict[str, str] | None = None) -> None:
        request = urllib.request.Request(f"{base}/alerts/events{query}", headers=headers or {})
        self.response = urllib.request.urlopen(request, timeout=WAIT)

    def frame(self) -> Frame | None:
        """The next frame; None at the end of the stream."""
        frame, data = Frame(), []
        while True:
            line = self.response.readline()
            if not line:
                return None
            text = line.decode().rstrip("\n")
            if not text:
                if data or frame.comment is not None:
                    frame.data = json.loads("\n".join(data)) if data else None
                    return frame
                continue
            name, _, value = text.partition(":")
            value = value.removeprefix(" ")
            if not name:
                frame.comment = value
            elif name == "data":
                data.append(value)
            elif name == "event":
                frame.event = value
            elif name == "id":
                frame.id = value

    def next(self, event: str) -> Frame:
        """The next frame of type `event` (skipping others)."""
        while True:
            frame = self.frame()
            assert frame is not None, f"the stream ended before a {event!r} event"
            if frame.event == event and frame.comment is None:
                return frame

    def alerts(self, n: int) -> list[Frame]:
        """The next `n` alert events."""
        return [self.next("alert") for _ in range(n)]

    def close(self) -> None:
        """Disconnect."""
        self.response.close()


class Served:
    """A check service publishing to an alert bus, and a started HTTP listener with the page routes."""

    def __init__(self, store: KbStore, data_dir: Path, heartbeat: float = 15.0, grace: float = 1.0) -> None:
        self.bus = AlertBus()
        self.issued = IssuedAlerts(data_dir / "decisions.sqlite3")
        self.decisions = DecisionStore(data_dir / "decisions.sqlite3", self.issued)
        observers = (self.issued.record, self.bus.publish)
        self.service = CheckService(store, clock=fixed_clock, observers=observers)
        routes = [alert_page_routes(self.bus, self.decisions, fixed_clock, heartbeat=heartbeat)]
        self.listener = HttpListener(HttpSettings(address="127.0.0.1:0"), routes, grace_seconds=grace)
        self.listener.start()
        self.base = f"http://{self.listener.address}"

    def check(self, workstation: str, dept: str = "K-1", doctor: str = "ys01") -> list[Alert]:
        """The male-IUD request from `workstation` / `dept`, ordered by `doctor`: its alerts."""
        doc = male_iud_3101()
        encounter = doc["input"]["data"]["patient_dtos"][0]["fsi_encounter_dtos"][0]
        encounter["dr_codg"] = doctor
        for line in encounter["fsi_order_dtos"]:
            line["drord_dr_codg"] = doctor
        (parsed,) = nhsa_json.decode(doc)
        routed = ParsedRequest(parsed.request, parsed.service_date, workstation, dept)
        return list(self.service.check(routed).result.alerts)

    def open(self, query: str = "", headers: dict[str, str] | None = None) -> Stream:
        """A stream whose `ready` event was read (the server's cursor is fixed from then on)."""
        stream = Stream(self.base, query, headers)
        stream.next("ready")
        return stream

    def call(
        self, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """GET (no body) or POST (JSON, or raw bytes): status, headers and body."""
        data = body if isinstance(body, bytes) or body is None else json.dumps(body, ensure_ascii=False).encode()
        request = urllib.request.Request(self.base + path, data=data, headers={"Content-Type": "application/json"})
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=WAIT) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as err:
            with err:
                return err.code, dict(err.headers), err.read()

    def feedback(self, **body: Any) -> tuple[int, Any]:
        """POST /alerts/feedback: status and parsed answer."""
        status, _headers, raw = self.call("/alerts/feedback", body)
        return status, json.loads(raw)

    def close(self) -> None:
        """Stop the listener and close the stores."""
        self.listener.stop()
        self.decisions.close()
        self.issued.close()


@pytest.fixture(scope="module")
def store() -> KbStore:
    """A store with the embedded default KB."""
    kb_store = KbStore()
    kb_store.load(default_bundle_path())
    return kb_store


@pytest.fixture
def served(store: KbStore, tmp_path: Path) -> Iterator[Served]:
    """A listener for the test, its decisions in the test's tmp dir."""
    running = Served(store, tmp_path)
    yield running
    running.close()


def jr_ids(alerts: list[Alert]) -> list[str]:
    """The alerts' jr_ids, in order."""
    return [a.jr_id for a in alerts]


def sex_alert(alerts: list[Alert]) -> Alert:
    """The 药品区分性别使用 alert among `alerts`."""
    (alert,) = [a for a in alerts if a.rule_id == SEX_DRUG_RULE_ID]
    return alert


def test_page_and_assets_are_served(served: Served) -> None:
    """/alerts is the HTML page (no outside resources allowed), its script and style are served, others are 404."""
    status, headers, body = served.call("/alerts?workstation=WS-1")
    assert (200, "text/html; charset=utf-8") == (status, headers["Content-Type"])
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert ('src="alerts/page.js"', 'href="alerts/page.css"') == tuple(
        s for s in ('src="alerts/page.js"', 'href="alerts/page.css"') if s in body.decode()
    )
    kinds = {name: served.call(f"/alerts/{name}")[1]["Content-Type"] for name in ("page.js", "page.css")}
    assert {"page.js": "text/javascript; charset=utf-8", "page.css": "text/css; charset=utf-8"} == kinds
    assert 404 == served.call("/alerts/texts.json")[0]


def test_texts_follow_lang_then_accept_language(served: Served) -> None:
    """The page's labels are Chinese by default, English with ?lang=en or Accept-Language: en, the same keys."""
    zh = json.loads(served.call("/alerts/texts")[2])
    en = json.loads(served.call("/alerts/texts?lang=en")[2])
    by_header = json.loads(served.call("/alerts/texts", headers={"Accept-Language": "en-US,en;q=0.9"})[2])
    assert ("zh-CN", "继续执行", "返回修改") == (zh["locale"], zh["texts"]["continue"], zh["texts"]["modify"])
    assert ("en", "Continue") == (en["locale"], en["texts"]["continue"])
    assert en == by_header
    assert set(zh["texts"]) == set(en["texts"]) == set(page_texts()["en"])


def test_stream_sends_ready_then_one_card_per_alert(served: Served) -> None:
    """After `ready` (id = the cursor it starts after), each alert comes as an `alert` event with id = its cursor
    and the card as data: the sex rule's summary says 限女性使用, with Chinese labels and its override reasons."""
    stream = Stream(served.base, "?workstation=WS-1")
    ready = stream.next("ready")
    alerts = served.check("WS-1")
    frames = stream.alerts(len(alerts))
    stream.close()
    start = served.bus.last_cursor - len(alerts)
    assert (str(start), {"cursor": start}) == (ready.id, ready.data)
    assert [str(start + n + 1) for n in range(len(alerts))] == [f.id for f in frames]
    assert jr_ids(alerts) == [f.data["jr_id"] for f in frames]
    alert = sex_alert(alerts)
    (data,) = [f.data for f in frames if f.data["jr_id"] == alert.jr_id]
    card = render_card(alert, served.service.store.current.revision, "zh-CN")
    assert "限女性使用" in data["summary"]
    expected = {
        "summary": card.summary,
        "detail": card.detail,
        "sev_label": card.sev_label,
        "impact_label": card.impact_label,
        "rule_id": SEX_DRUG_RULE_ID,
        "kb_revision": served.service.store.current.revision,
        "lines": [{"rx_id": "6374", "role": "违规项"}],
        "override_reasons": [{"code": r.code, "label": r.label} for r in card.override_reasons],
        "workstation_id": "WS-1",
        "decision": None,
        "gap_before": False,
    }
    assert expected == {key: data[key] for key in expected}
    assert "患者性别信息有误（已更正）" in [r["label"] for r in data["override_reasons"]]


def test_cards_in_english_with_lang_en(served: Served) -> None:
    """?lang=en labels the cards in English."""
    stream = served.open("?workstation=WS-1&lang=en")
    alerts = served.check("WS-1")
    frames = stream.alerts(len(alerts))
    stream.close()
    (data,) = [f.data for f in frames if f.data["jr_id"] == sex_alert(alerts).jr_id]
    en = labels("en")
    expected = (en["sev_deg"][data["sev_deg"]], en["workflow_impact"][data["workflow_impact"]], "violating")
    assert expected == (data["sev_label"], data["impact_label"], data["lines"][0]["role"])


def test_filters_by_workstation_dept_and_practitioner(served: Served) -> None:
    """Each stream gets exactly the alerts of its workstation, department, practitioner (or all of them)."""
    streams = {
        "ws-a": served.open("?workstation=WS-A"),
        "ws-b": served.open("?workstation=WS-B"),
        "dept": served.open("?dept=K-2"),
        "doctor": served.open("?practitioner=ys02"),
        "both": served.open("?workstation=WS-B&practitioner=ys02"),
        "all": served.open(),
    }
    a1 = served.check("WS-A", "K-1", "ys01")
    b = served.check("WS-B", "K-2", "ys01")
    a3 = served.check("WS-A", "K-1", "ys02")
    fence = served.check("WS-B", "K-2", "ys02")  # comes last: whatever a stream should skip comes before it
    expected = {
        "ws-a": jr_ids(a1 + a3),
        "ws-b": jr_ids(b + fence),
        "dept": jr_ids(b + fence),
        "doctor": jr_ids(a3 + fence),
        "both": jr_ids(fence),
        "all": jr_ids(a1 + b + a3 + fence),
    }
    got = {name: [f.data["jr_id"] for f in s.alerts(len(expected[name]))] for name, s in streams.items()}
    for s in streams.values():
        s.close()
    assert expected == got


def test_reconnect_with_last_event_id_gets_what_was_missed(served: Served) -> None:
    """A page takes one check's alerts and drops; two checks are raised; it comes back with Last-Event-ID and
    gets exactly its workstation's missed alerts, in order, without the ones it had."""
    first = served.open("?workstation=WS-C")
    seen = served.check("WS-C")
    frames = first.alerts(len(seen))
    first.close()
    missed = served.check("WS-C")
    served.check("WS-D")
    again = Stream(served.base, "?workstation=WS-C&cursor=0", {"Last-Event-ID": frames[-1].id or ""})
    ready = again.next("ready")
    got = [f.data["jr_id"] for f in again.alerts(len(missed))]
    again.close()
    assert (frames[-1].id, jr_ids(missed)) == (ready.id, got)


def test_cursor_query_resumes_a_reloaded_page(served: Served) -> None:
    """?cursor=N (a reloaded page's saved cursor) resumes after N."""
    before = served.bus.last_cursor
    served.check("WS-E")
    second = served.check("WS-E")
    stream = Stream(served.base, f"?workstation=WS-E&cursor={before + len(second)}")
    got = [f.data["jr_id"] for f in stream.alerts(len(second))]
    stream.close()
    assert jr_ids(second) == got


def test_cursor_from_an_earlier_run_marks_a_gap(served: Served) -> None:
    """A cursor larger than any given out (the agent restarted) gets everything kept, the first marked gap_before."""
    alerts = served.check("WS-F")
    stream = Stream(served.base, "?workstation=WS-F&cursor=999999")
    frames = stream.alerts(len(alerts))
    stream.close()
    assert [True] + [False] * (len(alerts) - 1) == [f.data["gap_before"] for f in frames]


@pytest.mark.parametrize(
    ("query", "headers", "field"),
    [("?cursor=abc", {}, "cursor"), ("?cursor=1", {"Last-Event-ID": "-1"}, "Last-Event-ID")],
)
def test_bad_cursor_is_refused_naming_it(served: Served, query: str, headers: dict[str, str], field: str) -> None:
    """A cursor that is not a whole number is a 422 naming where it came from."""
    status, _headers, raw = served.call("/alerts/events" + query, headers=headers)
    assert (422, "invalid_field", field) == (status, json.loads(raw)["code"], json.loads(raw)["field"])


def test_idle_stream_gets_heartbeats_and_moves_past_others_alerts(store: KbStore, tmp_path: Path) -> None:
    """An idle stream gets a comment per heartbeat; after alerts for others, a `cursor` event carries the bus
    cursor past them (so a reconnect does not read them again)."""
    running = Served(store, tmp_path, heartbeat=0.05)
    try:
        stream = running.open("?workstation=WS-G")
        idle = stream.frame()
        running.check("WS-OTHER")
        moved = stream.next("cursor")
        stream.close()
    finally:
        running.close()
    assert (idle is not None, idle.comment if idle else None) == (True, "")
    assert (str(running.bus.last_cursor), {"cursor": running.bus.last_cursor}) == (moved.id, moved.data)


def test_stopping_the_listener_ends_open_streams(store: KbStore, tmp_path: Path) -> None:
    """Stopping the listener ends every open stream at once (the stream returns; it is not left to the grace
    period and cancelled), and the page sees the end of the response."""
    running = Served(store, tmp_path, grace=5.0)
    streams = [running.open("?workstation=WS-H"), running.open()]
    with capture_logs() as logs:
        running.close()
    ends = [stream.frame() for stream in streams]
    assert ["shutdown", "shutdown"] == [e["reason"] for e in logs if e["event"] == "alerts.stream_ended"]
    assert [None, None] == ends


def test_continue_without_reason_is_refused_and_not_stored(served: Served) -> None:
    """继续执行 (dspo_way 1) without a reason is 422 naming dspo_way_rea; nothing is stored."""
    alert = sex_alert(served.check("WS-1"))
    status, answer = served.feedback(jr_id=alert.jr_id, dspo_way="1", dspo_way_rea="  ")
    assert (422, "invalid_field", "dspo_way_rea") == (status, answer["code"], answer["field"])
    assert served.decisions.get(alert.jr_id) is None


def test_decision_is_stored_durably_then_duplicate_then_conflict(served: Served, tmp_path: Path) -> None:
    """A decision with a reason is stored (on disk: a new connection reads it); the same again is a duplicate,
    a different one a conflict, and the first stands."""
    alert = sex_alert(served.check("WS-1"))
    first = served.feedback(jr_id=alert.jr_id, dspo_way="1", dspo_way_rea="临床必需（病历已记录）")
    again = served.feedback(jr_id=alert.jr_id, dspo_way=1, dspo_way_rea="临床必需（病历已记录）")
    other = served.feedback(jr_id=alert.jr_id, dspo_way="2", dspo_way_rea="")
    standing = {"dspo_way": "1", "dspo_way_rea": "临床必需（病历已记录）", "source": "alert-page",
                "decided_at": NOW.isoformat()}  # fmt: skip
    assert [
        (200, {"jr_id": alert.jr_id, "outcome": outcome, "decision": standing})
        for outcome in ("stored", "duplicate", "conflict")
    ] == [first, again, other]
    reopened = DecisionStore(tmp_path / "decisions.sqlite3")
    try:
        stored = reopened.get(alert.jr_id)
    finally:
        reopened.close()
    assert Decision(alert.jr_id, "1", "临床必需（病历已记录）", "1", "alert-page", NOW.isoformat()) == stored


def test_modify_needs_no_reason(served: Served) -> None:
    """返回修改 (dspo_way 2) is stored without a reason; warn_type 2 (事中) is kept."""
    alert = sex_alert(served.check("WS-1"))
    status, answer = served.feedback(jr_id=alert.jr_id, dspo_way="2", warn_type="2")
    assert (200, "stored") == (status, answer["outcome"])
    assert Decision(alert.jr_id, "2", "", "2", "alert-page", NOW.isoformat()) == served.decisions.get(alert.jr_id)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"jr_id": "never-issued", "dspo_way": "2"}, "jr_id"),
        ({"dspo_way": "2"}, "jr_id"),
        ({"jr_id": "x", "dspo_way": "3"}, "dspo_way"),
        ({"jr_id": "x", "dspo_way": "1", "dspo_way_rea": "理" * 501}, "dspo_way_rea"),
        ({"jr_id": "x", "dspo_way": "2", "warn_type": "9"}, "warn_type"),
    ],
)
def test_bad_feedback_is_422_naming_the_field(served: Served, body: dict[str, Any], field: str) -> None:
    """An unknown jr_id or a bad field is 422 {code, field, message}; nothing is stored."""
    status, answer = served.feedback(**body)
    assert (422, "invalid_field", field) == (status, answer["code"], answer["field"])
    assert answer["message"]
    assert 0 == served.decisions.count()


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b"\xff\xfe"])
def test_feedback_that_is_not_a_json_object_is_400(served: Served, raw: bytes) -> None:
    """A body that is not a JSON object is 400 naming the request."""
    status, _headers, answer = served.call("/alerts/feedback", raw)
    assert (400, "request") == (status, json.loads(answer)["field"])


def test_replayed_card_carries_its_decision(served: Served) -> None:
    """A page that replays from an earlier cursor sees the decision already taken on a card."""
    before = served.bus.last_cursor
    alerts = served.check("WS-1")
    alert = sex_alert(alerts)
    served.feedback(jr_id=alert.jr_id, dspo_way="2")
    stream = Stream(served.base, f"?workstation=WS-1&cursor={before}")
    frames = stream.alerts(len(alerts))
    stream.close()
    decisions = {f.data["jr_id"]: f.data["decision"] for f in frames}
    assert {"dspo_way": "2", "dspo_way_rea": "", "source": "alert-page", "decided_at": NOW.isoformat()} == decisions[
        alert.jr_id
    ]
    assert [None] * (len(alerts) - 1) == [d for jr, d in decisions.items() if jr != alert.jr_id]
