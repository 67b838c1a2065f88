"""gRPC Check under 10,000 malformed bodies: each is answered (a response or INVALID_ARGUMENT), none crashes.

Bodies are the serialized IUD request with scalar fields replaced by odd strings, truncated, bit-flipped, or random
bytes. The handler (bytes in, response out) is fuzzed in-process; a few hundred go over a real channel, after which
a valid check is still answered.
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fundguard.agent.engine.errors import InvalidField
from fundguard.agent.kb import KbStore
from fundguard.agent.service import CheckService
from fundguard.agent.transport.grpc_behaviors import CheckHandler
from fundguard.agent.transport.grpc_server import CHECK_METHOD
from fundguard.v1 import compliance_pb2 as pb

from .test_grpc_server import Running, fixed_clock, iud_request

ODD = st.sampled_from(["", " ", "abc", "-1", "0", "NaN", "1e999", "2024-13-45", "9", "\u0000", "１２", "1" * 40])
FIELDS = [
    ("patient", "gend"), ("patient", "brdy"), ("patient", "patn_id"), ("encounter", "mdtrt_id"),
    ("encounter", "adm_date"), ("order", "cnt"), ("order", "pric"), ("order", "hilist_code"), ("order", "rx_id"),
    ("order", "drord_begn_date"), ("order", "curr_drord_flag"), ("request", "service_date"), ("request", "trig_scen"),
]  # fmt: skip


@st.composite
def edited(draw: st.DrawFn) -> bytes:
    request = iud_request()
    for where, name in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3)):
        target = {"patient": request.patient, "encounter": request.encounter, "request": request,
                  "order": request.encounter.orders[draw(st.integers(0, 1))]}[where]  # fmt: skip
        setattr(target, name, draw(ODD | st.text(max_size=12)))
    if draw(st.booleans()):
        request.ClearField(draw(st.sampled_from(["patient", "encounter"])))
    return request.SerializeToString()


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    raw = bytearray(iud_request().SerializeToString())
    for _ in range(draw(st.integers(1, 4))):
        raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
    return bytes(raw[: draw(st.integers(0, len(raw)))])


BODIES = st.one_of(edited(), damaged(), st.binary(max_size=300))


@pytest.fixture(scope="module")
def handler(store: KbStore) -> CheckHandler:
    return CheckHandler(CheckService(store, clock=fixed_clock))


@pytest.fixture(scope="module")
def store() -> KbStore:
    from fundguard.knowledge_base import default_bundle_path

    kb_store = KbStore()
    kb_store.load(default_bundle_path())
    return kb_store


@pytest.fixture(scope="module")
def agent(store: KbStore) -> Iterator[Running]:
    running = Running(CheckService(store, clock=fixed_clock))
    yield running
    running.close()


@pytest.mark.slow
def test_fuzz_every_malformed_body_is_answered(handler: CheckHandler) -> None:
    """10,000 malformed bodies: each gives a CheckResponse or an InvalidField naming a field, nothing else."""

    @settings(max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(body=BODIES)
    def one(body: bytes) -> None:
        try:
            response = handler(body, None)  # type: ignore[arg-type]
        except InvalidField as exc:
            assert exc.message
        else:
            assert isinstance(response, pb.CheckResponse)

    one()


def test_server_still_serves_after_malformed_bodies(agent: Running) -> None:
    """Over a real channel: each malformed body is OK or INVALID_ARGUMENT; a valid check works afterwards."""
    raw = agent.channel.unary_unary(CHECK_METHOD)

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(body=BODIES)
    def one(body: bytes) -> None:
        try:
            raw(body, timeout=10)
        except grpc.RpcError as err:
            assert grpc.StatusCode.INVALID_ARGUMENT == err.code()

    one()
    response = agent.stub.Check(iud_request(), timeout=10)
    assert ["6374"] == [rx for a in response.alerts if a.rule_name == "药品区分性别使用" for rx in a.rx_ids]
