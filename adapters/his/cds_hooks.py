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

`encode` gives `{"cards": [...]}`, one card per alert (uuid = jr_id, so feedback names the alert; rendered by
`_cds_cards`); `decode_feedback` (from `cds_feedback`, re-exported here) turns the feedback POST into decisions
(overridden → dspo_way 1 with the reason, accepted → 2). JSON and FHIR reading shared by both is in `_cds_fhir`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.fhirtypes import CodeableConceptType
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.servicerequest import ServiceRequest

from fundguard.agent.engine.errors import FundguardError, InvalidField
from fundguard.agent.intake import ParsedRequest, parse_request

from ._cds_cards import OVERRIDE_SYSTEM, RULE_SYSTEM, render_card, unavailable_card
from ._cds_fhir import as_object, as_string, bundle_entries, codes_of, load, period_days, ref_id, to_day, validate
from .cds_feedback import decode_feedback

if TYPE_CHECKING:
    from fundguard.agent.service import CheckOutcome

__all__ = [
    "ICD10_SYSTEM", "ICD10_SYSTEMS", "MED_TYPE_SYSTEM", "NATIONAL_SYSTEM", "OVERRIDE_SYSTEM", "PSN_NO_SYSTEM",
    "RULE_SYSTEM", "SERVICES", "HookRequest", "MissingPrefetch", "decode", "decode_feedback", "discovery", "encode",
    "encode_error", "encode_unavailable", "load",
]  # fmt: skip

NATIONAL_SYSTEM = "http://nhsa.gov.cn/fhir/hilist"  # 医保目录代码 (hilist_code); our convention, documented
ICD10_SYSTEM = "http://nhsa.gov.cn/fhir/icd10"  # ICD-10 医保版
ICD10_SYSTEMS = frozenset({ICD10_SYSTEM, "http://hl7.org/fhir/sid/icd-10", "http://hl7.org/fhir/sid/icd-10-cn"})
PSN_NO_SYSTEM = "http://nhsa.gov.cn/fhir/psn_no"  # 人员编号 as a Patient.identifier
MED_TYPE_SYSTEM = "http://nhsa.gov.cn/fhir/med_type"  # 医疗类别 as an Encounter.type coding
SERVICES = {"fundguard-order-select": "order-select", "fundguard-order-sign": "order-sign"}
_GENDERS = {"male": "1", "female": "2", "other": "9", "unknown": "0"}
_CLASSES = {"IMP": "21", "ACUTE": "21", "NONAC": "21", "AMB": "11", "EMER": "13", "VR": "11"}
_ORDERS: dict[str, type[MedicationRequest] | type[ServiceRequest]] = {
    "MedicationRequest": MedicationRequest,
    "ServiceRequest": ServiceRequest,
}
_SKIPPED_CONDITIONS = frozenset({"refuted", "entered-in-error"})


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


def _patient(resource: Any, patient_id: str, origins: dict[str, str]) -> dict[str, Any]:
    path = "prefetch.patient"
    patient = validate(Patient, resource, path)
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
        "brdy": to_day(patient.birthDate),
    }


def _encounter(
    resource: Any, context: Mapping[str, Any], fallback_id: str, origins: dict[str, str]
) -> tuple[dict[str, Any], set[str]]:
    """The encounter fields and the ids of its rank-1 (main) conditions."""
    encounter_id = as_string(context.get("encounterId"), "context.encounterId")
    origins["encounter.mdtrt_id"] = "context.encounterId"
    if resource is None:
        return {"mdtrt_id": encounter_id or fallback_id}, set()
    path = "prefetch.encounter"
    enc = validate(Encounter, resource, path)
    if enc.id and encounter_id and enc.id != encounter_id:
        raise InvalidField("does not match context.encounterId", f"{path}.id")
    if enc.class_fhir is None:  # a JSON null passes the model's required check
        raise InvalidField("not valid FHIR R4: is required", f"{path}.class")
    kind = enc.class_fhir.code or ""
    med_type = next((c.code for t in enc.type or [] for c in t.coding or [] if c.system == MED_TYPE_SYSTEM), None)
    adm, dscg = period_days(enc.period)
    origins.update({"encounter": path, "encounter.adm_date": f"{path}.period.start",
                    "encounter.dscg_date": f"{path}.period.end"})  # fmt: skip
    main = {ref_id(d.condition) for d in enc.diagnosis or [] if d.rank == 1}
    fields = {"mdtrt_id": encounter_id or enc.id or fallback_id, "med_type": med_type or _CLASSES.get(kind, ""),
              "internet_flag": kind == "VR", "adm_date": adm, "dscg_date": dscg}  # fmt: skip
    return fields, main


def _diagnoses(bundle: Any, main: set[str], origins: dict[str, str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path, resource in [] if bundle is None else bundle_entries(bundle, "prefetch.conditions"):
        if resource.get("resourceType") != "Condition":
            continue  # a searchset may carry an OperationOutcome
        cond = validate(Condition, resource, path)
        status = {c.code for c in cond.verificationStatus.coding or []} if cond.verificationStatus else set()
        icd, other, name = codes_of(cond.code, ICD10_SYSTEMS)
        if not (icd or other) or status & _SKIPPED_CONDITIONS:
            continue  # an uncoded (free-text) or withdrawn diagnosis cannot be matched
        origins[f"encounter.diagnoses[{len(out)}]"] = f"{path}.code"
        out.append({"dise_codg": icd or other, "dise_name": name, "maindise_flag": bool(cond.id in main)})
    return out


Sourced = dict[str, tuple[object, str]]  # order-line field → (value, the FHIR location it came from)


def _codes(concept: CodeableConceptType | None, at: str) -> Sourced:
    national, local, name = codes_of(concept, frozenset({NATIONAL_SYSTEM}))
    return {"hilist_code": (national, at), "hosplist_code": (local, at), "hilist_name": (name, at)}


def _drug(order: MedicationRequest, path: str) -> Sourced:
    if order.medicationCodeableConcept is None:
        raise InvalidField(
            "is required (medicationReference is not resolved here)", f"{path}.medicationCodeableConcept"
        )
    quantity = order.dispenseRequest.quantity if order.dispenseRequest else None
    timing = order.dosageInstruction[0].timing if order.dosageInstruction else None
    bounds_at = f"{path}.dosageInstruction[0].timing.repeat.boundsPeriod"
    start, end = period_days(timing.repeat.boundsPeriod if timing and timing.repeat else None)
    therapy = order.courseOfTherapyType.coding or [] if order.courseOfTherapyType else []
    standing = "1" if any(c.code == "continuous" for c in therapy) else "0"  # a standing (long-term) order
    return {
        **_codes(order.medicationCodeableConcept, f"{path}.medicationCodeableConcept"),
        "cnt": (quantity.value if quantity else None, f"{path}.dispenseRequest.quantity.value"),
        "drord_begn_date": (start, f"{bounds_at}.start") if start else (to_day(order.authoredOn), f"{path}.authoredOn"),
        "drord_stop_date": (end, f"{bounds_at}.end"),
        "long_drord_flag": (standing, f"{path}.courseOfTherapyType"),
    }  # fmt: skip


def _test(order: ServiceRequest, path: str) -> Sourced:
    start, end = period_days(order.occurrencePeriod)
    begin = (
        (to_day(order.occurrenceDateTime), f"{path}.occurrenceDateTime") if order.occurrenceDateTime
        else (start, f"{path}.occurrencePeriod.start") if start else (to_day(order.authoredOn), f"{path}.authoredOn")
    )  # fmt: skip
    return {
        **_codes(order.code, f"{path}.code"),
        "cnt": (order.quantityQuantity.value if order.quantityQuantity else None, f"{path}.quantityQuantity.value"),
        "drord_begn_date": begin,
        "drord_stop_date": (end, f"{path}.occurrencePeriod.end"),
    }


def _order(path: str, resource: Mapping[str, Any], user: str, at: str, origins: dict[str, str]) -> dict[str, Any]:
    """One draft order as an order line (`at` = its proto path); records where each field came from."""
    order = validate(_ORDERS[str(resource["resourceType"])], resource, path)
    fields = _drug(order, path) if isinstance(order, MedicationRequest) else _test(order, path)
    fields["rx_id"] = (order.id, f"{path}.id")
    fields["drord_dr_codg"] = (ref_id(order.requester) or user, f"{path}.requester")
    count = fields["cnt"][0]
    fields["cnt"] = ("1" if count is None else str(count), fields["cnt"][1])  # FHIR: an absent quantity is one
    origins[at] = path
    origins.update({f"{at}.{name}": where for name, (_, where) in fields.items()})
    return {name: value for name, (value, _) in fields.items()}


def _orders(
    context: Mapping[str, Any], hook: str, origins: dict[str, str]
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The draft orders as order lines (order-select: unselected drafts are context) and rx_id → reference."""
    user = ref_id(as_string(context.get("userId"), "context.userId"))
    lines: list[dict[str, Any]] = []
    refs: dict[str, str] = {}
    if "draftOrders" not in context:
        raise InvalidField("is required (a Bundle of the draft orders)", "context.draftOrders")
    for path, resource in bundle_entries(context["draftOrders"], "context.draftOrders"):
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
        chosen = {as_string(s, f"context.selections[{n}]", required=True) for n, s in enumerate(selections)}
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
    obj = load(doc) if isinstance(doc, bytes | str) else as_object(doc, "")
    sent = as_string(obj.get("hook"), "hook", required=True)
    if sent not in SERVICES.values() or (hook is not None and sent != hook):
        raise InvalidField(
            f"{sent[:40]!r} is not the hook of this service ({hook or 'order-select, order-sign'})", "hook"
        )
    instance = as_string(obj.get("hookInstance"), "hookInstance", required=True)
    context = as_object(obj.get("context"), "context")
    prefetch = as_object(obj.get("prefetch") or {}, "prefetch")
    patient_id = as_string(context.get("patientId"), "context.patientId", required=True)
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


def encode(outcome: CheckOutcome, request: HookRequest) -> dict[str, Any]:
    """The CDS Service response: one card per alert (none when the orders comply)."""
    return {"cards": [render_card(alert, request) for alert in outcome.result.alerts]}


def encode_unavailable(reason: str, locale: str, card_id: str) -> dict[str, Any]:
    """The CDS Service response when the check did not finish within the agent's budget: one warning card."""
    return {"cards": [unavailable_card(reason, locale, card_id)]}


def encode_error(err: FundguardError) -> dict[str, Any]:
    """The error body every CDS route answers with: `{code, field, message}`."""
    return {"code": err.code, "field": err.field, "message": err.message}
