"""The agent and the reference central platform together, wired by the composition root over mutual TLS (dev certs):
checks and decisions go up as events and are stored once; a practitioner sanctioned to 9 points is suspended, the
agent receives the status within seconds and blocks that doctor's next order; the central refuses an agent without
the right certificate."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa

from fundguard.agent.app import Agent, build_agent
from fundguard.agent.config import load_settings
from fundguard.central.devcerts import agent_dir, write_dev_certs
from fundguard.central.server import CentralServer, CentralSettings, create_server, load_server_credentials
from fundguard.central.store import Store
from fundguard.v1 import compliance_pb2_grpc as pb_grpc

from .transport.test_grpc_server import iud_request

DOCTOR = "D110108000001"
AGENT_ID = "agent-h1"
INSTITUTION = "H11010800001"

pytestmark = pytest.mark.slow


@dataclass
class Platform:
    server: CentralServer
    address: str
    store: Store
    certs: Path


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, f"{what}: not within {seconds} s"
        time.sleep(0.05)
    return time.monotonic() - started


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    certs = tmp_path / "pki"
    write_dev_certs(certs, [AGENT_ID])
    store = Store.open(f"sqlite:///{tmp_path / 'central.sqlite3'}")
    tls = load_server_credentials(certs)
    server, port = create_server(store, CentralSettings(refresh_seconds=3600), credentials=tls)
    server.start()
    yield Platform(server, f"127.0.0.1:{port}", store, certs)
    server.stop(0)


def agent_for(platform: Platform, data: Path) -> Agent:
    mine = agent_dir(platform.certs, AGENT_ID)
    settings = load_settings(None, {
        "grpc.address": "127.0.0.1:0", "data.dir": data,
        "uplink.central": platform.address, "uplink.agent_id": AGENT_ID, "uplink.institution_code": INSTITUTION,
        "uplink.ca": mine / "ca.pem", "uplink.cert": mine / "client.pem", "uplink.key": mine / "client.key",
        "uplink.identity": "full", "uplink.status_poll_seconds": 5,
    })  # fmt: skip
    agent = build_agent(settings)
    agent.start()
    return agent


def central_events(store: Store) -> list[tuple[str, str]]:
    with store.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT event_id, kind FROM events ORDER BY seq")).fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


def test_events_go_up_once_and_a_suspension_comes_down_and_blocks(platform: Platform, tmp_path: Path) -> None:
    agent = agent_for(platform, tmp_path / "agent")
    try:
        with grpc.insecure_channel(agent.address) as channel:
            stub = pb_grpc.ComplianceAgentStub(channel)

            def check() -> set[str]:
                request = iud_request(service_date="2025-06-14")
                request.encounter.dr_codg = DOCTOR
                return {a.rule_id for a in stub.Check(request, timeout=10).alerts}

            before = check()
            wait_for(lambda: len(central_events(platform.store)) >= 1, 10, "the check event stored centrally")
            platform.server.scorer.apply_sanction(DOCTOR, points=9, institution_code=INSTITUTION)
            took = wait_for(lambda: "FG-PRACT-SUSPENDED" in check(), 10, "the suspension enforced")
    finally:
        agent.stop(grace=0)
    print(f"suspension enforced {took:.2f} s after the sanction")
    assert "FG-PRACT-SUSPENDED" not in before
    events = central_events(platform.store)
    assert len(events) == len(set(events)) and {"check"} <= {kind for _, kind in events}


def test_an_agent_with_a_certificate_from_another_ca_is_refused(platform: Platform, tmp_path: Path) -> None:
    write_dev_certs(tmp_path / "other-pki", [AGENT_ID])
    stranger = agent_dir(tmp_path / "other-pki", AGENT_ID)
    settings = load_settings(None, {
        "grpc.address": "127.0.0.1:0", "data.dir": tmp_path / "agent",
        "uplink.central": platform.address, "uplink.agent_id": AGENT_ID, "uplink.institution_code": INSTITUTION,
        "uplink.ca": agent_dir(platform.certs, AGENT_ID) / "ca.pem", "uplink.cert": stranger / "client.pem",
        "uplink.key": stranger / "client.key", "uplink.identity": "full",
    })  # fmt: skip
    agent = build_agent(settings)
    agent.start()
    try:
        with grpc.insecure_channel(agent.address) as channel:
            pb_grpc.ComplianceAgentStub(channel).Check(iud_request(service_date="2025-06-14"), timeout=10)
        time.sleep(2)
        assert agent.uplink is not None
        assert (0, True) == (len(central_events(platform.store)), agent.uplink.outbox.depth > 0)
    finally:
        agent.stop(grace=0)


def test_status_reaches_an_agent_restarted_offline(platform: Platform, tmp_path: Path) -> None:
    """The statuses an agent received are enforced after a restart even while the central is unreachable."""
    data = tmp_path / "agent"
    agent = agent_for(platform, data)
    try:
        platform.server.scorer.apply_sanction(DOCTOR, points=12, institution_code=INSTITUTION)
        assert agent.practitioners is not None
        cache = agent.practitioners
        wait_for(lambda: cache.get(DOCTOR) is not None, 10, "the termination received")
    finally:
        agent.stop(grace=0)
    platform.server.stop(0)
    offline = agent_for(platform, data)
    try:
        with grpc.insecure_channel(offline.address) as channel:
            request = iud_request(service_date="2025-06-14")
            request.encounter.dr_codg = DOCTOR
            rules = {a.rule_id for a in pb_grpc.ComplianceAgentStub(channel).Check(request, timeout=10).alerts}
    finally:
        offline.stop(grace=0)
    assert "FG-PRACT-SUSPENDED" in rules
