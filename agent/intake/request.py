"""Validate a JSON-shaped check request once (pydantic) and turn it into the engine's domain objects.

The shape is the proto's (`CheckRequest` in proto3 JSON with the national snake_case names): every JSON transport
(national 3101 gateway, CLI, FHIR, files) builds this mapping and calls `parse_request`. Vendor extras are ignored,
numbers may come as strings or numbers, absent values as null or "". Errors name the dotted field path.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from fundguard.agent.engine import model as m
from fundguard.agent.engine.errors import InvalidField

from .scalars import GENDERS, TRIG_SCENS, parse_date, parse_decimal, parse_flag, parse_trace_codes, text

__all__ = ["ParsedRequest", "parse_request"]

CODE_MISSING = "code_missing"  # an order line with neither hilist_code nor hosplist_code: named as hilist_code


def _date(value: object) -> date | None:
    try:
        return parse_date(value, "")
    except InvalidField as exc:
        raise ValueError(exc.message) from None


def _decimal(value: object) -> Decimal | None:
    try:
        return parse_decimal(value, "")
    except InvalidField as exc:
        raise ValueError(exc.message) from None


def _required_text(value: object) -> str:
    out = text(value)
    if not out:
        raise ValueError("is required")
    return out


Str = Annotated[str, BeforeValidator(text)]
ReqStr = Annotated[str, BeforeValidator(_required_text)]
Day = Annotated[date | None, BeforeValidator(_date)]
Dec = Annotated[Decimal | None, BeforeValidator(_decimal)]
Flag = Annotated[bool, BeforeValidator(parse_flag)]
TraceCodes = Annotated[tuple[str, ...], BeforeValidator(parse_trace_codes)]


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class PatientIn(_In):
    patn_id: ReqStr
    gend: ReqStr
    brdy: Day
    patn_name: Str = ""
    poolarea: Str = ""

    @field_validator("gend")
    @classmethod
    def _gend(cls, v: str) -> str:
        if v not in GENDERS:
            raise ValueError("must be 0 未知, 1 男, 2 女 or 9 未说明")
        return v

    @field_validator("brdy")
    @classmethod
    def _brdy(cls, v: date | None) -> date | None:
        if v is None:
            raise ValueError("is required (yyyy-MM-dd)")
        return v


class DiagnosisIn(_In):
    dise_codg: ReqStr
    dise_name: Str = ""
    maindise_flag: Flag = False
    inout_dise_type: Str = ""
    dise_date: Day = None


class OrderIn(_In):
    rx_id: ReqStr
    hilist_code: Str = ""
    cnt: Dec
    pric: Dec = None
    sumamt: Dec = None
    hilist_pric: Dec = None
    hilist_name: Str = ""
    hilist_type: Str = ""
    rxno: Str = ""
    drord_begn_date: Day = None
    drord_stop_date: Day = None
    drord_dr_codg: Str = ""
    curr_drord_flag: Str = "1"
    long_drord_flag: Flag = False
    hosplist_code: Str = ""
    # 药品追溯码: `drug_trac_codg` (list or comma-separated) or the 3505 shape `drugtracinfo: [{drug_trac_codg}]`
    drug_trac_codg: TraceCodes = Field(default=(), validation_alias=AliasChoices("drug_trac_codg", "drugtracinfo"))
    trdn_flag: Flag = False

    @model_validator(mode="after")
    def _some_code(self) -> OrderIn:
        if not self.hilist_code and not self.hosplist_code:
            raise PydanticCustomError(CODE_MISSING, "is required (or hosplist_code, which the agent maps)")
        return self

    @field_validator("cnt")
    @classmethod
    def _cnt(cls, v: Decimal | None) -> Decimal:
        if v is None:
            raise ValueError("is required (a decimal number)")
        return v


class OperationIn(_In):
    oprn_code: Str = ""
    oprn_name: Str = ""
    main_oprn_flag: Flag = False
    oprn_date: Day = None
    setl_list_oprn_id: Str = ""


class EncounterIn(_In):
    mdtrt_id: ReqStr
    med_type: Str = ""
    med_mdtrt_type: Str = ""
    insutype: Str = ""
    medins_lv: Str = ""
    medins_id: Str = ""
    medins_type: Str = ""
    out_setl_flag: Str = ""
    adm_date: Day = None
    dscg_date: Day = None
    dr_codg: Str = ""
    matn_stas: Str = ""
    dscg_main_dise_codg: Str = ""
    internet_flag: Flag = False
    diagnoses: list[DiagnosisIn] = Field(default_factory=list)
    orders: list[OrderIn] = Field(default_factory=list)
    operations: list[OperationIn] = Field(default_factory=list)


class CheckRequestIn(_In):
    patient: PatientIn
    encounter: EncounterIn
    history: list[EncounterIn] = Field(default_factory=list)
    trig_scen: Str = ""
    task_id: Str = ""
    service_date: Day = None
    locale: Str = "zh-CN"
    workstation_id: Str = ""
    dept_code: Str = ""

    @field_validator("trig_scen")
    @classmethod
    def _trig(cls, v: str) -> str:
        if v and v not in TRIG_SCENS:
            raise ValueError("must be 1–10 (national trig_scen dictionary)")
        return v


class ParsedRequest:
    """A validated request plus the date of service the caller asked for (None = let the edge decide) and where it
    came from (workstation, department: what alert subscribers filter on; not the engine's business)."""

    __slots__ = ("dept_code", "request", "service_date", "workstation_id")

    def __init__(
        self, request: m.CheckRequest, service_date: date | None, workstation_id: str = "", dept_code: str = ""
    ) -> None:
        self.request = request
        self.service_date = service_date
        self.workstation_id = workstation_id
        self.dept_code = dept_code


def _order(o: OrderIn) -> m.OrderLine:
    assert o.cnt is not None  # enforced by the validator
    pric = o.pric if o.pric is not None else Decimal(0)
    return m.OrderLine(
        rx_id=o.rx_id,
        hilist_code=o.hilist_code,
        cnt=o.cnt,
        pric=pric,
        sumamt=o.sumamt if o.sumamt is not None else o.cnt * pric,
        hilist_pric=o.hilist_pric,
        hilist_name=o.hilist_name,
        hilist_type=o.hilist_type,
        rxno=o.rxno,
        begn_date=o.drord_begn_date,
        stop_date=o.drord_stop_date,
        drord_dr_codg=o.drord_dr_codg,
        current=o.curr_drord_flag != "0",
        long_drord=o.long_drord_flag,
        drug_trac_codg=o.drug_trac_codg,
        trdn_flag=o.trdn_flag,
        hosplist_code=o.hosplist_code,
    )


def _encounter(e: EncounterIn) -> m.Encounter:
    return m.Encounter(
        mdtrt_id=e.mdtrt_id,
        med_type=e.med_type,
        med_mdtrt_type=e.med_mdtrt_type,
        insutype=e.insutype,
        medins_lv=e.medins_lv,
        medins_id=e.medins_id,
        medins_type=e.medins_type,
        out_setl_flag=e.out_setl_flag,
        adm_date=e.adm_date,
        dscg_date=e.dscg_date,
        dr_codg=e.dr_codg,
        matn_stas=e.matn_stas,
        dscg_main_dise_codg=e.dscg_main_dise_codg.upper(),
        internet_flag=e.internet_flag,
        diagnoses=tuple(
            m.Diagnosis(d.dise_codg.upper(), d.dise_name, d.maindise_flag, d.inout_dise_type, d.dise_date)
            for d in e.diagnoses
        ),
        orders=tuple(_order(o) for o in e.orders),
        operations=tuple(
            m.Operation(op.oprn_code, op.oprn_name, op.main_oprn_flag, op.oprn_date, op.setl_list_oprn_id)
            for op in e.operations
        ),
    )


def _field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not str(part).startswith("function-"):
            out += ("." if out else "") + str(part)
    return out


def parse_request(data: Mapping[str, Any]) -> ParsedRequest:
    """Validate `data` (proto-JSON shape) and build the domain request; raises `InvalidField` naming the field."""
    if not isinstance(data, Mapping):
        raise InvalidField("request must be a JSON object", "")
    try:
        parsed = CheckRequestIn.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        if err.get("type") == "missing":
            msg = "is required"
        path = _field_path(tuple(err.get("loc", ())))
        if err.get("type") == CODE_MISSING:
            path += ".hilist_code"
        raise InvalidField(msg, path) from None
    p = parsed.patient
    assert p.brdy is not None  # enforced by the validator
    request = m.CheckRequest(
        trig_scen=parsed.trig_scen,
        patient=m.Patient(p.patn_id, p.gend, p.brdy, p.patn_name, p.poolarea),
        encounter=_encounter(parsed.encounter),
        history=tuple(_encounter(e) for e in parsed.history),
        task_id=parsed.task_id,
        locale=parsed.locale or "zh-CN",
    )
    return ParsedRequest(request, parsed.service_date, parsed.workstation_id, parsed.dept_code)
