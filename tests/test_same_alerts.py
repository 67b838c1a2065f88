"""One encounter, five transports, the same alerts: gRPC, national 3101 JSON over HTTP, HL7 v2 over MLLP, FHIR CDS
Hooks and a drop-folder file all reach the same check service of one running agent (built by the composition root
with every listener on), including the hospital code map.

The encounter: a man (1951-08-27), inpatient 2001668 (痛风), orders on 2025-06-14 by ys01:
6374 the female-only IUD by national code, 6372 vitamin C by national code, 6377 the IUD again by the hospital's
own code H0279543 (mapped to the national code by the code map), 6378 a hospital code nobody mapped.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import hl7
import hl7.client
import pytest

from fundguard.adapters.his.cds_hooks import NATIONAL_SYSTEM
from fundguard.agent.app import Agent, build_agent
from fundguard.agent.config import load_settings
from fundguard.v1 import compliance_pb2 as pb
from fundguard.v1 import compliance_pb2_grpc as pb_grpc

from .cds_samples import HOSPITAL_SYSTEM, condition, medication_request
from .hl7_samples import segment
from .samples import IUD_CODE, SEX_DRUG_RULE_ID, VITAMIN_C

LOCAL_IUD, UNMAPPED = "H0279543", "H-0000404"
# (rx_id, code, national?, name, cnt, price)
ORDERS = [
    ("6374", IUD_CODE, True, "左炔诺孕酮宫内节育系统", "1", "1153.00"),
    ("6372", VITAMIN_C, True, "维生素C片", "3", "0.08"),
    ("6377", LOCAL_IUD, False, "曼月乐(院内码)", "1", "1153.00"),
    ("6378", UNMAPPED, False, "未对照项目", "2", "5.00"),
]
Alerts = list[tuple[str, tuple[str, ...]]]


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    root = tmp_path_factory.mktemp("agent")
    code_map = root / "codes.csv"
    code_map.write_text(f"hosplist_code,hilist_code,hosplist_name\n{LOCAL_IUD},{IUD_CODE},曼月乐\n", encoding="utf-8")
    settings = load_settings(None, {
        "grpc.address": "127.0.0.1:0", "http.address": "127.0.0.1:0", "mllp.address": "127.0.0.1:0",
        "drop.dir": root / "drop", "drop.poll_seconds": 0.2, "codes.map_file": code_map, "data.dir": root / "data",
    })  # fmt: skip
    running = build_agent(settings)
    running.start()
    yield running
    running.stop(grace=0)


def listener(agent: Agent, name: str) -> str:
    return next(x.address for x in agent.listeners if x.name == name)


def via_grpc(agent: Agent) -> Alerts:
    orders = [
        pb.Order(rx_id=rx, hilist_code=code if national else "", hosplist_code="" if national else code,
                 hilist_name=name, cnt=cnt, pric=price, drord_begn_date="2025-06-14 14:20:11", drord_dr_codg="ys01")
        for rx, code, national, name, cnt, price in ORDERS
    ]  # fmt: skip
    request = pb.CheckRequest(
        trig_scen="4", service_date="2025-06-14",
        patient=pb.Patient(patn_id="1058158", gend="1", brdy="1951-08-27"),
        encounter=pb.Encounter(mdtrt_id="2001668", med_type="21", adm_date="2025-05-04 10:59:45",
                               diagnoses=[pb.Diagnosis(dise_codg="M10.900", maindise_flag="1")], orders=orders),
    )  # fmt: skip
    with grpc.insecure_channel(agent.address) as channel:
        response = pb_grpc.ComplianceAgentStub(channel).Check(request, timeout=10)
    return sorted((a.rule_id, tuple(a.rx_ids)) for a in response.alerts)


def national_3101() -> dict[str, Any]:
    orders = [
        {"rx_id": rx, "hilist_code": code if national else "", "hosplist_code": "" if national else code,
         "hilist_name": name, "cnt": cnt, "pric": price, "drord_begn_date": "2025-06-14 14:20:11",
         "drord_dr_codg": "ys01", "curr_drord_flag": "1"}
        for rx, code, national, name, cnt, price in ORDERS
    ]  # fmt: skip
    encounter = {"mdtrt_id": "2001668", "med_type": "21", "adm_date": "2025-05-04 10:59:45",
                 "fsi_diagnose_dtos": [{"dise_codg": "M10.900", "maindise_flag": "1"}], "fsi_order_dtos": orders}
    patient = {"patn_id": "1058158", "gend": "1", "brdy": "1951-08-27", "curr_mdtrt_id": "2001668",
               "fsi_encounter_dtos": [encounter]}  # fmt: skip
    return {"infno": "3101", "inf_time": "2025-06-14 14:27:24",
            "input": {"data": {"trig_scen": "4", "syscode": "HIS", "patient_dtos": [patient]}}}  # fmt: skip


def national_alerts(doc: dict[str, Any]) -> Alerts:
    assert 0 == doc["infcode"], doc["err_msg"]
    return sorted((r["rule_id"], tuple(d["rx_id"] for d in r["judge_result_detail_dtos"]))
                  for r in doc["output"]["result"])  # fmt: skip


def post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        doc: dict[str, Any] = json.loads(response.read())
    return doc


def via_national_json(agent: Agent) -> Alerts:
    return national_alerts(post(f"http://{listener(agent, 'http')}/3101", national_3101()))


def via_hl7(agent: Agent) -> Alerts:
    segments = [
        segment("MSH", {3: "HIS", 4: "H43070100001", 5: "FUNDGUARD", 7: "20250614142724", 9: "RDE^O11^RDE_O11",
                        10: "MSG0001", 11: "P", 12: "2.5", 18: "UNICODE UTF-8"}),
        segment("PID", {1: "1", 3: "1058158^^^H43070100001^PI", 7: "19510827", 8: "M"}),
        segment("PV1", {1: "1", 2: "I", 7: "ys01", 19: "2001668", 44: "20250504105945"}),
        segment("DG1", {1: "1", 3: "M10.900^痛风^ICD10", 15: "1"}),
    ]  # fmt: skip
    for rx, code, national, name, cnt, price in ORDERS:
        give = f"{code}^{name}^NHSA" if national else f"{code}^{name}"
        segments += [
            segment("ORC", {1: "NW", 2: rx, 9: "20250614142011", 12: "ys01"}),
            segment("RXE", {2: give, 3: cnt, 10: cnt}),
            segment("FT1", {1: "1", 6: "CG", 7: give, 10: cnt, 12: price}),
        ]
    host, _, port = listener(agent, "mllp").rpartition(":")
    with hl7.client.MLLPClient(host, int(port)) as client:
        ack = hl7.parse(client.send_message("\r".join(segments) + "\r").decode("utf-8"))
    assert "AA" == str(ack.segment("MSA")[1])
    out = []
    for err in ack.segments("ERR"):
        repetitions = [str(rep) for rep in err[6]]  # jr_id~kp_id~sev_deg~workflow_impact~vola_amt~rx_id…
        out.append((str(err[5][0][0]), tuple(repetitions[5:])))
    return sorted(out)


def via_cds_hooks(agent: Agent) -> Alerts:
    drafts = [
        medication_request(rx, code, name, system=NATIONAL_SYSTEM if national else HOSPITAL_SYSTEM,
                           quantity=int(cnt), authoredOn="2025-06-14T14:20:11+08:00")
        for rx, code, national, name, cnt, _ in ORDERS
    ]  # fmt: skip
    request = {
        "hook": "order-sign", "hookInstance": "6f1e2a34-0000-4000-8000-000000000001",
        "context": {"userId": "Practitioner/ys01", "patientId": "1058158", "encounterId": "2001668",
                    "draftOrders": {"resourceType": "Bundle", "type": "collection",
                                    "entry": [{"resource": d} for d in drafts]}},
        "prefetch": {
            "patient": {"resourceType": "Patient", "id": "1058158", "gender": "male", "birthDate": "1951-08-27"},
            "encounter": {"resourceType": "Encounter", "id": "2001668", "status": "in-progress",
                          "class": {"code": "IMP"}, "period": {"start": "2025-05-04T10:59:45+08:00"}},
            "conditions": {"resourceType": "Bundle", "type": "searchset",
                           "entry": [{"resource": condition("7396", "M10.900", "痛风")}]},
        },
    }  # fmt: skip
    cards = post(f"http://{listener(agent, 'http')}/cds-services/fundguard-order-sign", request)["cards"]
    return sorted((c["extension"]["fundguard"]["rule_id"], tuple(c["extension"]["fundguard"]["rx_ids"]))
                  for c in cards)  # fmt: skip


def via_drop_folder(agent: Agent) -> Alerts:
    folder = Path(listener(agent, "drop"))
    (folder / "inbox" / "case-1.json.part").write_text(json.dumps(national_3101(), ensure_ascii=False), "utf-8")
    (folder / "inbox" / "case-1.json.part").rename(folder / "inbox" / "case-1.json")
    result = folder / "outbox" / "case-1.json"
    deadline = time.monotonic() + 20
    while not result.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return national_alerts(json.loads(result.read_text("utf-8")))


TRANSPORTS: dict[str, Callable[[Agent], Alerts]] = {
    "grpc": via_grpc, "national-json": via_national_json, "hl7v2-mllp": via_hl7, "cds-hooks": via_cds_hooks,
    "drop-folder": via_drop_folder,
}  # fmt: skip
# the doctor "ys01" is a HIS staff number, not the national 13-character 医保医师代码: an info alert naming its lines
EXPECTED: Alerts = [("FG-CODE-UNMAPPED", ("6378",)), ("FG-PRACT-CODE", ("6374", "6372", "6377", "6378")),
                    (SEX_DRUG_RULE_ID, ("6374",)), (SEX_DRUG_RULE_ID, ("6377",))]  # fmt: skip


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_every_transport_gives_the_same_alerts(agent: Agent, transport: str) -> None:
    """Same rule ids on the same lines, whichever protocol brought the encounter: the national code, the mapped
    hospital code and the unmapped one."""
    assert EXPECTED == TRANSPORTS[transport](agent)
