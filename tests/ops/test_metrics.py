"""Prometheus metrics: per-transport check latency and counts, alerts by rule class and severity, the KB, the
outbox, clinicians' decisions and readiness, read from `/metrics` after real gRPC and HTTP checks."""

from __future__ import annotations

import json
import socket
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from fundguard.agent.app import Agent, build_agent
from fundguard.agent.config import load_settings
from fundguard.agent.engine.model import Alert, CheckResult
from fundguard.agent.ops import AgentMetrics, MeteredCheckService
from fundguard.knowledge_base import default_bundle_path
from fundguard.v1 import compliance_pb2 as pb
from fundguard.v1 import compliance_pb2_grpc as pb_grpc

from ..samples import male_iud_3101
from ..test_app import iud_check

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Agent]:
    """An agent with gRPC, HTTP, a /metrics port of its own and an uplink to a central that is not there."""
    settings = load_settings(None, {
        "grpc.address": "127.0.0.1:0", "http.address": "127.0.0.1:0", "metrics.address": "127.0.0.1:0",
        "kb.path": default_bundle_path(), "data.dir": tmp_path / "data",
        "uplink": {"central": f"127.0.0.1:{_free_port()}", "insecure": True, "agent_id": "agent-t",
                   "institution_code": "H11010800001", "identity": "full"},
    })  # fmt: skip
    built = build_agent(settings, clock=lambda: datetime(2026, 11, 1))
    built.start()
    try:
        yield built
    finally:
        built.stop(grace=1)


def _address(agent: Agent, name: str) -> str:
    (listener,) = [item for item in agent.listeners if item.name == name]
    return listener.address


def scrape(address: str) -> Samples:
    """Every sample of GET http://address/metrics, keyed by (name, sorted labels)."""
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as resp:
        assert resp.headers["Content-Type"].startswith("text/plain")
        text = resp.read().decode("utf-8")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def post_3101(address: str, doc: dict[str, Any]) -> dict[str, Any]:
    """POST a national 3101 envelope to the agent's HTTP gateway."""
    req = urllib.request.Request(f"http://{address}/3101", data=json.dumps(doc).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(req, timeout=10) as resp:
        answer: dict[str, Any] = json.loads(resp.read())
    return answer


def test_metrics_after_real_grpc_and_http_checks(agent: Agent) -> None:
    """After one gRPC Check, one national 3101 over HTTP and one Feedback, both /metrics endpoints show the checks
    per transport (count and latency histogram), every alert by rule class and severity, the running KB, the outbox
    holding the events the absent central did not take, the decision, and readiness."""
    with grpc.insecure_channel(agent.address) as channel:
        stub = pb_grpc.ComplianceAgentStub(channel)
        response = stub.Check(iud_check(), timeout=10)
        stub.Feedback(pb.FeedbackRequest(jr_id=response.alerts[0].jr_id, dspo_way="2"), timeout=10)
    national = post_3101(_address(agent, "http"), male_iud_3101())
    assert 0 == national["infcode"]
    raised = [(a.kp_id, a.sev_deg) for a in response.alerts] + [
        (r["kp_id"], r["sev_deg"]) for r in national["output"]["result"]
    ]
    points = agent.store.current.points
    expected_alerts: dict[tuple[str, str], int] = {}
    for kp_id, sev_deg in raised:
        if kp_id in points:  # the agent's own alerts (FG-…) have no knowledge point
            key = (points[kp_id].rule.rule_class, sev_deg)
            expected_alerts[key] = expected_alerts.get(key, 0) + 1
    assert expected_alerts

    for address in (_address(agent, "http"), _address(agent, "metrics")):
        samples = scrape(address)
        for transport, count in (("grpc", 1), ("national", 1), ("mllp", 0), ("cds_hooks", 0), ("drop", 0)):
            label = (("transport", transport),)
            assert count == samples[("fundguard_checks_total", label)], transport
            assert count == samples[("fundguard_check_seconds_count", label)], transport
            assert count == samples[("fundguard_check_seconds_bucket", (("le", "+Inf"), *label))], transport
        assert 0 < samples[("fundguard_check_seconds_sum", (("transport", "grpc"),))] < 10
        alerts = {
            (dict(labels)["rule_class"], dict(labels)["sev_deg"]): value
            for (name, labels), value in samples.items()
            if name == "fundguard_alerts_total"
        }
        assert len(raised) == sum(alerts.values())
        assert expected_alerts == {key: alerts[key] for key in expected_alerts}
        revision = agent.store.current.revision
        assert 1 == samples[("fundguard_kb_info", (("revision", revision), ("source", agent.store.source)))]
        assert float(revision) == samples[("fundguard_kb_revision", ())]
        assert (1, 0) == (
            samples[("fundguard_kb_activations_total", ())],
            samples[("fundguard_kb_rejections_total", ())],
        )
        assert len(agent.store.current.points) == sum(
            value for (name, _labels), value in samples.items() if name == "fundguard_kb_points"
        )
        assert samples[("fundguard_outbox_depth", ())] >= 2  # a check event per check, plus the decision
        assert samples[("fundguard_outbox_oldest_age_seconds", ())] >= 0
        assert (1, 0) == (
            samples[("fundguard_feedback_decisions_total", (("decision", "modify"),))],
            samples[("fundguard_feedback_decisions_total", (("decision", "override"),))],
        )
        assert 1 == samples[("fundguard_ready", ())]


def test_each_agent_has_its_own_registry() -> None:
    """Two metric sets never share series: counting in one leaves the other at zero (no global registry)."""
    first, second = AgentMetrics(), AgentMetrics()
    result = CheckResult("J1", "1", datetime(2026, 11, 1).date())
    first.transport("grpc").checked(0.001, result)
    assert 1 == first.registry.get_sample_value("fundguard_checks_total", {"transport": "grpc"})
    assert 0 == second.registry.get_sample_value("fundguard_checks_total", {"transport": "grpc"})
    assert isinstance(first.registry, CollectorRegistry)


def test_alerts_are_counted_by_rule_class_and_severity() -> None:
    """A result with three alerts in two (rule class, sev_deg) pairs counts 2 and 1."""
    metrics = AgentMetrics()

    def alert(rule_class: str, sev_deg: str) -> Alert:
        return Alert("J", "R", "", rule_class, "", "", sev_deg, "block", __import__("decimal").Decimal(0), (), ())  # type: ignore[arg-type]

    result = CheckResult("J1", "1", datetime(2026, 11, 1).date(), (alert("A", "1"), alert("A", "1"), alert("B", "2")))
    metrics.transport("mllp").checked(0.0002, result)
    registry = metrics.registry
    assert 2 == registry.get_sample_value("fundguard_alerts_total", {"rule_class": "A", "sev_deg": "1"})
    assert 1 == registry.get_sample_value("fundguard_alerts_total", {"rule_class": "B", "sev_deg": "2"})


def test_metered_view_is_the_same_service(agent: Agent) -> None:
    """The transport's view runs on the agent's one service: same KB store, and anything else is delegated."""
    view = MeteredCheckService(agent.service, AgentMetrics().transport("drop"))
    assert agent.service.store is view.store
    assert agent.service._observers is view._observers  # delegated, not copied
