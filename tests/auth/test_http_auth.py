"""HTTP with `[auth]` on a real listener (127.0.0.1:0): the national gateway and CDS Hooks refuse a call without a
valid bearer token (401; the gateway with a national envelope, infcode -1) or, under mTLS, without an allowed client
certificate; the pop-up page, its stream and its feedback need the workstation's key (401 without, 403 with
another's). Every refusal is counted per transport."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from fundguard.agent.auth.wiring import OpenedAuth, open_auth
from fundguard.agent.config import AuthSettings, HttpSettings
from fundguard.agent.feedback import DecisionStore
from fundguard.agent.kb import KbStore
from fundguard.agent.ops import AgentMetrics, metrics_routes
from fundguard.agent.service import CheckService
from fundguard.agent.stream import AlertBus
from fundguard.agent.transport.http_alerts import alert_page_routes
from fundguard.agent.transport.http_cds import cds_routes
from fundguard.agent.transport.http_national import national_routes
from fundguard.agent.transport.http_server import HttpListener
from tests.cds_samples import male_iud_order_select
from tests.samples import SEX_DRUG_RULE_ID, male_iud_3101

from .auth_samples import HIS, LAB, Pki, Tokens, refused

NOW = datetime(2025, 6, 14, 15, 0)
WAIT = 10.0


@dataclass
class Served:
    """A running listener: its base URL, the opened auth (page keys) and a client TLS context, if any."""

    base: str
    auth: OpenedAuth
    tls: ssl.SSLContext | None = None

    def call(
        self, path: str, body: Any = None, headers: dict[str, str] | None = None, tls: ssl.SSLContext | None = None
    ) -> tuple[int, Any, dict[str, str]]:
        """(status, JSON body or text, headers) of a GET (no body) or POST."""
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        request = urllib.request.Request(self.base + path, data=data, headers=headers or {},
                                         method="GET" if body is None else "POST")  # fmt: skip
        try:
            response = urllib.request.urlopen(request, timeout=WAIT, context=tls or self.tls)
        except urllib.error.HTTPError as err:
            response = err
        with response:
            status, kind, raw = response.status, response.headers.get("Content-Type", ""), response.read()
            answer = json.loads(raw) if kind.startswith("application/json") else raw.decode()
            return status, answer, dict(response.headers)


@contextmanager
def serving(
    store: KbStore, auth: AuthSettings, tmp_path: Path, metrics: AgentMetrics, tls: ssl.SSLContext | None = None
) -> Iterator[Served]:
    """The agent's HTTP routes (national, CDS Hooks, pop-up page, /metrics) behind `auth`, started."""
    opened = open_auth(auth, tmp_path, metrics.unauthenticated, lambda: NOW)
    service = CheckService(store, clock=lambda: NOW)
    decisions = DecisionStore(tmp_path / "decisions.sqlite3")
    routes = [national_routes(service, decisions, lambda: NOW), cds_routes(service, decisions, lambda: NOW),
              alert_page_routes(AlertBus(), decisions, lambda: NOW, heartbeat=0.2), metrics_routes(metrics.registry),
              *((opened.http_routes,) if opened.http_routes else ())]  # fmt: skip
    listener = HttpListener(HttpSettings("127.0.0.1:0"), routes, 1.0, opened.http_ssl)
    listener.start()
    scheme = "https" if opened.http_ssl else "http"
    try:
        yield Served(f"{scheme}://{listener.address.replace('127.0.0.1', 'localhost')}", opened, tls)
    finally:
        listener.stop()
        decisions.close()


def test_national_gateway_refuses_without_a_valid_token_with_a_national_envelope(
    store: KbStore, tokens: Tokens, tmp_path: Path, metrics: AgentMetrics
) -> None:
    """No token / a wrong one: 401, `WWW-Authenticate: Bearer`, infcode -1 and err_msg naming the problem, counted
    under national, one log line without the token; the right token gets the check's answer."""
    wrong = "fgt_" + "B" * 43
    with serving(store, tokens.settings(), tmp_path, metrics) as http, capture_logs() as logs:
        for headers in ({}, {"Authorization": f"Bearer {wrong}"}):
            status, answer, got = http.call("/3101", male_iud_3101(), headers)
            assert 401 == status
            assert -1 == answer["infcode"]
            assert answer["err_msg"].startswith("unauthenticated: ")
            assert got["WWW-Authenticate"].startswith("Bearer")
        status, answer, _ = http.call("/3101", male_iud_3101(), {"Authorization": f"Bearer {tokens.token}"})
        assert (200, 0) == (status, answer["infcode"])
        assert [SEX_DRUG_RULE_ID] == [r["rule_id"] for r in answer["output"]["result"]]
    assert 2.0 == refused(metrics, "national")
    assert ["no Authorization: Bearer token", "unknown token"] == [
        e["reason"] for e in logs if e["event"] == "auth.refused"
    ]
    assert all(wrong not in str(e) and tokens.token not in str(e) for e in logs)


@pytest.mark.parametrize("path", ["/", "/3103", "/fsi/api/rsfComIfsService/callService/3101"])
def test_every_national_path_is_guarded(
    store: KbStore, tokens: Tokens, tmp_path: Path, metrics: AgentMetrics, path: str
) -> None:
    """The body-infno path, 3103 feedback and the provincial callService path all refuse a call without a token."""
    with serving(store, tokens.settings(), tmp_path, metrics) as http:
        status, answer, _ = http.call(path, male_iud_3101())
    assert (401, -1) == (status, answer["infcode"])
    assert 1.0 == refused(metrics, "national")


def test_cds_hooks_refuses_without_a_token_but_discovery_and_metrics_stay_open(
    store: KbStore, tokens: Tokens, tmp_path: Path, metrics: AgentMetrics
) -> None:
    """A hook call without a token: 401 `{code: unauthenticated, …}`, counted; discovery and /metrics answer
    anyone; with the token the hook answers cards."""
    with serving(store, tokens.settings(), tmp_path, metrics) as http:
        status, answer, _ = http.call("/cds-services/fundguard-order-select", male_iud_order_select())
        assert 401 == status
        assert "unauthenticated" == answer["code"]
        assert 200 == http.call("/cds-services")[0]
        status, text, _ = http.call("/metrics")
        assert 200 == status
        assert 'fundguard_unauthenticated_total{transport="cds_hooks"} 1.0' in text
        good = {"Authorization": f"Bearer {tokens.token}"}
        status, answer, _ = http.call("/cds-services/fundguard-order-select", male_iud_order_select(), good)
        assert 200 == status
        assert answer["cards"]
    assert 1.0 == refused(metrics, "cds_hooks")


def first_frame(http: Served, query: str) -> tuple[int, str]:
    """(status, the first bytes) of the alert stream opened with `query`."""
    request = urllib.request.Request(f"{http.base}/alerts/events{query}")
    try:
        response = urllib.request.urlopen(request, timeout=WAIT, context=http.tls)
    except urllib.error.HTTPError as err:
        with err:
            return err.status, err.read().decode()
    with response:
        return response.status, response.readline().decode() + response.readline().decode()


def test_pop_up_page_is_bound_to_its_workstation(
    store: KbStore, tokens: Tokens, tmp_path: Path, metrics: AgentMetrics
) -> None:
    """The page, its stream and its feedback: 401 without a key (or without a workstation), 403 with another
    workstation's key (W's key never opens W2's stream), through with W's own key. A bearer token is no key."""
    with serving(store, tokens.settings(), tmp_path, metrics) as http:
        keys = http.auth.page_keys
        assert keys is not None
        w1, w2 = keys.key("WS-1"), keys.key("WS-2")
        assert 401 == first_frame(http, "?workstation=WS-1")[0]
        assert 401 == first_frame(http, f"?key={w1}")[0]
        assert 403 == first_frame(http, f"?workstation=WS-2&key={w1}")[0]
        assert 401 == http.call("/alerts?workstation=WS-1", headers={"Authorization": f"Bearer {tokens.token}"})[0]
        assert 403 == http.call(f"/alerts?workstation=WS-1&key={w2}")[0]
        feedback = {"jr_id": "JR-unknown", "dspo_way": "2"}
        assert 401 == http.call("/alerts/feedback?workstation=WS-1", feedback)[0]
        assert 403 == http.call(f"/alerts/feedback?workstation=WS-1&key={w2}", feedback)[0]
        assert 7.0 == refused(metrics, "alert_page")
        status, text = first_frame(http, f"?workstation=WS-2&key={w2}")
        assert 200 == status
        assert text.startswith("retry:")
        assert 200 == http.call(f"/alerts?workstation=WS-1&key={w1}")[0]
        status, answer, _ = http.call(f"/alerts/feedback?workstation=WS-1&key={w1}", feedback)
        assert (200, "stored") == (status, answer["outcome"])  # through the gate (this store knows no issued alerts)
        assert 200 == http.call("/alerts/page.js")[0]  # static assets carry no data
    assert 7.0 == refused(metrics, "alert_page")


def client_tls(pki: Pki, client: str | None = HIS, *, stranger: bool = False) -> ssl.SSLContext:
    """A client context trusting the agent's CA, presenting `client`'s certificate (none when None)."""
    context = ssl.create_default_context(cafile=pki.ca)
    if client is not None:
        cert, key = pki.client(client, stranger=stranger)
        context.load_cert_chain(cert, key)
    return context


def test_mtls_national_gateway_needs_an_allowed_certificate_while_the_page_needs_none(
    store: KbStore, pki: Pki, tmp_path: Path, metrics: AgentMetrics
) -> None:
    """Over HTTPS under mtls (allowed: his-main): his-main's certificate is served; no certificate or his-lab's is
    401 (national envelope); a certificate of another CA fails the handshake; a browser without a certificate still
    opens its workstation's page with the key."""
    with serving(store, pki.settings(HIS), tmp_path, metrics, client_tls(pki)) as http:
        status, answer, _ = http.call("/3101", male_iud_3101())
        assert (200, 0) == (status, answer["infcode"])
        for other in (client_tls(pki, None), client_tls(pki, LAB)):
            status, answer, _ = http.call("/3101", male_iud_3101(), tls=other)
            assert (401, -1) == (status, answer["infcode"])
        with pytest.raises((urllib.error.URLError, ConnectionError, ssl.SSLError)):  # TLS 1.3: at the first read
            http.call("/3101", male_iud_3101(), tls=client_tls(pki, stranger=True))
        keys = http.auth.page_keys
        assert keys is not None
        browser = client_tls(pki, None)
        assert 200 == http.call(f"/alerts?workstation=WS-1&key={keys.key('WS-1')}", tls=browser)[0]
    assert 2.0 == refused(metrics, "national")


def test_mode_none_guards_nothing(store: KbStore, tmp_path: Path, metrics: AgentMetrics) -> None:
    """Without [auth] the routes answer as before: no token, no key."""
    with serving(store, AuthSettings(), tmp_path, metrics) as http:
        assert http.auth.http_routes is None
        assert 200 == http.call("/3101", male_iud_3101())[0]
        assert 200 == http.call("/alerts?workstation=WS-1")[0]
    assert 0.0 == sum(refused(metrics, t) for t in ("national", "alert_page"))
