"""fundguard.v1 protobuf ↔ domain objects, for the gRPC transport's hot path.

`request_from_proto` applies the same rules as the JSON edge (`agent.intake.request.parse_request`) with direct
attribute access — no MessageToDict, no pydantic — and raises `InvalidField` naming the dotted field path
(`patient.gend`, `encounter.orders[2].cnt`). Fields are checked in the JSON model's declaration order, so both edges
name the same field for the same bad input. `response_to_proto` renders a `CheckOutcome`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import suppress
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from fundguard.agent.engine import model as m
from fundguard.agent.engine.errors import InvalidField
from fundguard.agent.intake import ParsedRequest
from fundguard.agent.intake.scalars import GENDERS, TRIG_SCENS, parse_date, parse_decimal
from fundguard.agent.service import CheckOutcome
from fundguard.agent.stream import AlertEvent
from fundguard.v1 import compliance_pb2 as pb

__all__ = ["SERVICE_NAME", "event_to_proto", "request_from_proto", "response_to_proto"]

P = TypeVar("P")  # a proto element
D = TypeVar("D")  # its domain object

SERVICE_NAME: str = pb.DESCRIPTOR.services_by_name["ComplianceAgent"].full_name

_ZERO = Decimal(0)
_CENT = Decimal("0.01")
_MAX_DECIMAL = Decimal("1e12")  # agent.intake.scalars refuses |x| >= 1e12 the same way
_DATE_TIME_SEPARATORS = frozenset(" T")
_MAX_UINT32 = 2**32 - 1
_IMPACT = {
    m.WorkflowImpact.BLOCK: pb.WORKFLOW_IMPACT_BLOCK,
    m.WorkflowImpact.REASON_REQUIRED: pb.WORKFLOW_IMPACT_REASON_REQUIRED,
    m.WorkflowImpact.INFO: pb.WORKFLOW_IMPACT_INFO,
}


def _required(value: str, field: str) -> str:
    out = value.strip()
    if not out:
        raise InvalidField("is required", field)
    return out


# Parsed values of the strings HIS send again and again (the same few dates, prices and counts): a dict lookup
# instead of a parse. Only valid results are kept; the memo is cleared when it reaches _MEMO_MAX entries.
_MEMO_MAX = 50_000
_days: dict[str, date] = {}
_decimals: dict[str, Decimal] = {}


def _day(value: str, name: str, where: str = "") -> date | None:
    """`parse_date`, memoized, with a fast path for "yyyy-MM-dd[ HH:mm:ss]" (the same result; anything else goes
    the long way). The field path (`where.name`) is only built when the slow path needs it."""
    known = _days.get(value)
    if known is not None:
        return known
    day: date | None = None
    if value[4:5] == "-" and (len(value) == 10 or value[10:11] in _DATE_TIME_SEPARATORS):
        with suppress(ValueError):
            day = date.fromisoformat(value[:10])
    if day is None:
        day = parse_date(value, f"{where}.{name}" if where else name)
    if day is not None:
        if len(_days) >= _MEMO_MAX:
            _days.clear()
        _days[value] = day
    return day


def _decimal(value: str, field: str) -> Decimal | None:
    """`parse_decimal`, memoized, with a fast path for plain decimal strings (the same result and refusals)."""
    known = _decimals.get(value)
    if known is not None:
        return known
    try:
        number = Decimal(value)
    except InvalidOperation:
        return parse_decimal(value, field)  # "" → None; otherwise raises naming the field
    if not (number.is_finite() and abs(number) < _MAX_DECIMAL):
        return parse_decimal(value, field)  # raises: not a usable number
    if len(_decimals) >= _MEMO_MAX:
        _decimals.clear()
    _decimals[value] = number
    return number


def _within(where: str, exc: InvalidField) -> InvalidField:
    """The same error with its field path prefixed by the enclosing element's path."""
    return InvalidField(exc.message, f"{where}.{exc.field}")


def _patient(p: pb.Patient) -> m.Patient:
    patn_id = _required(p.patn_id, "patient.patn_id")
    gend = _required(p.gend, "patient.gend")
    if gend not in GENDERS:
        raise InvalidField("must be 0 未知, 1 男, 2 女 or 9 未说明", "patient.gend")
    brdy = _day(p.brdy, "brdy", "patient") if p.brdy else None
    if brdy is None:
        raise InvalidField("is required (yyyy-MM-dd)", "patient.brdy")
    return m.Patient(patn_id, gend, brdy, p.patn_name.strip(), p.poolarea.strip())


def _diagnosis(d: pb.Diagnosis) -> m.Diagnosis:
    """One diagnosis; errors name the field relative to it (the caller prefixes the path)."""
    codg = d.dise_codg.strip()
    if not codg:
        raise InvalidField("is required", "dise_codg")
    raw = d.dise_date
    return m.Diagnosis(
        codg.upper(),
        d.dise_name.strip(),
        d.maindise_flag.strip() == "1",
        d.inout_dise_type.strip(),
        _day(raw, "dise_date") if raw else None,
    )


def _each(items: Sequence[P], convert: Callable[[P], D], where: str, name: str) -> tuple[D, ...]:
    """Convert every element of a repeated field; the path `where.name[i]` is built only when an element is
    refused (then the first refused element is found again)."""
    try:
        return tuple([convert(item) for item in items])
    except InvalidField:
        for i, item in enumerate(items):  # the error path only
            try:
                convert(item)
            except InvalidField as exc:
                raise _within(f"{where}.{name}[{i}]", exc) from None
        raise


def _order_line(o: pb.Order) -> m.OrderLine:
    """One order line; errors name the field relative to the line (the caller prefixes the path).

    Hot path (every line of every gRPC check): each proto field is read once, optional parses run only on
    non-empty strings, and the line is built positionally (the order of `OrderLine`'s fields).
    """
    rx_id = o.rx_id.strip()
    if not rx_id:
        raise InvalidField("is required", "rx_id")
    # the memos are probed here first (a value seen before needs no call); `_decimal` / `_day` parse the others
    decimals, days = _decimals, _days
    raw = o.cnt
    cnt = (decimals.get(raw) or _decimal(raw, "cnt")) if raw else None
    if cnt is None:
        raise InvalidField("is required (a decimal number)", "cnt")
    raw = o.pric
    price = (decimals.get(raw) or _decimal(raw, "pric") or _ZERO) if raw else _ZERO
    raw = o.sumamt
    sumamt = (decimals.get(raw) or _decimal(raw, "sumamt")) if raw else None
    raw = o.hilist_pric
    hilist_pric = (decimals.get(raw) or _decimal(raw, "hilist_pric")) if raw else None
    raw = o.drord_begn_date
    begn = (days.get(raw) or _day(raw, "drord_begn_date")) if raw else None
    raw = o.drord_stop_date
    stop = (days.get(raw) or _day(raw, "drord_stop_date")) if raw else None
    hilist_code = o.hilist_code.strip()
    hosplist_code = o.hosplist_code.strip()
    if not hilist_code and not hosplist_code:  # checked last, as the JSON model's after-validator does
        raise InvalidField("is required (or hosplist_code, which the agent maps)", "hilist_code")
    return m.OrderLine(
        rx_id,
        hilist_code,
        cnt,
        price,
        sumamt if sumamt is not None else cnt * price,
        o.hilist_name.strip(),
        o.hilist_type.strip(),
        o.rxno.strip(),
        hilist_pric,
        begn,
        stop,
        o.drord_dr_codg.strip(),
        o.curr_drord_flag.strip() != "0",
        o.long_drord_flag.strip() == "1",
        hosplist_code,
        tuple([c.strip() for c in o.drug_trac_codg if c.strip()]) if o.drug_trac_codg else (),
        o.trdn_flag.strip() == "1",
    )


def _operation(op: pb.Operation, where: str) -> m.Operation:
    return m.Operation(
        op.oprn_code.strip(),
        op.oprn_name.strip(),
        op.main_oprn_flag.strip() == "1",
        parse_date(op.oprn_date, f"{where}.oprn_date"),
        op.setl_list_oprn_id.strip(),
    )


def _encounter(e: pb.Encounter, where: str) -> m.Encounter:
    mdtrt_id = e.mdtrt_id.strip()
    if not mdtrt_id:
        raise InvalidField("is required", f"{where}.mdtrt_id")
    raw = e.adm_date
    adm_date = _day(raw, "adm_date", where) if raw else None
    raw = e.dscg_date
    dscg_date = _day(raw, "dscg_date", where) if raw else None
    operations = e.operations
    return m.Encounter(  # positional: the order of Encounter's fields
        mdtrt_id,
        e.med_type.strip(),
        e.med_mdtrt_type.strip(),
        e.insutype.strip(),
        e.medins_lv.strip(),
        e.medins_id.strip(),
        e.medins_type.strip(),
        e.out_setl_flag.strip(),
        adm_date,
        dscg_date,
        e.dr_codg.strip(),
        e.matn_stas.strip(),
        e.dscg_main_dise_codg.strip().upper(),
        e.internet_flag.strip() == "1",
        _each(e.diagnoses, _diagnosis, where, "diagnoses"),
        _each(e.orders, _order_line, where, "orders"),
        tuple([_operation(op, f"{where}.operations[{i}]") for i, op in enumerate(operations)]) if operations else (),
    )


def request_from_proto(msg: pb.CheckRequest) -> ParsedRequest:
    """Validate a decoded `CheckRequest` and build the domain request; raises `InvalidField` naming the field."""
    if not msg.HasField("patient"):
        raise InvalidField("is required", "patient")
    patient = _patient(msg.patient)
    if not msg.HasField("encounter"):
        raise InvalidField("is required", "encounter")
    encounter = _encounter(msg.encounter, "encounter")
    history = tuple([_encounter(e, f"history[{i}]") for i, e in enumerate(msg.history)]) if msg.history else ()
    trig_scen = msg.trig_scen.strip()
    if trig_scen and trig_scen not in TRIG_SCENS:
        raise InvalidField("must be 1–10 (national trig_scen dictionary)", "trig_scen")
    task_id = msg.task_id.strip()
    raw = msg.service_date
    service_date = _day(raw, "service_date") if raw else None
    request = m.CheckRequest(
        trig_scen=trig_scen,
        patient=patient,
        encounter=encounter,
        history=history,
        task_id=task_id,
        locale=msg.locale.strip() or "zh-CN",
    )
    return ParsedRequest(request, service_date, msg.workstation_id.strip(), msg.dept_code.strip())


def response_to_proto(outcome: CheckOutcome, task_id: str) -> pb.CheckResponse:
    """Render the engine's result: money as decimal strings with two places, the date as yyyy-MM-dd.
    Built in place with `add()` and attribute assignments (no keyword arguments: each such call builds a dict, ~10 %
    of this function's instructions under callgrind); this runs on every gRPC check."""
    result = outcome.result
    response = pb.CheckResponse()
    response.judgement_id = result.judgement_id
    response.kb_revision = result.kb_revision
    response.task_id = task_id
    response.service_date = result.service_date.isoformat()
    response.engine_micros = min(max(outcome.engine_micros, 0), _MAX_UINT32)
    add_alert = response.alerts.add
    for a in result.alerts:
        _alert(add_alert, a)
    return response


def _alert(add: Callable[..., pb.Alert], a: m.Alert) -> pb.Alert:
    """`a` as a proto Alert made by `add` (a repeated field's `add`, or the message class), its fields assigned
    one by one (cheaper than keyword arguments, see `response_to_proto`)."""
    alert = add()
    alert.jr_id = a.jr_id
    alert.rule_id = a.rule_id
    alert.rule_name = a.rule_name
    alert.kp_id = a.kp_id
    alert.vola_cont = a.vola_cont
    alert.sev_deg = a.sev_deg
    alert.workflow_impact = _IMPACT.get(a.workflow_impact, pb.WORKFLOW_IMPACT_UNSPECIFIED)
    alert.vola_amt = str(a.vola_amt.quantize(_CENT))
    alert.rx_ids.extend(a.rx_ids)
    alert.vola_evid = a.vola_evid
    alert.mdtrt_id = a.mdtrt_id
    alert.drord_dr_codg = a.drord_dr_codg
    add_line = alert.lines.add
    for x in a.lines:
        line = add_line()
        line.rx_id = x.rx_id
        line.vola_item_type = x.vola_item_type
        line.vola_amt = str(x.vola_amt.quantize(_CENT))
    return alert


def event_to_proto(event: AlertEvent) -> pb.AlertEvent:
    """One alert-stream event: the alert rendered as in a Check response, or a check that is unavailable."""
    out = pb.AlertEvent(
        cursor=event.cursor,
        judgement_id=event.judgement_id,
        kb_revision=event.kb_revision,
        workstation_id=event.workstation_id,
        dept_code=event.dept_code,
        practitioner_code=event.practitioner_code,
        gap_before=event.gap_before,
    )
    if event.alert is None:
        out.unavailable.mdtrt_id = event.mdtrt_id
        out.unavailable.reason = event.unavailable
    else:
        out.alert.CopyFrom(_alert(pb.Alert, event.alert))
    return out
