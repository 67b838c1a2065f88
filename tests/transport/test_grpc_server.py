"""The gRPC agent in-process on 127.0.0.1:0: Check, rich errors, health, reflection, masking in its logs."""

from __future__ import annotations

import io
import json
import random
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from grpc_status import rpc_status

from fundguard.agent.config import GrpcSettings, LogSettings
from fundguard.agent.kb import KbStore
from fundguard.agent.log import configure_logging, reset_logging
from fundguard.agent.service import CheckService
from fundguard.agent.stream import AlertBus
from fundguard.agent.transport.grpc_server import CHECK_METHOD, BindError, create_server
from fundguard.agent.transport.health import AgentHealth
from fundguard.knowledge_base import default_bundle_path
from fundguard.v1 import compliance_pb2 as pb
from fundguard.v1 import compliance_pb2_grpc as pb_grpc

from .agent_kb import IUD_CODE

SERVICE = "fundguard.v1.ComplianceAgent"
PATN_ID = "P-12345601"
LOCAL = GrpcSettings(address="127.0.0.1:0", max_workers=4)


def fixed_clock() -> datetime:
    """The agent's clock in these tests."""
    return datetime(2026, 11, 1, 10, 0)


class Running:
    """A started server and a channel to it."""

    def __init__(self, service: CheckService, settings: GrpcSettings = LOCAL, bus: AlertBus | None = None) -> None:
        self.health = AgentHealth()
        self.bus = bus
        self.server, self.port = create_server(service, settings, self.health, bus=bus)
        self.server.start()
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        self.stub = pb_grpc.ComplianceAgentStub(self.channel)

    def close(self) -> None:
        """Close the channel and stop the server."""
        self.channel.close()
        self.server.stop(0).wait()


@pytest.fixture(scope="module")
def store() -> KbStore:
    """A store with the agent's KB (the embedded default bundle) loaded."""
    kb_store = KbStore()
    kb_store.load(default_bundle_path())
    return kb_store


@pytest.fixture(scope="module")
def agent(store: KbStore) -> Iterator[Running]:
    """One running agent for the module."""
    running = Running(CheckService(store, clock=fixed_clock))
    yield running
    running.close()


def iud_request(**changes: Any) -> pb.CheckRequest:
    """A male patient ordered the female-only IUD (line 6374) plus a vitamin line."""
    request = pb.CheckRequest(
        trig_scen="4",
        task_id="T-1",
        patient=pb.Patient(patn_id=PATN_ID, patn_name="张三丰", gend="1", brdy="1951-08-27"),
        encounter=pb.Encounter(
            mdtrt_id="E-0001", med_type="21", insutype="390", medins_lv="01",
            orders=[
                pb.Order(rx_id="6374", hilist_code=IUD_CODE, hilist_name="左炔诺孕酮宫内节育系统", cnt="1",
                         pric="1153"),
                pb.Order(rx_id="6375", hilist_code="XA11DAW036A001010104127", cnt="2", pric="1.5"),
            ],
        ),
    )
    for key, value in changes.items():
        setattr(request, key, value)
    return request


def rpc_error(call: Any, request: Any) -> grpc.RpcError:
    """The RpcError a call raises."""
    with pytest.raises(grpc.RpcError) as err:
        call(request)
    return err.value


def bad_request_fields(err: grpc.RpcError) -> list[str]:
    """Fields named by the google.rpc.BadRequest detail of a failed call."""
    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    fields = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields.extend(v.field for v in bad.field_violations)
    return fields


def test_check_flags_male_patient_with_female_only_iud(agent: Running, store: KbStore) -> None:
    """A male patient ordered the IUD gets a 药品区分性别使用 alert on rx 6374 from the active KB revision."""
    response = agent.stub.Check(iud_request())
    sex_alerts = [a for a in response.alerts if a.rule_name == "药品区分性别使用"]
    assert 1 == len(sex_alerts)
    alert = sex_alerts[0]
    assert (["6374"], "1153.00") == (list(alert.rx_ids), alert.vola_amt)
    assert pb.WORKFLOW_IMPACT_UNSPECIFIED != alert.workflow_impact  # block or reason-required: KB data
    assert (store.current.revision, "T-1", "2026-11-01") == (response.kb_revision, response.task_id,
                                                             response.service_date)
    assert "E-0001" == alert.mdtrt_id


def test_female_patient_with_iud_complies(agent: Running) -> None:
    """The same order for a female patient raises no sex alert."""
    request = iud_request()
    request.patient.gend = "2"
    response = agent.stub.Check(request)
    assert [] == [a for a in response.alerts if a.rule_name == "药品区分性别使用"]


def test_judgement_id_is_unique_per_call(agent: Running) -> None:
    """Two checks of the same request get different judgement ids (and jr_ids)."""
    first, second = agent.stub.Check(iud_request()), agent.stub.Check(iud_request())
    assert first.judgement_id != second.judgement_id
    assert {a.jr_id for a in first.alerts}.isdisjoint(a.jr_id for a in second.alerts)


def _missing_patient() -> pb.CheckRequest:
    request = iud_request()
    request.ClearField("patient")
    return request


def _edit(**patient_or_order: str) -> pb.CheckRequest:
    request = iud_request()
    for key, value in patient_or_order.items():
        if key == "cnt":
            request.encounter.orders[0].cnt = value
        else:
            setattr(request.patient, key, value)
    return request


BAD_INPUTS = [
    ("missing patient", _missing_patient(), "patient"),
    ("gend absent", _edit(gend=""), "patient.gend"),
    ("brdy impossible", _edit(brdy="2024-13-45"), "patient.brdy"),
    ("cnt not a number", _edit(cnt="abc"), "encounter.orders[0].cnt"),
]


@pytest.mark.parametrize(("name", "request_msg", "field"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_invalid_argument_naming_the_field(
    agent: Running, name: str, request_msg: pb.CheckRequest, field: str
) -> None:
    """Bad input is INVALID_ARGUMENT with a BadRequest field violation and the field in the message."""
    err = rpc_error(agent.stub.Check, request_msg)
    assert grpc.StatusCode.INVALID_ARGUMENT == err.code()
    assert [field] == bad_request_fields(err)
    assert (err.details() or "").startswith(f"{field}: ")


def test_garbage_body_is_invalid_argument_naming_request(agent: Running) -> None:
    """5 MB of random bytes (above gRPC's 4 MiB default) reach the handler and are refused naming `request`."""
    raw_check = agent.channel.unary_unary(CHECK_METHOD)
    garbage = random.Random(20261101).randbytes(5 * 1024 * 1024)
    err = rpc_error(raw_check, garbage)
    assert grpc.StatusCode.INVALID_ARGUMENT == err.code()
    assert ["request"] == bad_request_fields(err)


def test_agent_keeps_serving_after_bad_inputs(agent: Running) -> None:
    """After every kind of bad input, including garbage bytes, a valid check still answers."""
    raw_check = agent.channel.unary_unary(CHECK_METHOD)
    for _name, request_msg, _field in BAD_INPUTS:
        rpc_error(agent.stub.Check, request_msg)
    rpc_error(raw_check, b"\xff" * 64)
    response = agent.stub.Check(iud_request())
    assert ["6374"] == [rx for a in response.alerts if a.rule_name == "药品区分性别使用" for rx in a.rx_ids]


def test_unexpected_error_is_internal_and_agent_keeps_serving(store: KbStore) -> None:
    """A bug in a check gives INTERNAL (no details leaked) once; the next call works."""
    calls = iter(["boom", "ok"])

    def flaky_id() -> str:
        if next(calls) == "boom":
            raise RuntimeError("engine bug with P-12345601 inside")
        return "J-OK"

    running = Running(CheckService(store, clock=fixed_clock, new_id=flaky_id))
    try:
        err = rpc_error(running.stub.Check, iud_request())
        assert (grpc.StatusCode.INTERNAL, "internal error (see the agent log)") == (err.code(), err.details())
        assert "J-OK" == running.stub.Check(iud_request()).judgement_id
    finally:
        running.close()


def test_no_kb_is_unavailable_and_not_serving() -> None:
    """Without a loaded KB, health says NOT_SERVING and Check answers UNAVAILABLE."""
    running = Running(CheckService(KbStore(), clock=fixed_clock))
    try:
        health = health_pb2_grpc.HealthStub(running.channel)
        status = health.Check(health_pb2.HealthCheckRequest(service=SERVICE)).status
        assert health_pb2.HealthCheckResponse.NOT_SERVING == status
        assert grpc.StatusCode.UNAVAILABLE == rpc_error(running.stub.Check, iud_request()).code()
    finally:
        running.close()


@pytest.mark.parametrize("service", ["", SERVICE])
def test_health_is_serving_with_a_kb(agent: Running, service: str) -> None:
    """With a KB loaded the server and the ComplianceAgent service are SERVING."""
    health = health_pb2_grpc.HealthStub(agent.channel)
    status = health.Check(health_pb2.HealthCheckRequest(service=service)).status
    assert health_pb2.HealthCheckResponse.SERVING == status


def test_reflection_lists_the_services(agent: Running) -> None:
    """Server reflection (for grpcurl) lists ComplianceAgent, health and reflection itself."""
    services = set(ProtoReflectionDescriptorDatabase(agent.channel).get_services())
    assert {SERVICE, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= services


def test_receive_limit_is_configurable(store: KbStore) -> None:
    """A message above grpc.max_receive_bytes is refused RESOURCE_EXHAUSTED before the handler."""
    running = Running(CheckService(store, clock=fixed_clock), GrpcSettings("127.0.0.1:0", 2, 1024, 0))
    try:
        request = iud_request()
        request.encounter.orders[1].hilist_name = "x" * 4096
        assert grpc.StatusCode.RESOURCE_EXHAUSTED == rpc_error(running.stub.Check, request).code()
    finally:
        running.close()


def test_port_in_use_is_a_bind_error(agent: Running, store: KbStore) -> None:
    """A second server on a port already in use fails with BindError (no silent SO_REUSEPORT sharing)."""
    with pytest.raises(BindError):
        create_server(CheckService(store), GrpcSettings(address=f"127.0.0.1:{agent.port}"))


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """Agent logging at debug level into a string buffer; reset afterwards."""
    stream = io.StringIO()
    configure_logging(LogSettings(level="debug", json=True), stream)
    yield stream
    reset_logging()


def test_raw_patient_id_never_reaches_the_log(store: KbStore, log_stream: io.StringIO) -> None:
    """Valid, invalid and failing checks through gRPC log JSON lines where patn_id appears only masked,
    even inside the traceback of an unexpected error whose message contains it."""
    ids = iter(["J-1", "boom"])

    def new_id() -> str:
        if (value := next(ids)) == "boom":
            raise KeyError(f"no ledger for {PATN_ID}")
        return value

    running = Running(CheckService(store, clock=fixed_clock, new_id=new_id))
    try:
        running.stub.Check(iud_request())
        rpc_error(running.stub.Check, _edit(brdy="2024-13-45"))
        rpc_error(running.stub.Check, iud_request())
    finally:
        running.close()
    output = log_stream.getvalue()
    events = {e["event"]: e for e in map(json.loads, output.splitlines())}
    done, failed = events["check.done"], events["grpc.internal_error"]
    assert PATN_ID not in output
    assert "张三丰" not in output
    assert ("P-******01", ["patn_id"], "E-0001") == (done["patn_id"], done["masked"], done["mdtrt_id"])
    assert ("P-******01", "error") == (failed["patn_id"], failed["level"])
    assert "no ledger for P-******01" in failed["exception"]
    assert "patient.brdy" == events["grpc.invalid_argument"]["field"]


def test_get_status_reports_the_running_kb(agent: Running, store: KbStore) -> None:
    """GetStatus: the running revision and source, and the compiled points per rule class (all 21 classes)."""
    status = pb_grpc.ComplianceAgentStub(agent.channel).GetStatus(pb.StatusRequest(), timeout=5).kb
    per_class = dict(status.points_per_rule_class)
    assert (store.current.revision, store.source, len(store.current.points), 21) == (
        status.revision, status.source, sum(per_class.values()), len(per_class)
    )
