"""The trace ledger behind the agent's own gRPC service, wired by the composition root: inbound codes imported over
ImportInbound, a box checked and dispensed (RecordDispense, 3505) in one encounter is blocked as 回流药 when checked
in another, refused when dispensed again, and sellable after a return (RecordReturn, 3506); two concurrent
settlements of one box: exactly one is accepted; bad input is INVALID_ARGUMENT naming the field."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import grpc
import pytest

from fundguard.agent.app import Agent, build_agent
from fundguard.agent.config import load_settings
from fundguard.agent.trace.stock import Product
from fundguard.v1 import compliance_pb2 as pb
from fundguard.v1 import compliance_pb2_grpc as pb_grpc
from tests.trace.ledger_samples import B1, B1_BOX, GTIN, IMPORTED, VIT_B1

from .test_grpc_server import rpc_error

RESOLD, MISSING, PRODUCT, EXPIRED = "FG-TRACE-RESOLD", "FG-TRACE-MISSING", "FG-TRACE-PRODUCT", "FG-TRACE-EXPIRED"
DAY = "2025-08-01"  # after 2025-07-01: 无码不付 applies


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    root = tmp_path_factory.mktemp("trace-agent")
    running = build_agent(load_settings(None, {"grpc.address": "127.0.0.1:0", "data.dir": root / "data"}))
    assert running.trace is not None
    running.trace.upsert_products([Product(B1_BOX, VIT_B1, "box", 10), Product(GTIN, IMPORTED, "box", 30)])
    running.start()
    yield running
    running.stop(grace=0)


@pytest.fixture(scope="module")
def stub(agent: Agent) -> Iterator[pb_grpc.ComplianceAgentStub]:
    with grpc.insecure_channel(agent.address) as channel:
        yield pb_grpc.ComplianceAgentStub(channel)


def check(stub: pb_grpc.ComplianceAgentStub, mdtrt_id: str, *codes: str, code: str = VIT_B1) -> set[str]:
    order = pb.Order(rx_id="1", hilist_code=code, hilist_name="维生素B1片", cnt=str(len(codes) or 1), pric="2.5",
                     drord_begn_date=DAY, drug_trac_codg=list(codes))  # fmt: skip
    request = pb.CheckRequest(
        trig_scen="4", service_date=DAY, patient=pb.Patient(patn_id="P-1", gend="1", brdy="1980-01-01"),
        encounter=pb.Encounter(mdtrt_id=mdtrt_id, med_type="11", orders=[order]),
    )  # fmt: skip
    return {a.rule_id for a in stub.Check(request, timeout=10).alerts}


def dispense(stub: pb_grpc.ComplianceAgentStub, mdtrt_id: str, *codes: str) -> pb.DispenseResponse:
    request = pb.DispenseRequest(mdtrt_id=mdtrt_id, rx_id="1", hilist_code=VIT_B1, drug_trac_codg=list(codes),
                                 cnt=str(len(codes)), sel_retn_time=f"{DAY} 10:00:00", med_type="11")  # fmt: skip
    return stub.RecordDispense(request, timeout=10)


def test_import_reports_a_malformed_code_by_index_and_imports_the_rest(stub: pb_grpc.ComplianceAgentStub) -> None:
    codes = [pb.InboundCode(drug_trac_codg=c, manu_lotnum="240601", expy_end="2027-05-31") for c in B1[:3]]
    codes.append(pb.InboundCode(drug_trac_codg="8385793000087976666", expy_end="2027-05-31"))  # 19 digits
    answer = stub.ImportInbound(pb.ImportInboundRequest(codes=codes, source="delivery-0801"), timeout=10)
    assert (3, 0, [(3, "codes[3].drug_trac_codg")]) == (
        answer.added,
        answer.unchanged,
        [(r.index, r.field) for r in answer.rejected],
    )
    again = stub.ImportInbound(pb.ImportInboundRequest(codes=codes[:3], source="delivery-0801"), timeout=10)
    assert (0, 3, 0) == (again.added, again.unchanged, len(again.rejected))  # idempotent


def test_sold_box_is_blocked_elsewhere_until_returned(stub: pb_grpc.ComplianceAgentStub) -> None:
    box = B1[0]
    assert RESOLD not in check(stub, "E-A", box)
    first = dispense(stub, "E-A", box)
    assert (True, "") == (first.accepted, first.reason)
    assert RESOLD not in check(stub, "E-A", box)  # a re-check of the dispensed line is not a resale
    assert RESOLD in check(stub, "E-B", box)  # the same box in another encounter: 回流药 suspected
    refused = dispense(stub, "E-B", box)
    assert (False, "sold", [box]) == (refused.accepted, refused.reason, [c.drug_trac_codg for c in refused.codes])
    returned = stub.RecordReturn(pb.ReturnRequest(mdtrt_id="E-A", rx_id="1"), timeout=10)
    assert (True, [box]) == (returned.returned, list(returned.drug_trac_codg))
    assert RESOLD not in check(stub, "E-B", box)
    assert dispense(stub, "E-B", box).accepted


def test_a_drug_without_its_code_and_a_code_of_another_drug(stub: pb_grpc.ComplianceAgentStub) -> None:
    assert MISSING in check(stub, "E-C")  # 维生素B1片 after 2025-07-01 with no code, no 无码库
    assert PRODUCT in check(stub, "E-C", B1[1], code="XA11GAW043A001010201815")  # a B1 box on a vitamin C line


def test_two_concurrent_settlements_of_one_box_exactly_one_succeeds(stub: pb_grpc.ComplianceAgentStub) -> None:
    box = B1[2]
    start = threading.Barrier(8)
    results: list[bool] = []

    def settle(n: int) -> None:
        start.wait()
        results.append(dispense(stub, f"E-RACE-{n}", box).accepted)

    threads = [threading.Thread(target=settle, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [True] == [r for r in results if r] and 8 == len(results)


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"cnt": "two"}, "cnt"), ({"cnt": "0"}, "cnt"), ({"mdtrt_id": " "}, "mdtrt_id"), ({"trdn_flag": "Y"}, "trdn_flag"),
     ({"sel_retn_time": "yesterday"}, "sel_retn_time")],
)  # fmt: skip
def test_bad_dispense_is_invalid_argument_naming_the_field(
    stub: pb_grpc.ComplianceAgentStub, changes: dict[str, str], field: str
) -> None:
    request = pb.DispenseRequest(mdtrt_id="E-X", rx_id="1", hilist_code=VIT_B1, drug_trac_codg=[B1[4]], cnt="1")
    for key, value in changes.items():
        setattr(request, key, value)
    err = rpc_error(stub.RecordDispense, request)
    assert (grpc.StatusCode.INVALID_ARGUMENT, True) == (err.code(), field in (err.details() or ""))


def test_an_imported_gs1_box_parses_and_its_expiry_is_checked(stub: pb_grpc.ComplianceAgentStub) -> None:
    """A GS1 DataMatrix scan (raw, FNC1 as GS, symbology prefix) of an imported drug: received over ImportInbound,
    its AI 17 expiry (2025-01-31) is before the date of service: FG-TRACE-EXPIRED; a box expiring later is not."""
    expired = f"]d201{GTIN}17250131" + "10LOT7\x1d21SN-0001"
    fresh = f"(01){GTIN}(17)270630(10)LOT8(21)SN-0002"
    codes = [pb.InboundCode(drug_trac_codg=c) for c in (expired, fresh)]
    assert 2 == stub.ImportInbound(pb.ImportInboundRequest(codes=codes, source="import-0801"), timeout=10).added
    assert EXPIRED in check(stub, "E-G1", expired, code=IMPORTED)
    assert EXPIRED not in check(stub, "E-G2", fresh, code=IMPORTED)
