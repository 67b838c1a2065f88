"""The bench's encounter on the other wires: a national 3101 envelope (JSON gateway) and an HL7 v2 RDE^O11 (MLLP).

Both carry the same patient, encounter, diagnoses and lines as the bench's proto3-JSON-shaped request (so every
transport's throughput is measured on the same work); the 3101 envelope also carries the earlier encounter, which
HL7 v2 has no place for. The gRPC payload is `grpc_bench.check_payload`.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["hl7_frame", "hl7_message", "national_3101"]

_NATIONAL_NODES = {"diagnoses": "fsi_diagnose_dtos", "orders": "fsi_order_dtos", "operations": "fsi_operation_dtos"}
_SEX = {"1": "M", "2": "F"}
VT, FS_CR = b"\x0b", b"\x1c\r"


def _national_encounter(encounter: dict[str, Any]) -> dict[str, Any]:
    return {_NATIONAL_NODES.get(k, k): v for k, v in encounter.items()}


def national_3101(request: dict[str, Any]) -> bytes:
    """The request as a 3101 envelope (UTF-8 JSON): `input.data.patient_dtos[0].fsi_encounter_dtos`, the encounter
    under check first, then its history; the envelope's `inf_time` is the date of service."""
    encounter = request["encounter"]
    patient = {
        **request["patient"],
        "curr_mdtrt_id": encounter["mdtrt_id"],
        "fsi_encounter_dtos": [_national_encounter(e) for e in (encounter, *request.get("history", ()))],
    }
    data = {k: request[k] for k in ("trig_scen", "task_id", "syscode") if k in request}
    doc = {
        "infno": "3101",
        "inf_time": f"{request['service_date']} 09:00:00",
        "input": {"data": {**data, "patient_dtos": [patient]}},
    }
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _hl7_time(value: str) -> str:
    """`2026-07-15 09:00:00` or `2026-07-15` → `20260715090000` / `20260715`."""
    return value.replace("-", "").replace(" ", "").replace(":", "")


def _segment(name: str, fields: dict[int, str]) -> str:
    values = [fields.get(n, "") for n in range(1, max(fields) + 1)]
    if name == "MSH":
        return "MSH|^~\\&|" + "|".join(values[2:])
    return "|".join([name, *values])


def hl7_message(request: dict[str, Any], control_id: str = "BENCH0000000000001") -> str:
    """The request's encounter under check as an RDE^O11 (v2.5, UTF-8): one ORC/RXE/FT1 group per current line."""
    patient, encounter = request["patient"], request["encounter"]
    service = _hl7_time(request["service_date"]) + "090000"
    segments = [
        _segment("MSH", {3: "HIS-BENCH", 4: encounter.get("medins_id", ""), 5: "FUNDGUARD", 7: service,
                         9: "RDE^O11^RDE_O11", 10: control_id, 11: "P", 12: "2.5", 18: "UNICODE UTF-8"}),
        _segment("PID", {1: "1", 3: f"{patient['patn_id']}^^^HIS^PI", 5: patient.get("patn_name", ""),
                         7: _hl7_time(patient["brdy"]), 8: _SEX.get(patient["gend"], "U")}),
        _segment("PV1", {1: "1", 2: "I", 7: encounter.get("dr_codg", ""), 19: encounter["mdtrt_id"],
                         44: _hl7_time(encounter.get("adm_date", ""))}),
    ]  # fmt: skip
    for n, dx in enumerate(encounter.get("diagnoses", ()), 1):
        main = "1" if dx.get("maindise_flag") == "1" else "2"
        segments.append(_segment("DG1", {1: str(n), 3: f"{dx['dise_codg']}^{dx['dise_name']}^ICD10", 15: main}))
    for n, order in enumerate((o for o in encounter["orders"] if o.get("curr_drord_flag") != "0"), 1):
        give = f"{order['hilist_code']}^{order['hilist_name']}^NHSA"
        begin = _hl7_time(order.get("drord_begn_date", ""))
        segments += [
            _segment("ORC", {1: "NW", 2: order["rx_id"], 9: begin, 12: order.get("drord_dr_codg", "")}),
            _segment("RXE", {2: give, 3: order["cnt"], 10: order["cnt"]}),
            _segment("FT1", {1: str(n), 6: "CG", 7: give, 10: order["cnt"], 11: order["pric"], 12: order["pric"]}),
        ]
    return "\r".join(segments) + "\r"


def hl7_frame(request: dict[str, Any]) -> bytes:
    """`hl7_message` in an MLLP frame (VT message FS CR)."""
    return VT + hl7_message(request).encode("utf-8") + FS_CR
