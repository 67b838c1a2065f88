"""gRPC with `[auth]` on a real server (127.0.0.1:0): calls without a valid bearer token or allowed client
certificate end UNAUTHENTICATED and are counted; valid ones are served; health and reflection stay open; mTLS lets a
client of the agent's dev CA in and refuses one of another CA at the handshake."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from structlog.testing import capture_logs

from fundguard.agent.auth.wiring import open_auth
from fundguard.agent.config import AuthSettings, GrpcSettings
from fundguard.agent.kb import KbStore
from fundguard.agent.ops import AgentMetrics
from fundguard.agent.service import CheckService
from fundguard.agent.stream import AlertBus
from fundguard.agent.transport.grpc_server import create_server
from fundguard.v1 import compliance_pb2 as pb
from fundguard.v1 import compliance_pb2_grpc as pb_grpc

from .auth_samples import HIS, LAB, Pki, Tokens, refused

LOCAL = GrpcSettings(address="127.0.0.1:0", max_workers=2)
IUD_CODE = "XG02BAZ061Z007010279543"  # female only
WAIT = 10.0


def check_request() -> pb.CheckRequest:
    """A male patient ordered the female-only IUD: one alert when the call gets through."""
    return pb.CheckRequest(
        patient=pb.Patient(patn_id="P-1", gend="1", brdy="1951-08-27"),
        encounter=pb.Encounter(mdtrt_id="E-1", med_type="21", insutype="390", medins_lv="01", orders=[
            pb.Order(rx_id="6374", hilist_code=IUD_CODE, hilist_name="左炔诺孕酮宫内节育系统", cnt="1", pric="1153")
        ]),
    )  # fmt: skip


@contextmanager
def serving(store: KbStore, auth: AuthSettings, tmp_path: Path, metrics: AgentMetrics) -> Iterator[int]:
    """A started gRPC server with `auth`; yields its port."""
    opened = open_auth(auth, tmp_path, metrics.unauthenticated)
    service = CheckService(store, clock=lambda: datetime(2026, 11, 1, 10, 0))
    server, port = create_server(service, LOCAL, bus=AlertBus(), auth=opened.grpc)
    server.start()
    try:
        yield port
    finally:
        server.stop(0).wait()


def code_of(call: object) -> grpc.StatusCode:
    """The status code a call (a thunk) ends with."""
    with pytest.raises(grpc.RpcError) as err:
        call()  # type: ignore[operator]
    return err.value.code()  # type: ignore[no-any-return, attr-defined]


def test_calls_without_a_valid_token_are_unauthenticated_and_counted(
    store: KbStore, tokens: Tokens, tmp_path: Path, metrics: AgentMetrics
) -> None:
    """No token, an unknown one, another scheme: UNAUTHENTICATED, one count and one log line each, never the token
    in the log; with the right token the Check is answered."""
    with serving(store, tokens.settings(), tmp_path, metrics) as port, grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        stub = pb_grpc.ComplianceAgentStub(ch)
        wrong = "fgt_" + "A" * 43
        with capture_logs() as logs:
            assert grpc.StatusCode.UNAUTHENTICATED == code_of(lambda: stub.Check(check_request(), timeout=WAIT))
            for metadata in ((("authorization", f"Bearer {wrong}"),), (("authorization", f"Basic {tokens.token}"),)):
                call = lambda m=metadata: stub.Check(check_request(), metadata=m, timeout=WAIT)  # noqa: E731
                assert grpc.StatusCode.UNAUTHENTICATED == code_of(call)
        assert 3.0 == refused(metrics, "grpc")
        lines = [e for e in logs if e["event"] == "auth.refused"]
        assert ["no Authorization: Bearer token", "unknown token", "Authorization is not 'Bearer <token>'"] == [
            e["reason"] for e in lines
        ]
        assert all(tokens.token not in str(e) and wrong not in str(e) for e in logs)
        answer = stub.Check(check_request(), metadata=(("authorization", f"Bearer {tokens.token}"),), timeout=WAIT)
        assert ["GZ10000301004000"] == [a.rule_id for a in answer.alerts]
        assert 3.0 == refused(metrics, "grpc")


def test_every_agent_method_is_guarded_but_health_stays_open(
    store: KbStore, tokens: Tokens, tmp_path: Path, metrics: AgentMetrics
) -> None:
    """GetStatus and the SubscribeAlerts stream are refused without a token; gRPC health answers anyone."""
    with serving(store, tokens.settings(), tmp_path, metrics) as port, grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        stub = pb_grpc.ComplianceAgentStub(ch)
        assert grpc.StatusCode.UNAUTHENTICATED == code_of(lambda: stub.GetStatus(pb.StatusRequest(), timeout=WAIT))
        stream = stub.SubscribeAlerts(pb.SubscribeAlertsRequest(workstation_id="WS-1"), timeout=WAIT)
        assert grpc.StatusCode.UNAUTHENTICATED == code_of(lambda: next(stream))
        assert 2.0 == refused(metrics, "grpc")
        good = (("authorization", f"Bearer {tokens.token}"),)
        assert stub.GetStatus(pb.StatusRequest(), metadata=good, timeout=WAIT).kb.revision
        health = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=WAIT)
        assert health_pb2.HealthCheckResponse.SERVING == health.status


def tls_channel(pki: Pki, port: int, client: str = HIS, *, stranger: bool = False) -> grpc.Channel:
    """A channel to the agent trusting the agent's CA, presenting `client`'s certificate (of the stranger CA)."""
    cert, key = pki.client(client, stranger=stranger)
    credentials = grpc.ssl_channel_credentials(pki.ca.read_bytes(), key.read_bytes(), cert.read_bytes())
    return grpc.secure_channel(f"localhost:{port}", credentials)


def test_mtls_lets_a_dev_ca_client_in_and_refuses_another_ca(
    store: KbStore, pki: Pki, tmp_path: Path, metrics: AgentMetrics
) -> None:
    """A client certificate of the agent's CA is served; one of another CA fails the handshake (the call never
    reaches the agent: UNAVAILABLE); a channel without a certificate fails alike."""
    with serving(store, pki.settings(), tmp_path, metrics) as port:
        with tls_channel(pki, port) as ch:
            answer = pb_grpc.ComplianceAgentStub(ch).Check(check_request(), timeout=WAIT)
            assert ["GZ10000301004000"] == [a.rule_id for a in answer.alerts]
        with tls_channel(pki, port, stranger=True) as ch:
            stub = pb_grpc.ComplianceAgentStub(ch)
            assert grpc.StatusCode.UNAVAILABLE == code_of(lambda: stub.Check(check_request(), timeout=WAIT))
        no_cert = grpc.ssl_channel_credentials(pki.ca.read_bytes())
        with grpc.secure_channel(f"localhost:{port}", no_cert) as ch:
            stub = pb_grpc.ComplianceAgentStub(ch)
            assert grpc.StatusCode.UNAVAILABLE == code_of(lambda: stub.Check(check_request(), timeout=WAIT))


def test_mtls_allowed_clients_refuses_other_names_of_the_same_ca(
    store: KbStore, pki: Pki, tmp_path: Path, metrics: AgentMetrics
) -> None:
    """With allowed_clients = [his-main], his-lab's certificate (same CA) is UNAUTHENTICATED and counted."""
    with serving(store, pki.settings(HIS), tmp_path, metrics) as port:
        with tls_channel(pki, port, LAB) as ch, capture_logs() as logs:
            stub = pb_grpc.ComplianceAgentStub(ch)
            assert grpc.StatusCode.UNAUTHENTICATED == code_of(lambda: stub.Check(check_request(), timeout=WAIT))
        assert 1.0 == refused(metrics, "grpc")
        assert ["client certificate 'his-lab' is not in auth.allowed_clients"] == [
            e["reason"] for e in logs if e["event"] == "auth.refused"
        ]
        with tls_channel(pki, port, HIS) as ch:
            assert pb_grpc.ComplianceAgentStub(ch).Check(check_request(), timeout=WAIT).alerts
