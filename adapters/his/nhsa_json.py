"""National 3101/3102 (明细审核事前/事中分析) JSON ↔ fundguard: translation only, no sockets, no clock.

`decode` takes the whole envelope (`infno` + `input.data`), just `input`, or just `data`, and gives one
validated request per `patient_dtos[]` entry (the envelope's `inf_time` is the date of service, when present):
the encounter whose `mdtrt_id` is the patient's `curr_mdtrt_id` is checked, the patient's other encounters
become `history`. Validation is `agent.intake.parse_request` (one
path for every JSON transport); its proto-shape field paths are translated back to national ones
(`input.data.patient_dtos[0].fsi_encounter_dtos[0].fsi_order_dtos[1].cnt`). A flattened layout (node lists at
the wrong level) is refused with a message saying how the nodes nest.

`encode` answers in the national response envelope (`output.result[]` + `judge_result_detail_dtos[]`, plus
fundguard's `kp_id`, `workflow_impact`, `kb_revision`, `rule_class`); `encode_error` gives `infcode` -1.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from fundguard.agent.engine.errors import FundguardError, InvalidField
from fundguard.agent.engine.model import Alert
from fundguard.agent.intake import ParsedRequest, parse_date, parse_request, text
from fundguard.agent.intake.json_doc import json_object

if TYPE_CHECKING:
    from fundguard.agent.service import CheckOutcome

__all__ = ["TRANSACTIONS", "decode", "encode", "encode_error", "envelope", "load", "transaction"]

TRANSACTIONS = frozenset({"3101", "3102"})
DATA = "input.data"
CENT = Decimal("0.01")
_ENCOUNTER_NODES = {"fsi_diagnose_dtos": "diagnoses", "fsi_order_dtos": "orders", "fsi_operation_dtos": "operations"}
_NATIONAL_NODE = {proto: national for national, proto in _ENCOUNTER_NODES.items()}
_PATIENT_FIELDS = ("patn_id", "patn_name", "gend", "brdy", "poolarea")
_PROTO_PATH = re.compile(r"^(?:encounter|history\[(\d+)\])(?:\.(diagnoses|orders|operations)(?!\w))?(.*)$")
_NESTING = f"{DATA}.patient_dtos[].fsi_encounter_dtos[]"


def load(raw: bytes | str) -> dict[str, Any]:
    """Request bytes/text to a JSON object (UTF-8 with/without BOM, GB18030 tolerated), else InvalidField."""
    if isinstance(raw, bytes):
        try:
            source = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            source = raw.decode("gb18030", errors="replace")
    else:
        source = raw
    return json_object(source)


def transaction(doc: Mapping[str, Any]) -> str:
    """The envelope's `infno` ("3101" when only `input`/`data` was sent)."""
    return text(doc.get("infno")) or "3101"


def _object(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidField("must be a JSON object", path)
    return value


def _objects(value: Any, path: str, what: str = "") -> list[Mapping[str, Any]]:
    """A node list: null/"" is empty (an error if `what` names a required node); one object is one item."""
    if value is None or value == "":
        items: list[Any] = []
    elif isinstance(value, Mapping):
        items = [value]
    elif isinstance(value, list):
        items = value
    else:
        raise InvalidField("must be a JSON list", path)
    if what and not items:
        raise InvalidField(f"is required (at least one {what})", path)
    return [_object(item, f"{path}[{n}]") for n, item in enumerate(items)]


def _flattened(node: str, where: str, nested_as: str) -> InvalidField:
    return InvalidField(
        f"flattened layout: {node} must be nested as {nested_as}.{node}[] "
        "(the spec prints each node as its own table, but the JSON nests them)",
        f"{where}.{node}",
    )


def _data(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    """Find `input.data` in an envelope, an `input` object or a bare `data` object."""
    infno = text(doc.get("infno"))
    if infno and infno not in TRANSACTIONS:
        raise InvalidField(f"transaction {infno!r} is not handled here (3101 and 3102 are)", "infno")
    if "input" in doc:
        inp = _object(doc["input"], "input")
    elif "data" in doc and "patient_dtos" not in doc:
        inp = doc
    else:
        return doc
    if "data" not in inp:
        for key in ("patient_dtos", "fsi_encounter_dtos", *_ENCOUNTER_NODES):
            if key in inp:
                raise InvalidField(f"flattened layout: {key} must be nested under {DATA}", f"input.{key}")
        raise InvalidField("is required", DATA)
    return _object(inp["data"], DATA)


def _check_layout(data: Mapping[str, Any]) -> None:
    if "patientDtos" in data and "patient_dtos" not in data:
        raise InvalidField(
            "camelCase layout (Hainan 3660) is not handled: send snake_case patient_dtos",
            f"{DATA}.patientDtos",
        )
    if "fsi_encounter_dtos" in data:
        raise _flattened("fsi_encounter_dtos", DATA, f"{DATA}.patient_dtos[]")
    for node in _ENCOUNTER_NODES:
        if node in data:
            raise _flattened(node, DATA, _NESTING)
    if "patient_dtos" not in data:
        raise InvalidField("is required (参保人信息, the list of patients)", f"{DATA}.patient_dtos")


def _encounter(enc: Mapping[str, Any], path: str) -> dict[str, Any]:
    out = {k: v for k, v in enc.items() if k not in _ENCOUNTER_NODES}
    for national, proto in _ENCOUNTER_NODES.items():
        out[proto] = [dict(item) for item in _objects(enc.get(national), f"{path}.{national}")]
    return out


def _current(patient: Mapping[str, Any], encounters: list[Mapping[str, Any]], path: str) -> int:
    """Index of the encounter under check."""
    curr = text(patient.get("curr_mdtrt_id"))
    if not curr:
        if len(encounters) == 1:
            return 0
        raise InvalidField("is required when fsi_encounter_dtos lists more than one encounter", f"{path}.curr_mdtrt_id")
    matches = [n for n, enc in enumerate(encounters) if text(enc.get("mdtrt_id")) == curr]
    if not matches:
        raise InvalidField(f"{curr!r} matches no fsi_encounter_dtos[].mdtrt_id", f"{path}.curr_mdtrt_id")
    if len(matches) > 1:
        raise InvalidField(f"{curr!r} matches more than one encounter", f"{path}.curr_mdtrt_id")
    return matches[0]


def _national_path(field: str, patient_path: str, current: int, others: list[int]) -> str:
    """Translate a parse_request (proto-shape) field path into the national one."""
    if field == "patient" or field.startswith(("patient.", "patient[")):
        return patient_path + field.removeprefix("patient")
    match = _PROTO_PATH.match(field)
    if match:
        index = current if match[1] is None else others[int(match[1])]
        node = f".{_NATIONAL_NODE[match[2]]}" if match[2] else ""
        return f"{patient_path}.fsi_encounter_dtos[{index}]{node}{match[3]}"
    return f"{DATA}.{field}" if field else DATA


def _dept(encounter: Mapping[str, Any]) -> str:
    """The ordering department of the encounter's first current line (for alert subscribers), else ""."""
    orders = encounter.get("fsi_order_dtos")
    for order in orders if isinstance(orders, list) else []:
        if isinstance(order, Mapping) and text(order.get("curr_drord_flag")) != "0":
            return text(order.get("drord_dept_codg"))
    return ""


def _patient_request(patient: Mapping[str, Any], data: Mapping[str, Any], path: str, locale: str) -> ParsedRequest:
    for node in _ENCOUNTER_NODES:
        if node in patient:
            raise _flattened(node, path, f"{path}.fsi_encounter_dtos[]")
    encounters = _objects(patient.get("fsi_encounter_dtos"), f"{path}.fsi_encounter_dtos", "encounter")
    current = _current(patient, encounters, path)
    others = [n for n in range(len(encounters)) if n != current]
    enc_path = f"{path}.fsi_encounter_dtos"
    mapping = {
        "trig_scen": data.get("trig_scen"),
        "task_id": data.get("task_id"),
        "syscode": data.get("syscode"),
        "locale": locale,
        "dept_code": _dept(encounters[current]),
        "patient": {k: patient[k] for k in _PATIENT_FIELDS if k in patient},
        "encounter": _encounter(encounters[current], f"{enc_path}[{current}]"),
        "history": [_encounter(encounters[n], f"{enc_path}[{n}]") for n in others],
    }
    try:
        return parse_request(mapping)
    except InvalidField as exc:
        raise InvalidField(exc.message, _national_path(exc.field, path, current, others)) from None


def decode(doc: Mapping[str, Any] | bytes | str, *, locale: str = "zh-CN") -> list[ParsedRequest]:
    """3101/3102 request (envelope, `input` or `data`): one validated request per patient, or InvalidField."""
    obj = load(doc) if isinstance(doc, bytes | str) else _object(doc, "")
    data = _data(obj)
    _check_layout(data)
    # the envelope's 交易时间 is the date of service (standing orders run to it; points apply as of it)
    service_date = parse_date(obj.get("inf_time"), "inf_time") if "input" in obj else None
    patients = _objects(data["patient_dtos"], f"{DATA}.patient_dtos", "patient")
    requests = [_patient_request(p, data, f"{DATA}.patient_dtos[{n}]", locale) for n, p in enumerate(patients)]
    workstation = text(obj.get("dev_no"))  # 设备编号: the workstation, for alert subscribers
    for parsed in requests:
        if service_date is not None:
            parsed.service_date = service_date
        parsed.workstation_id = workstation
    return requests


def _stamp(moment: datetime | None) -> str:
    """National response time `yyyyMMddHHmmssSSS`."""
    return "" if moment is None else moment.strftime("%Y%m%d%H%M%S") + f"{moment.microsecond // 1000:03d}"


def _amount(value: Decimal) -> str:
    return str(value.quantize(CENT))


def _result(alert: Alert, parsed: ParsedRequest, kb_revision: str) -> dict[str, Any]:
    request = parsed.request
    patn_id = request.patient.patn_id
    mdtrt_id = alert.mdtrt_id or request.encounter.mdtrt_id
    details = [
        {"jrd_id": f"{alert.jr_id}-{n:02d}", "patn_id": patn_id, "mdtrt_id": mdtrt_id, "rx_id": line.rx_id,
         "vola_item_type": line.vola_item_type, "vola_amt": _amount(line.vola_amt)}
        for n, line in enumerate(alert.lines, 1)
    ]  # fmt: skip
    return {
        "jr_id": alert.jr_id, "rule_id": alert.rule_id, "rule_name": alert.rule_name,
        "vola_cont": alert.vola_cont, "patn_id": patn_id, "mdtrt_id": mdtrt_id,
        "judge_result_detail_dtos": details,
        "vola_amt": _amount(alert.vola_amt), "vola_amt_stas": "1", "sev_deg": alert.sev_deg,
        "vola_evid": alert.vola_evid, "vola_bhvr_type": "", "task_id": request.task_id,
        "kp_id": alert.kp_id, "workflow_impact": alert.workflow_impact.value, "kb_revision": kb_revision,
        "rule_class": alert.rule_class,
    }  # fmt: skip


def envelope(received: datetime | None, responded: datetime | None, **fields: Any) -> dict[str, Any]:
    """The national response header; `fields` overrides infcode, inf_refmsgid, err_msg, warn_msg, output."""
    return {
        "infcode": 0, "inf_refmsgid": "", "refmsg_time": _stamp(received),
        "respond_time": _stamp(responded or received), "enctype": "", "signtype": "", "cainfo": "",
        "err_msg": "", "warn_msg": "", "output": {}, **fields,
    }  # fmt: skip


def encode(
    outcomes: Sequence[CheckOutcome],
    requests: Sequence[ParsedRequest],
    infno: str = "3101",
    *,
    refmsg_time: datetime,
    respond_time: datetime | None = None,
    inf_refmsgid: str | None = None,
) -> dict[str, Any]:
    """The national response to a 3101/3102 request: `outcomes[i]` answers `requests[i]` (one per patient).

    `inf_refmsgid` defaults to the first judgement id cut to the national 30 characters. `warn_msg` names
    encounters that had no current line (curr_drord_flag 1), so nothing was checked.
    """
    if infno not in TRANSACTIONS:
        raise ValueError(f"infno must be 3101 or 3102, not {infno!r}")
    if len(outcomes) != len(requests):
        raise ValueError("one outcome per request")
    results: list[dict[str, Any]] = []
    idle: list[str] = []
    for outcome, parsed in zip(outcomes, requests, strict=True):
        check = outcome.result
        results.extend(_result(a, parsed, check.kb_revision) for a in check.alerts)
        if not any(o.current for o in parsed.request.encounter.orders):
            idle.append(parsed.request.encounter.mdtrt_id)
    warn = f"no current order line (curr_drord_flag 1) to check in mdtrt_id {', '.join(idle)}" if idle else ""
    if inf_refmsgid is None:
        inf_refmsgid = outcomes[0].result.judgement_id[:30] if outcomes else ""
    return envelope(refmsg_time, respond_time, inf_refmsgid=inf_refmsgid, warn_msg=warn, output={"result": results})


def encode_error(
    err: FundguardError, *, refmsg_time: datetime | None = None, respond_time: datetime | None = None
) -> dict[str, Any]:
    """The national failure response: `infcode` -1, `err_msg` "field: message", empty `output`."""
    return envelope(refmsg_time, respond_time, infcode=-1, err_msg=str(err))
