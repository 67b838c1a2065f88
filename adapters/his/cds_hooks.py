"""FHIR CDS Hooks 2.0 (`order-select`, `order-sign`) ↔ fundguard: translation only, no sockets, no clock.

FHIR version: R4 (4.0/4.3), what CDS Hooks clients speak; resources are validated with `fhir.resources.R4B` models
(Patient, Encounter, Condition, MedicationRequest, ServiceRequest). `decode` maps a hook request to the proto-JSON
shape and validates it with `agent.intake.parse_request` (one path for every JSON transport); every error names a
FHIR-ish location (`context.draftOrders.entry[1].resource.dispenseRequest.quantity.value`).

Mapping: `prefetch.patient` (required: this service never queries the FHIR server; absent → `MissingPrefetch`,
HTTP 412) gives patn_id (identifier of system `PSN_NO_SYSTEM`, else Patient.id), gend (male 1, female 2, other 9,
unknown/absent 0) and brdy. `prefetch.encounter` (optional) gives mdtrt_id (else `context.encounterId`, else the
hookInstance), med_type from `class` (IMP/ACUTE/NONAC 21, AMB 11, EMER 13, VR 11 + internet visit) unless a `type`
coding of `MED_TYPE_SYSTEM` names it, and adm/dscg dates from `period`. `prefetch.conditions` (a Bundle) gives the
diagnoses: a coding of `ICD10_SYSTEMS`, else the first coding (refuted/entered-in-error ones are skipped; rank 1
in Encounter.diagnosis is the main one). Every MedicationRequest / ServiceRequest in `context.draftOrders` is an
order line: id → rx_id; a coding of `NATIONAL_SYSTEM` → hilist_code, else the first coding → hosplist_code (the
agent maps it); dispense quantity / quantityQuantity → cnt (default 1); dosage boundsPeriod / occurrence /
authoredOn → begin and stop dates (in China time); requester (else context.userId) → drord_dr_codg. Other draft
types are not checkable and are ignored. order-select checks the `selections`; the other drafts are context lines.

`encode` gives `{"cards": [...]}`, one card per alert (uuid = jr_id, so feedback names the alert); `decode_feedback`
turns the feedback POST into decisions (overridden → dspo_way 1 with the reason, accepted → 2).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.fhirtypes import CodeableConceptType, PeriodType, ReferenceType
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.servicerequest import ServiceRequest
from pydantic import BaseModel, ValidationError

from fundguard.agent.engine.errors import FundguardError, InvalidField
from fundguard.agent.engine.model import Alert, WorkflowImpact
from fundguard.agent.feedback import Decision
from fundguard.agent.intake import ParsedRequest, parse_request

if TYPE_CHECKING:
    from fundguard.agent.service import CheckOutcome

__all__ = [
    "ICD10_SYSTEMS", "MED_TYPE_SYSTEM", "NATIONAL_SYSTEM", "OVERRIDE_SYSTEM", "PSN_NO_SYSTEM", "RULE_SYSTEM",
    "SERVICES", "HookRequest", "MissingPrefetch", "decode", "decode_feedback", "discovery", "encode",
    "encode_error", "load",
]  # fmt: skip

NATIONAL_SYSTEM = "http://nhsa.gov.cn/fhir/hilist"  # 医保目录代码 (hilist_code); our convention, documented
ICD10_SYSTEM = "http://nhsa.gov.cn/fhir/icd10"  # ICD-10 医保版
ICD10_SYSTEMS = frozenset({ICD10_SYSTEM, "http://hl7.org/fhir/sid/icd-10", "http://hl7.org/fhir/sid/icd-10-cn"})
PSN_NO_SYSTEM = "http://nhsa.gov.cn/fhir/psn_no"  # 人员编号 as a Patient.identifier
MED_TYPE_SYSTEM = "http://nhsa.gov.cn/fhir/med_type"  # 医疗类别 as an Encounter.type coding
RULE_SYSTEM = "http://nhsa.gov.cn/fhir/rule"  # card.source.topic: the smart-supervision rule
OVERRIDE_SYSTEM = "urn:fundguard:cds:override-reason"
SERVICES = {"fundguard-order-select": "order-select", "fundguard-order-sign": "order-sign"}
WARN_TYPE = "1"  # 事前: decisions taken at ordering time
MAX_SUMMARY = 139  # the spec: a "<140-character" summary
MAX_REASON = 500  # the national dspo_way_rea is C500
CHINA = timezone(timedelta(hours=8))
_GENDERS = {"male": "1", "female": "2", "other": "9", "unknown": "0"}
_CLASSES = {"IMP": "21", "ACUTE": "21", "NONAC": "21", "AMB": "11", "EMER": "13", "VR": "11"}
_ORDERS: dict[str, type[MedicationRequest] | type[ServiceRequest]] = {
    "MedicationRequest": MedicationRequest,
    "ServiceRequest": ServiceRequest,
}
_SKIPPED_CONDITIONS = frozenset({"refuted", "entered-in-error"})
_INDICATORS = {WorkflowImpact.BLOCK: "critical", WorkflowImpact.REASON_REQUIRED: "warning", WorkflowImpact.INFO: "info"}
_REASONS = {  # code: (zh, en) display
    "clinical-necessity": ("临床必需", "Clinically necessary"),
    "informed-consent": ("已获患者知情同意（自费）", "Patient informed and consents to pay"),
    "indication-met": ("符合适应症（已补充诊断）", "Indication met (diagnosis added)"),
    "first-line-failed": ("一线用药无效或不耐受（已记录）", "First-line treatment failed (documented)"),
    "data-corrected": ("患者或就诊信息有误（已更正）", "Patient or visit data wrong (corrected)"),
    "approved": ("已获医保经办机构审批或备案", "Approved or filed with the insurer"),
    "not-duplicate": ("非重复收费（不同部位或时间）", "Not a duplicate (other site or time)"),
    "mapping-requested": ("已提交目录对照维护", "Code mapping requested"),
}
_DEFAULT_REASONS = ("clinical-necessity", "informed-consent")
_REASONS_BY_CLASS = {  # rule_class → override reasons offered on its cards (default: _DEFAULT_REASONS)
    **dict.fromkeys(("药品区分性别使用", "医疗服务项目区分性别使用", "药品限儿童使用", "药品儿童专用",
                     "医疗服务项目儿童专用", "医疗服务项目限年龄"),
                    ("clinical-necessity", "data-corrected", "informed-consent")),
    "药品限适应症": ("indication-met", "clinical-necessity", "informed-consent"),
    "药品限二线使用": ("first-line-failed", "clinical-necessity", "informed-consent"),
    **dict.fromkeys(("药品限工伤保险", "药品限生育保险"), ("data-corrected", "informed-consent")),
    **dict.fromkeys(("药品限支付疗程", "医疗服务项目限支付疗程", "药品限医疗机构级别", "药品限就医方式",
                     "超互联网医院药品支付范围", "手术项目未按规定折价收费"),
                    ("approved", "clinical-necessity", "informed-consent")),
    **dict.fromkeys(("医疗服务项目重复收费", "医疗服务项目限定频次", "医疗服务项目周期超频次"),
                    ("not-duplicate", "clinical-necessity", "informed-consent")),
    "医保目录编码未对照": ("mapping-requested", "informed-consent"),
}  # fmt: skip
_LABELS = {
    "zh-CN": {"source": "fundguard 医保事前审核", "rule": "规则", "kp": "知识点", "amount": "涉及金额",
              "lines": "涉及医嘱", "violating": "违规项", "involved": "涉及项", "evidence": "依据",
              "delete": "撤销医嘱：{item}", "delete_why": "撤销不符合医保规则的医嘱 {ref}"},
    "en": {"source": "fundguard insurance pre-check", "rule": "Rule", "kp": "Knowledge point",
           "amount": "Amount at risk", "lines": "Orders", "violating": "violating", "involved": "involved",
           "evidence": "Evidence", "delete": "Remove the order: {item}",
           "delete_why": "Remove {ref}, which breaks an insurance rule"},
}  # fmt: skip
_SENTENCE_END = re.compile(r"[；。;]")
M = TypeVar("M", bound=BaseModel)


class MissingPrefetch(InvalidField):
    """Prefetch data the service needs was not sent (CDS Hooks answers 412 Precondition Failed)."""


@dataclass(frozen=True, slots=True)
class HookRequest:
    """A decoded hook call: the validated request plus what the cards need (rx_id → "MedicationRequest/6374")."""

    parsed: ParsedRequest
    hook: str
    hook_instance: str
    drafts: Mapping[str, str]
    locale: str = "zh-CN"


def load(raw: bytes | str) -> dict[str, Any]:
    """Request bytes/text (UTF-8, BOM tolerated) to a JSON object, else InvalidField with field ""."""
    try:
        doc = json.loads(raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw.removeprefix("\ufeff"))
    except UnicodeDecodeError:
        raise InvalidField("not UTF-8 JSON", "") from None
    except json.JSONDecodeError as exc:
        raise InvalidField(f"not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})", "") from None
    except (ValueError, RecursionError) as exc:  # over-long integer literals, absurd nesting
        raise InvalidField(f"not usable JSON ({type(exc).__name__})", "") from None
    if not isinstance(doc, dict):
        raise InvalidField("the request must be a JSON object", "")
    return doc


def discovery() -> dict[str, Any]:
    """The `GET /cds-services` document: one service per hook, with the prefetch templates the decoder reads."""
    prefetch = {
        "patient": "Patient/{{context.patientId}}",
        "encounter": "Encounter/{{context.encounterId}}",
        "conditions": "Condition?patient={{context.patientId}}&encounter={{context.encounterId}}",
    }
    what = {"order-select": "the orders just selected", "order-sign": "the orders about to be signed"}
    return {
        "services": [
            {"hook": hook, "id": sid, "title": f"fundguard 医保事前审核 ({hook})", "prefetch": prefetch,
             "description": f"Checks {what[hook]} against the national medical-insurance smart-supervision rules "
                            "(医保智能监管知识库) before settlement; one card per violation."}
            for sid, hook in SERVICES.items()
        ]
    }  # fmt: skip


# ---- decoding -----------------------------------------------------------------------------------------------


def _object(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidField("must be a JSON object", path)
    return value


def _string(value: Any, path: str, *, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidField("is required (a non-empty string)" if required else "must be a string", path)
    return value.strip()


def _fhir_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not part.startswith(("function-", "json-or-python")):
            name = {"resource_type": "resourceType", "class_fhir": "class"}.get(part, part)
            out += "." + (f"_{name.removesuffix('__ext')}" if name.endswith("__ext") else name)
    return out


def _validate(model: type[M], resource: Any, path: str) -> M:
    """One FHIR resource validated with its R4B model; InvalidField at the first bad element."""
    data = _object(resource, path)
    kind = data.get("resourceType")
    if kind != model.__name__:
        raise InvalidField(f"must be a {model.__name__} resource (resourceType {kind!r})", f"{path}.resourceType")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        raise InvalidField(f"not valid FHIR R4: {msg}", path + _fhir_path(tuple(err.get("loc", ())))) from None
    except RecursionError:
        raise InvalidField("nested too deeply", path) from None


def _entries(bundle: Any, path: str) -> list[tuple[str, Mapping[str, Any]]]:
    """(path, resource) of each entry of a FHIR Bundle."""
    data = _object(bundle, path)
    if data.get("resourceType") != "Bundle":
        raise InvalidField("must be a FHIR Bundle", f"{path}.resourceType")
    entries = data.get("entry")
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise InvalidField("must be a JSON list", f"{path}.entry")
    out = []
    for n, entry in enumerate(entries):
        where = f"{path}.entry[{n}].resource"
        resource = _object(entry, f"{path}.entry[{n}]").get("resource")
        out.append((where, _object(resource, where)))
    return out


def _day(value: object) -> object:
    """A FHIR date/dateTime as the date parse_request reads (China time); partial dates pass on and are refused."""
    if isinstance(value, datetime):
        return (value.astimezone(CHINA) if value.tzinfo else value).date().isoformat()
    return value.isoformat() if isinstance(value, date) else value


def _period(period: PeriodType | None) -> tuple[object, object]:
    return (None, None) if period is None else (_day(period.start), _day(period.end))


def _coding(concept: CodeableConceptType | None, systems: frozenset[str]) -> tuple[str, str, str]:
    """(code in `systems`, first other code, display/text) of a CodeableConcept."""
    ours = other = name = ""
    for c in (concept.coding or []) if concept is not None else []:
        if c.code and c.system in systems and not ours:
            ours, name = c.code, name or c.display or ""
        elif c.code and not other:
            other, name = c.code, name or c.display or ""
    return ours, other, (concept.text if concept is not None and concept.text else name)


def _ref_id(ref: ReferenceType | str | None) -> str:
    """The id a reference ends with ("Practitioner/ys01" → "ys01"), else the Reference's identifier value."""
    if ref is not None and not isinstance(ref, str):
        ref = ref.reference or (ref.identifier.value if ref.identifier is not None else None)
    return (ref or "").rstrip("/").rpartition("/")[2]


def _patient(resource: Any, patient_id: str, origins: dict[str, str]) -> dict[str, Any]:
    path = "prefetch.patient"
    patient = _validate(Patient, resource, path)
    if patient.id and patient_id and patient.id != patient_id:
        raise InvalidField("does not match context.patientId", f"{path}.id")
    psn = [i for i in patient.identifier or [] if i.system == PSN_NO_SYSTEM and i.value]
    origins.update({"patient": path, "patient.patn_id": f"{path}.identifier" if psn else f"{path}.id",
                    "patient.gend": f"{path}.gender", "patient.brdy": f"{path}.birthDate"})  # fmt: skip
    gend = _GENDERS.get(patient.gender or "unknown")
    if gend is None:
        raise InvalidField("must be male, female, other or unknown", f"{path}.gender")
    return {
        "patn_id": psn[0].value if psn else patient.id or patient_id,
        "gend": gend,
        "brdy": _day(patient.birthDate),
    }


def _encounter(
    resource: Any, context: Mapping[str, Any], fallback_id: str, origins: dict[str, str]
) -> tuple[dict[str, Any], set[str]]:
    """The encounter fields and the ids of its rank-1 (main) conditions."""
    encounter_id = _string(context.get("encounterId"), "context.encounterId")
    origins["encounter.mdtrt_id"] = "context.encounterId"
    if resource is None:
        return {"mdtrt_id": encounter_id or fallback_id}, set()
    path = "prefetch.encounter"
    enc = _validate(Encounter, resource, path)
    if enc.id and encounter_id and enc.id != encounter_id:
        raise InvalidField("does not match context.encounterId", f"{path}.id")
    if enc.class_fhir is None:  # a JSON null passes the model's required check
        raise InvalidField("not valid FHIR R4: is required", f"{path}.class")
    kind = enc.class_fhir.code or ""
    med_type = next((c.code for t in enc.type or [] for c in t.coding or [] if c.system == MED_TYPE_SYSTEM), None)
    adm, dscg = _period(enc.period)
    origins.update({"encounter": path, "encounter.adm_date": f"{path}.period.start",
                    "encounter.dscg_date": f"{path}.period.end"})  # fmt: skip
    main = {_ref_id(d.condition) for d in enc.diagnosis or [] if d.rank == 1}
    fields = {"mdtrt_id": encounter_id or enc.id or fallback_id, "med_type": med_type or _CLASSES.get(kind, ""),
              "internet_flag": kind == "VR", "adm_date": adm, "dscg_date": dscg}  # fmt: skip
    return fields, main


def _diagnoses(bundle: Any, main: set[str], origins: dict[str, str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path, resource in [] if bundle is None else _entries(bundle, "prefetch.conditions"):
        if resource.get("resourceType") != "Condition":
            continue  # a searchset may carry an OperationOutcome
        cond = _validate(Condition, resource, path)
        status = {c.code for c in cond.verificationStatus.coding or []} if cond.verificationStatus else set()
        icd, other, name = _coding(cond.code, ICD10_SYSTEMS)
        if not (icd or other) or status & _SKIPPED_CONDITIONS:
            continue  # an uncoded (free-text) or withdrawn diagnosis cannot be matched
        origins[f"encounter.diagnoses[{len(out)}]"] = f"{path}.code"
        out.append({"dise_codg": icd or other, "dise_name": name, "maindise_flag": bool(cond.id in main)})
    return out


Sourced = dict[str, tuple[object, str]]  # order-line field → (value, the FHIR location it came from)


def _codes(concept: CodeableConceptType | None, at: str) -> Sourced:
    national, local, name = _coding(concept, frozenset({NATIONAL_SYSTEM}))
    return {"hilist_code": (national, at), "hosplist_code": (local, at), "hilist_name": (name, at)}


def _drug(order: MedicationRequest, path: str) -> Sourced:
    if order.medicationCodeableConcept is None:
        raise InvalidField(
            "is required (medicationReference is not resolved here)", f"{path}.medicationCodeableConcept"
        )
    quantity = order.dispenseRequest.quantity if order.dispenseRequest else None
    timing = order.dosageInstruction[0].timing if order.dosageInstruction else None
    bounds_at = f"{path}.dosageInstruction[0].timing.repeat.boundsPeriod"
    start, end = _period(timing.repeat.boundsPeriod if timing and timing.repeat else None)
    therapy = order.courseOfTherapyType.coding or [] if order.courseOfTherapyType else []
    standing = "1" if any(c.code == "continuous" for c in therapy) else "0"  # a standing (long-term) order
    return {
        **_codes(order.medicationCodeableConcept, f"{path}.medicationCodeableConcept"),
        "cnt": (quantity.value if quantity else None, f"{path}.dispenseRequest.quantity.value"),
        "drord_begn_date": (start, f"{bounds_at}.start") if start else (_day(order.authoredOn), f"{path}.authoredOn"),
        "drord_stop_date": (end, f"{bounds_at}.end"),
        "long_drord_flag": (standing, f"{path}.courseOfTherapyType"),
    }  # fmt: skip


def _test(order: ServiceRequest, path: str) -> Sourced:
    start, end = _period(order.occurrencePeriod)
    begin = (
        (_day(order.occurrenceDateTime), f"{path}.occurrenceDateTime") if order.occurrenceDateTime
        else (start, f"{path}.occurrencePeriod.start") if start else (_day(order.authoredOn), f"{path}.authoredOn")
    )  # fmt: skip
    return {
        **_codes(order.code, f"{path}.code"),
        "cnt": (order.quantityQuantity.value if order.quantityQuantity else None, f"{path}.quantityQuantity.value"),
        "drord_begn_date": begin,
        "drord_stop_date": (end, f"{path}.occurrencePeriod.end"),
    }


def _order(path: str, resource: Mapping[str, Any], user: str, at: str, origins: dict[str, str]) -> dict[str, Any]:
    """One draft order as an order line (`at` = its proto path); records where each field came from."""
    order = _validate(_ORDERS[str(resource["resourceType"])], resource, path)
    fields = _drug(order, path) if isinstance(order, MedicationRequest) else _test(order, path)
    fields["rx_id"] = (order.id, f"{path}.id")
    fields["drord_dr_codg"] = (_ref_id(order.requester) or user, f"{path}.requester")
    count = fields["cnt"][0]
    fields["cnt"] = ("1" if count is None else str(count), fields["cnt"][1])  # FHIR: an absent quantity is one
    origins[at] = path
    origins.update({f"{at}.{name}": where for name, (_, where) in fields.items()})
    return {name: value for name, (value, _) in fields.items()}


def _orders(
    context: Mapping[str, Any], hook: str, origins: dict[str, str]
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The draft orders as order lines (order-select: unselected drafts are context) and rx_id → reference."""
    user = _ref_id(_string(context.get("userId"), "context.userId"))
    lines: list[dict[str, Any]] = []
    refs: dict[str, str] = {}
    if "draftOrders" not in context:
        raise InvalidField("is required (a Bundle of the draft orders)", "context.draftOrders")
    for path, resource in _entries(context["draftOrders"], "context.draftOrders"):
        kind = resource.get("resourceType")
        if not isinstance(kind, str) or kind not in _ORDERS:
            continue  # NutritionOrder, VisionPrescription …: nothing the knowledge base can judge
        line = _order(path, resource, user, f"encounter.orders[{len(lines)}]", origins)
        if not line["rx_id"]:
            raise InvalidField("is required (cards and suggestions name the draft by it)", f"{path}.id")
        if line["rx_id"] in refs:
            raise InvalidField(f"{line['rx_id']!r} is the id of another draft order too", f"{path}.id")
        refs[line["rx_id"]] = f"{kind}/{line['rx_id']}"
        lines.append(line)
    if hook == "order-select":
        selections = context.get("selections")
        if not isinstance(selections, list) or not selections:
            raise InvalidField("is required (the references of the orders just selected)", "context.selections")
        chosen = {_string(s, f"context.selections[{n}]", required=True) for n, s in enumerate(selections)}
        unknown = sorted(chosen - set(refs.values()))
        if unknown:
            raise InvalidField(f"{unknown[0]!r} matches no draft order", "context.selections")
        for line in lines:
            line["curr_drord_flag"] = "1" if refs[line["rx_id"]] in chosen else "0"
    return lines, refs


def _translate(field: str, origins: Mapping[str, str]) -> str:
    """A parse_request (proto-shape) field path → the FHIR location it came from (the longest known prefix)."""
    probe = field
    while probe:
        if probe in origins:
            return origins[probe]
        probe = re.sub(r"(\.[^.\[]*|\[\d+\])$", "", probe)
    return "hookInstance" if field in ("task_id", "trig_scen") else field


def decode(doc: Mapping[str, Any] | bytes | str, *, hook: str | None = None, locale: str = "zh-CN") -> HookRequest:
    """A CDS Hooks request (JSON or parsed) → a validated request; `hook` is the one the called service serves."""
    obj = load(doc) if isinstance(doc, bytes | str) else _object(doc, "")
    sent = _string(obj.get("hook"), "hook", required=True)
    if sent not in SERVICES.values() or (hook is not None and sent != hook):
        raise InvalidField(
            f"{sent[:40]!r} is not the hook of this service ({hook or 'order-select, order-sign'})", "hook"
        )
    instance = _string(obj.get("hookInstance"), "hookInstance", required=True)
    context = _object(obj.get("context"), "context")
    prefetch = _object(obj.get("prefetch") or {}, "prefetch")
    patient_id = _string(context.get("patientId"), "context.patientId", required=True)
    if prefetch.get("patient") is None:
        why = "is required (Patient/{{context.patientId}}; this service does not query the FHIR server)"
        raise MissingPrefetch(why, "prefetch.patient")
    origins: dict[str, str] = {}
    patient = _patient(prefetch["patient"], patient_id, origins)
    encounter, main = _encounter(prefetch.get("encounter"), context, instance, origins)
    encounter["diagnoses"] = _diagnoses(prefetch.get("conditions"), main, origins)
    encounter["orders"], drafts = _orders(context, sent, origins)
    mapping = {"trig_scen": "", "task_id": instance, "locale": locale, "patient": patient, "encounter": encounter}
    try:
        parsed = parse_request(mapping)
    except InvalidField as exc:
        raise InvalidField(exc.message, _translate(exc.field, origins)) from None
    return HookRequest(parsed, sent, instance, drafts, locale)


# ---- encoding -----------------------------------------------------------------------------------------------


def _summary(text: str) -> str:
    """The first clause of the alert text, within the spec's 140 characters."""
    head = _SENTENCE_END.split(text, maxsplit=1)[0].strip() or text
    return head if len(head) <= MAX_SUMMARY else head[: MAX_SUMMARY - 1] + "…"


def _detail(alert: Alert, labels: Mapping[str, str]) -> str:
    kinds = {"1": labels["violating"], "2": labels["involved"]}
    rows = [
        f"- {labels['rule']}: {alert.rule_name} ({alert.rule_id})",
        f"- {labels['kp']}: {alert.kp_id}",
        f"- {labels['lines']}: " + ", ".join(f"{ln.rx_id} ({kinds.get(ln.vola_item_type, '')})" for ln in alert.lines),
    ]
    if alert.vola_amt > 0:
        rows.insert(2, f"- {labels['amount']}: {alert.vola_amt.quantize(Decimal('0.01'))}")
    if alert.vola_evid:
        rows.append(f"- {labels['evidence']}: {alert.vola_evid}")
    return f"{alert.vola_cont}\n\n" + "\n".join(rows)


def _suggestions(alert: Alert, request: HookRequest, labels: Mapping[str, str]) -> list[dict[str, Any]]:
    """For block / reason-required alerts: remove each violating draft order."""
    if alert.workflow_impact == WorkflowImpact.INFO:
        return []
    names = {o.rx_id: o.hilist_name for o in request.parsed.request.encounter.orders}
    out: list[dict[str, Any]] = []
    for line in alert.lines:
        ref = request.drafts.get(line.rx_id)
        if line.vola_item_type != "1" or ref is None:
            continue
        action = {"type": "delete", "description": labels["delete_why"].format(ref=ref), "resourceId": ref}
        out.append({"label": labels["delete"].format(item=names.get(line.rx_id) or ref),
                    "uuid": f"{alert.jr_id}-delete-{len(out) + 1}", "actions": [action]})  # fmt: skip
    return out


def _card(alert: Alert, request: HookRequest) -> dict[str, Any]:
    lang = "en" if request.locale == "en" else "zh-CN"
    labels = _LABELS[lang]
    reasons = _REASONS_BY_CLASS.get(alert.rule_class, _DEFAULT_REASONS)
    card: dict[str, Any] = {
        "uuid": alert.jr_id,
        "summary": _summary(alert.vola_cont),
        "indicator": _INDICATORS[alert.workflow_impact],
        "detail": _detail(alert, labels),
        "source": {"label": labels["source"],
                   "topic": {"system": RULE_SYSTEM, "code": alert.rule_id, "display": alert.rule_name}},
        "overrideReasons": [{"system": OVERRIDE_SYSTEM, "code": code, "display": _REASONS[code][lang == "en"]}
                            for code in reasons],
    }  # fmt: skip
    # machine-readable alert fields for the EHR (CDS Hooks `extension`): the same ids every transport answers
    card["extension"] = {"fundguard": {
        "jr_id": alert.jr_id, "rule_id": alert.rule_id, "kp_id": alert.kp_id, "sev_deg": alert.sev_deg,
        "workflow_impact": alert.workflow_impact.value, "rx_ids": list(alert.rx_ids),
        "vola_amt": str(alert.vola_amt.quantize(Decimal("0.01"))),
    }}  # fmt: skip
    suggestions = _suggestions(alert, request, labels)
    if suggestions:
        card["suggestions"] = suggestions
        card["selectionBehavior"] = "any"
    return card


def encode(outcome: CheckOutcome, request: HookRequest) -> dict[str, Any]:
    """The CDS Service response: one card per alert (none when the orders comply)."""
    return {"cards": [_card(alert, request) for alert in outcome.result.alerts]}


def encode_error(err: FundguardError) -> dict[str, Any]:
    """The error body every CDS route answers with: `{code, field, message}`."""
    return {"code": err.code, "field": err.field, "message": err.message}


# ---- feedback -----------------------------------------------------------------------------------------------


def _reason(item: Mapping[str, Any], where: str) -> str:
    """An override's "display (code): comment"; InvalidField when it has neither a reason nor a comment."""
    at = f"{where}.overrideReason"
    override = _object(item.get("overrideReason") or {}, at)
    coding = _object(override.get("reason") or {}, f"{at}.reason")
    code, display = (_string(coding.get(key), f"{at}.reason.{key}") for key in ("code", "display"))
    reason = f"{display} ({code})" if display and code and display != code else display or code
    text = ": ".join(part for part in (reason, _string(override.get("userComment"), f"{at}.userComment")) if part)
    if not text:
        raise InvalidField("is required when the outcome is overridden (why the order goes ahead)", at)
    if len(text) > MAX_REASON:
        raise InvalidField(f"is longer than {MAX_REASON} characters with its reason", f"{at}.userComment")
    return text


def decode_feedback(doc: Mapping[str, Any] | bytes | str, *, received: datetime) -> list[Decision]:
    """The decisions of a feedback POST (`decided_at` = outcomeTimestamp, else `received`), or InvalidField."""
    obj = load(doc) if isinstance(doc, bytes | str) else _object(doc, "")
    items = obj.get("feedback")
    if not isinstance(items, list) or not items:
        raise InvalidField("is required (a list of card outcomes)", "feedback")
    out: list[Decision] = []
    for n, raw in enumerate(items):
        where = f"feedback[{n}]"
        item = _object(raw, where)
        card = _string(item.get("card"), f"{where}.card", required=True)
        if len(card) > 50:
            raise InvalidField("is longer than 50 characters (not a card of this service)", f"{where}.card")
        outcome = _string(item.get("outcome"), f"{where}.outcome", required=True)
        if outcome not in ("accepted", "overridden"):
            raise InvalidField("must be accepted or overridden", f"{where}.outcome")
        stamp = _string(item.get("outcomeTimestamp"), f"{where}.outcomeTimestamp")
        try:
            decided = datetime.fromisoformat(stamp) if stamp else received
        except ValueError:
            raise InvalidField("not an ISO timestamp", f"{where}.outcomeTimestamp") from None
        way, reason = ("1", _reason(item, where)) if outcome == "overridden" else ("2", "")
        out.append(Decision(card, way, reason, WARN_TYPE, "cds-hooks", decided.isoformat()))
    return out
