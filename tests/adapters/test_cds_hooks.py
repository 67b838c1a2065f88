"""CDS Hooks adapter: realistic order-select / order-sign requests → cards, FHIR-located errors, feedback, fuzzing.

Checks run on the embedded default KB with a fixed clock and judgement id, so cards are compared whole.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fundguard.adapters.his import cds_hooks, nhsa_json
from fundguard.agent.codes import CodeMap
from fundguard.agent.engine import CompiledKB
from fundguard.agent.engine.errors import InvalidField
from fundguard.agent.engine.model import Alert, AlertLine, CheckResult, WorkflowImpact
from fundguard.agent.feedback import Decision
from fundguard.agent.intake import parse_request
from fundguard.agent.kb import KbStore
from fundguard.agent.service import CheckOutcome, CheckService
from tests.cds_samples import (
    HOSPITAL_SYSTEM,
    condition,
    feedback,
    male_iud_order_select,
    male_iud_order_sign,
    malformed,
    medication_request,
    service_request,
)
from tests.engine.rules.casefile import CASES_DIR
from tests.samples import IUD_CODE, IUD_KP_ID, SEX_DRUG_RULE_ID, male_iud_3101

JUDGEMENT = "0123456789abcdef0123456789abcdef"
RECEIVED = datetime(2025, 6, 14, 15, 0)
IUD_TEXT = "【左炔诺孕酮宫内节育系统】限女性使用，参保人性别为男性（药品区分性别使用）。"


def _service(kb: CompiledKB, codes: CodeMap | None = None) -> CheckService:
    store = KbStore()
    store.activate(kb, "default")
    return CheckService(store, clock=lambda: datetime(2025, 6, 14, 15, 0), new_id=lambda: JUDGEMENT, codes=codes)


@pytest.fixture(scope="module")
def service(default_kb: CompiledKB) -> CheckService:
    """A check service on the default KB with a fixed clock and judgement id."""
    return _service(default_kb)


def _cards(doc: Any, service: CheckService, **kw: Any) -> list[dict[str, Any]]:
    decoded = cds_hooks.decode(doc, **kw)
    cards: list[dict[str, Any]] = cds_hooks.encode(service.check(decoded.parsed), decoded)["cards"]
    return cards


def _error(doc: Any, **kw: Any) -> InvalidField:
    with pytest.raises(InvalidField) as caught:
        cds_hooks.decode(doc, **kw)
    return caught.value


def _drafts(doc: dict[str, Any]) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = doc["context"]["draftOrders"]["entry"]
    return entries


def _verdict(cards: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(c["source"]["topic"]["code"], c["uuid"]) for c in cards}


# --- cards ---------------------------------------------------------------------------------------------------


def test_male_patient_selecting_the_iud_gets_one_card_with_the_rule_as_topic(service: CheckService) -> None:
    """order-select: the man's IUD draft gives one warning card naming rule GZ10000301004000, with override reasons
    and a suggestion to delete MedicationRequest/6374; the card uuid is the alert's jr_id."""
    jr_id = f"{JUDGEMENT}-001"
    expected = [
        {
            "uuid": jr_id,
            "summary": IUD_TEXT,
            "indicator": "warning",
            "detail": f"{IUD_TEXT}\n\n- 规则: 药品区分性别使用 ({SEX_DRUG_RULE_ID})\n- 知识点: {IUD_KP_ID}\n"
            "- 级别: 高度可疑（需说明理由）\n- 涉及金额: 0.00\n- 涉及医嘱: 6374 (违规项)\n- 依据: 避孕，3 年有效。",
            "source": {
                "label": "fundguard 医保事前审核",
                "topic": {"system": cds_hooks.RULE_SYSTEM, "code": SEX_DRUG_RULE_ID, "display": "药品区分性别使用"},
            },
            "overrideReasons": [
                {"system": cds_hooks.OVERRIDE_SYSTEM, "code": "sex-corrected", "display": "患者性别信息有误（已更正）"},
                {
                    "system": cds_hooks.OVERRIDE_SYSTEM,
                    "code": "clinical-necessity",
                    "display": "临床必需（病历已记录）",
                },
                {
                    "system": cds_hooks.OVERRIDE_SYSTEM,
                    "code": "informed-consent",
                    "display": "已获患者知情同意（自费）",
                },
            ],
            "suggestions": [
                {
                    "label": "撤销医嘱：左炔诺孕酮宫内节育系统",
                    "uuid": f"{jr_id}-delete-1",
                    "actions": [
                        {
                            "type": "delete",
                            "description": "撤销不符合医保规则的医嘱 MedicationRequest/6374",
                            "resourceId": "MedicationRequest/6374",
                        }
                    ],
                }
            ],
            "selectionBehavior": "any",
            "extension": {"fundguard": {
                "jr_id": jr_id, "rule_id": SEX_DRUG_RULE_ID, "kp_id": IUD_KP_ID, "sev_deg": "2",
                "workflow_impact": "reason-required", "rx_ids": ["6374"], "vola_amt": "0.00",
            }},
        }
    ]  # fmt: skip
    assert expected == _cards(male_iud_order_select(), service)


def test_order_sign_checks_every_draft(service: CheckService) -> None:
    """order-sign: all three drafts are current lines; the IUD is the one flagged."""
    decoded = cds_hooks.decode(male_iud_order_sign(), hook="order-sign")
    assert [("6374", True), ("6371", True), ("6372", True)] == [
        (o.rx_id, o.current) for o in decoded.parsed.request.encounter.orders
    ]
    assert {(SEX_DRUG_RULE_ID, f"{JUDGEMENT}-001")} == _verdict(_cards(male_iud_order_sign(), service))


def test_order_select_unselected_drafts_are_context_only(service: CheckService) -> None:
    """order-select with only a vitamin selected: the IUD draft is a context line (not current), so no card."""
    doc = male_iud_order_select()
    doc["context"]["selections"] = ["MedicationRequest/6371"]
    decoded = cds_hooks.decode(doc)
    assert [("6374", False), ("6371", True), ("6372", False)] == [
        (o.rx_id, o.current) for o in decoded.parsed.request.encounter.orders
    ]
    assert [] == _cards(doc, service)


def test_compliant_request_gives_no_cards(service: CheckService) -> None:
    """The same drafts for a woman: nothing to flag, `{"cards": []}`."""
    doc = male_iud_order_select()
    doc["prefetch"]["patient"].update(gender="female", birthDate="1990-03-01")
    assert [] == _cards(doc, service)


def test_hospital_code_mapped_through_the_code_map_is_checked(default_kb: CompiledKB) -> None:
    """A draft coded only in the hospital's system is mapped (CodeMap) to the IUD's national code and flagged."""
    doc = male_iud_order_select()
    _drafts(doc)[0]["resource"] = medication_request("6374", "H-IUD-52", "曼月乐", system=HOSPITAL_SYSTEM)
    mapped = _service(default_kb, CodeMap(MappingProxyType({"H-IUD-52": IUD_CODE})))
    line = cds_hooks.decode(doc).parsed.request.encounter.orders[0]
    assert ("", "H-IUD-52") == (line.hilist_code, line.hosplist_code)
    assert {(SEX_DRUG_RULE_ID, f"{JUDGEMENT}-001")} == _verdict(_cards(doc, mapped))


def test_unmapped_hospital_code_gives_the_unmapped_card(default_kb: CompiledKB) -> None:
    """A hospital code the map does not know: an FG-CODE-UNMAPPED warning card offering to delete the draft."""
    doc = male_iud_order_select()
    _drafts(doc)[0]["resource"] = medication_request("6374", "H-NEW-1", "新药", system=HOSPITAL_SYSTEM)
    cards = _cards(doc, _service(default_kb, CodeMap(MappingProxyType({}))))
    assert ["FG-CODE-UNMAPPED"] == [c["source"]["topic"]["code"] for c in cards]
    assert "warning" == cards[0]["indicator"]
    assert ["mapping-requested", "informed-consent"] == [r["code"] for r in cards[0]["overrideReasons"]]
    assert "MedicationRequest/6374" == cards[0]["suggestions"][0]["actions"][0]["resourceId"]


def _outcome(impact: WorkflowImpact, text: str, amount: str = "27.2") -> CheckOutcome:
    alert = Alert(
        jr_id="J-1", rule_id="GZ10000101012000", rule_name="药品限医疗机构级别", rule_class="药品限医疗机构级别",
        kp_id="KP-1", vola_cont=text, sev_deg="1", workflow_impact=impact, vola_amt=Decimal(amount),
        rx_ids=("6374",), lines=(AlertLine("6374", "1", Decimal(amount)), AlertLine("6371", "2", Decimal(0))),
    )  # fmt: skip
    return CheckOutcome(CheckResult(JUDGEMENT, "7", date(2025, 6, 14), (alert,)), 10)


def test_block_alert_is_critical_and_info_alert_offers_no_suggestion() -> None:
    """Indicator follows workflow_impact (block → critical, info → info); only block / reason-required alerts
    suggest deleting the draft; the detail gives severity, workflow impact, amount and the lines' roles."""
    decoded = cds_hooks.decode(male_iud_order_select())
    block = cds_hooks.encode(_outcome(WorkflowImpact.BLOCK, "限二级及以上医疗机构。"), decoded)["cards"][0]
    info = cds_hooks.encode(_outcome(WorkflowImpact.INFO, "提示。"), decoded)["cards"][0]
    assert ("critical", 1, "any") == (block["indicator"], len(block["suggestions"]), block["selectionBehavior"])
    assert "- 级别: 明确违规（拦截）\n- 涉及金额: 27.20" in block["detail"]
    assert "- 涉及医嘱: 6374 (违规项), 6371 (涉及项)" in block["detail"]
    assert ("info", False, False) == (info["indicator"], "suggestions" in info, "selectionBehavior" in info)
    assert ["approved", "referral-continuation", "informed-consent"] == [r["code"] for r in block["overrideReasons"]]


def test_summary_is_the_alert_text_cut_below_140_characters() -> None:
    """The summary is the whole alert text when it fits in 139 characters; a longer one is cut at its last sentence
    end that fits (else anywhere) with an ellipsis."""
    decoded = cds_hooks.decode(male_iud_order_select())
    short = cds_hooks.encode(_outcome(WorkflowImpact.BLOCK, "甲乙丙；丁戊。"), decoded)["cards"][0]
    cut = cds_hooks.encode(_outcome(WorkflowImpact.BLOCK, "甲乙丙；" + "丁" * 200), decoded)["cards"][0]
    long = cds_hooks.encode(_outcome(WorkflowImpact.BLOCK, "药" * 300), decoded)["cards"][0]
    assert ("甲乙丙；丁戊。", "甲乙丙…") == (short["summary"], cut["summary"])
    assert "药" * 138 + "…" == long["summary"]


def test_english_locale_gives_english_labels_and_text(service: CheckService) -> None:
    """locale "en": English alert text, labels and override reasons."""
    card = _cards(male_iud_order_select(), service, locale="en")[0]
    assert "fundguard insurance pre-check" == card["source"]["label"]
    assert card["summary"].startswith("[左炔诺孕酮宫内节育系统]")
    assert "Patient's recorded sex was wrong (corrected)" == card["overrideReasons"][0]["display"]
    assert "Remove the order: 左炔诺孕酮宫内节育系统" == card["suggestions"][0]["label"]


# --- mapping -------------------------------------------------------------------------------------------------


def test_patient_encounter_and_conditions_are_mapped() -> None:
    """Patient id/gender/birthDate, encounter id/class/period and coded conditions (rank 1 = main) map to the
    national fields; the hookInstance is the task id."""
    request = cds_hooks.decode(male_iud_order_select()).parsed.request
    enc = request.encounter
    assert ("1058158", "1", date(1951, 8, 27)) == (request.patient.patn_id, request.patient.gend, request.patient.brdy)
    assert ("2001668", "21", date(2025, 5, 4), None) == (enc.mdtrt_id, enc.med_type, enc.adm_date, enc.dscg_date)
    assert [("XYZD018987", True), ("M10.900", False), ("I10.X00", False), ("E11.900", False)] == [
        (d.dise_codg, d.maindise_flag) for d in enc.diagnoses
    ]
    assert "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea" == request.task_id


@pytest.mark.parametrize(
    ("gender", "gend"), [("male", "1"), ("female", "2"), ("other", "9"), ("unknown", "0"), (None, "0")]
)
def test_gender_codes(gender: str | None, gend: str) -> None:
    """FHIR administrative gender → national gend (absent = unknown 0)."""
    doc = male_iud_order_select()
    doc["prefetch"]["patient"]["gender"] = gender
    assert gend == cds_hooks.decode(doc).parsed.request.patient.gend


@pytest.mark.parametrize(
    ("klass", "med_type", "internet"),
    [("IMP", "21", False), ("AMB", "11", False), ("EMER", "13", False), ("VR", "11", True), ("HH", "", False)],
)
def test_encounter_class_gives_med_type(klass: str, med_type: str, internet: bool) -> None:
    """Encounter.class → med_type (a virtual visit is an internet-hospital one; unknown classes give none)."""
    doc = male_iud_order_select()
    doc["prefetch"]["encounter"]["class"]["code"] = klass
    enc = cds_hooks.decode(doc).parsed.request.encounter
    assert (med_type, internet) == (enc.med_type, enc.internet_flag)


def test_national_identifiers_and_med_type_win() -> None:
    """A Patient.identifier of the 人员编号 system is the patn_id; an Encounter.type of the med_type system wins
    over the class; without an encounter resource the context's encounterId is the mdtrt_id."""
    doc = male_iud_order_select()
    doc["prefetch"]["patient"]["identifier"] = [{"system": cds_hooks.PSN_NO_SYSTEM, "value": "43070000000012345678"}]
    doc["prefetch"]["encounter"]["type"] = [{"coding": [{"system": cds_hooks.MED_TYPE_SYSTEM, "code": "14"}]}]
    request = cds_hooks.decode(doc).parsed.request
    assert ("43070000000012345678", "14") == (request.patient.patn_id, request.encounter.med_type)
    del doc["prefetch"]["encounter"]
    enc = cds_hooks.decode(doc).parsed.request.encounter
    assert ("2001668", "") == (enc.mdtrt_id, enc.med_type)


def test_withdrawn_and_uncoded_conditions_are_skipped() -> None:
    """Refuted / entered-in-error conditions and ones with only text are not diagnoses; other resources in the
    searchset (OperationOutcome) are ignored; an ICD-10 coding is preferred over another system's."""
    doc = male_iud_order_select()
    refuted = condition("1", "N40.X00", "前列腺增生")
    refuted["verificationStatus"]["coding"][0]["code"] = "refuted"
    two = condition("2", "J18.900", "肺炎")
    two["code"]["coding"].insert(0, {"system": "http://snomed.info/sct", "code": "233604007"})
    doc["prefetch"]["conditions"]["entry"] = [
        {"resource": refuted},
        {"resource": {"resourceType": "Condition", "id": "3", "subject": {"reference": "Patient/1"},
                      "code": {"text": "咳嗽"}}},
        {"resource": {"resourceType": "OperationOutcome", "issue": []}},
        {"resource": two},
    ]  # fmt: skip
    assert ["J18.900"] == [d.dise_codg for d in cds_hooks.decode(doc).parsed.request.encounter.diagnoses]


def test_order_dates_quantity_and_author() -> None:
    """Dosage boundsPeriod gives begin/stop (China time: 16:30Z is the next day), courseOfTherapyType continuous
    a standing order, the dispense quantity the count; a ServiceRequest's occurrence and quantity likewise;
    without a requester the context's user is the doctor."""
    doc = male_iud_order_sign()
    drug = _drafts(doc)[1]["resource"]
    drug["dosageInstruction"] = [
        {"timing": {"repeat": {"boundsPeriod": {"start": "2025-06-13T16:30:00Z", "end": "2025-06-20"}}}}
    ]
    drug["courseOfTherapyType"] = {"coding": [{"code": "continuous"}]}
    del drug["requester"]
    exam = service_request("8001", "002503020030000", "糖化血红蛋白测定", quantityQuantity={"value": 2})
    _drafts(doc).append({"resource": exam})
    orders = cds_hooks.decode(doc).parsed.request.encounter.orders
    b1, test = orders[1], orders[3]
    assert (date(2025, 6, 14), date(2025, 6, 20), True, Decimal(2), "ys01") == (
        b1.begn_date, b1.stop_date, b1.long_drord, b1.cnt, b1.drord_dr_codg
    )  # fmt: skip
    assert ("8001", "002503020030000", Decimal(2), date(2025, 6, 14)) == (
        test.rx_id, test.hilist_code, test.cnt, test.begn_date
    )  # fmt: skip


def test_other_draft_types_are_ignored() -> None:
    """A NutritionOrder among the drafts is not an order line (nothing in the KB judges it)."""
    doc = male_iud_order_sign()
    _drafts(doc).append({"resource": {"resourceType": "NutritionOrder", "id": "n1", "status": "draft"}})
    assert ["6374", "6371", "6372"] == [o.rx_id for o in cds_hooks.decode(doc).parsed.request.encounter.orders]


# --- the same encounter through every transport ------------------------------------------------------------


def test_same_encounter_as_national_3101_gives_the_same_alerts(service: CheckService) -> None:
    """The IS encounter sent as a national 3101 and as a CDS Hooks order-select: same rule ids on the same lines."""
    (national,) = nhsa_json.decode(male_iud_3101())
    via_3101 = {(a.rule_id, a.rx_ids, tuple(ln.rx_id for ln in a.lines)) for a in service.check(national).result.alerts}
    decoded = cds_hooks.decode(male_iud_order_select())
    via_cds = {
        (a.rule_id, a.rx_ids, tuple(ln.rx_id for ln in a.lines)) for a in service.check(decoded.parsed).result.alerts
    }
    assert via_3101 == via_cds
    assert {(SEX_DRUG_RULE_ID, ("6374",), ("6374",))} == via_cds


def _fhir_time(value: Any) -> str | None:
    """A case's "yyyy-MM-dd[ HH:mm:ss]" as a FHIR dateTime (China time)."""
    text = str(value or "")
    return None if not text else text if len(text) <= 10 else text.replace(" ", "T")[:19] + "+08:00"


def _draft(order: dict[str, Any]) -> dict[str, Any]:
    """A case's order line as the draft an EHR would send: drugs (X…/Z…/T… codes) as MedicationRequest."""
    begin, stop = _fhir_time(order.get("drord_begn_date")), _fhir_time(order.get("drord_stop_date"))
    coding = {"coding": [{"system": cds_hooks.NATIONAL_SYSTEM, "code": order["hilist_code"]}]}
    base = {"id": order["rx_id"], "status": "draft", "intent": "order", "subject": {"reference": "Patient/p"}}
    if order["hilist_code"][0] in "XZT":
        drug = {**base, "resourceType": "MedicationRequest", "medicationCodeableConcept": coding,
                "dispenseRequest": {"quantity": {"value": Decimal(str(order["cnt"]))}}}  # fmt: skip
        if stop:
            drug["dosageInstruction"] = [{"timing": {"repeat": {"boundsPeriod": {"start": begin, "end": stop}}}}]
        elif begin:
            drug["authoredOn"] = begin
        if str(order.get("long_drord_flag", "")) == "1":
            drug["courseOfTherapyType"] = {"coding": [{"code": "continuous"}]}
        return drug
    test = {**base, "resourceType": "ServiceRequest", "code": coding,
            "quantityQuantity": {"value": Decimal(str(order["cnt"]))}}  # fmt: skip
    if stop:
        test["occurrencePeriod"] = {"start": begin, "end": stop}
    elif begin:
        test["occurrenceDateTime"] = begin
    return test


def _both_ways(case: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """A rule case as (CDS Hooks request, the same encounter in proto-JSON shape), keeping only what FHIR drafts
    carry (no prices, insurance type, hospital level or list type); None when it needs history or operations."""
    src, enc = case["input"], case["input"]["encounter"]
    if src.get("history") or enc.get("operations"):
        return None
    med_type = str(enc.get("med_type") or "11")
    internet = str(enc.get("internet_flag", "")).lower() in ("1", "true")
    patient = src["patient"]
    keep = ("rx_id", "hilist_code", "cnt", "drord_begn_date", "drord_stop_date", "long_drord_flag", "curr_drord_flag")
    orders = [{k: o[k] for k in keep if k in o} for o in enc["orders"]]
    proto = {
        "patient": {k: patient[k] for k in ("patn_id", "gend", "brdy")},
        "encounter": {"mdtrt_id": enc["mdtrt_id"], "med_type": med_type, "internet_flag": internet,
                      "adm_date": enc.get("adm_date"), "dscg_date": enc.get("dscg_date"), "orders": orders,
                      "diagnoses": [{"dise_codg": d["dise_codg"], "maindise_flag": d.get("maindise_flag", "0")}
                                    for d in enc.get("diagnoses", [])]},
    }  # fmt: skip
    selected = [
        f"{_draft(o)['resourceType']}/{o['rx_id']}" for o in orders if str(o.get("curr_drord_flag", "1")) != "0"
    ]
    if not selected:
        return None
    period = {
        k: v for k, v in (("start", _fhir_time(enc.get("adm_date"))), ("end", _fhir_time(enc.get("dscg_date")))) if v
    }
    conditions = [
        condition(f"c{n}", d["dise_codg"], d.get("dise_name") or d["dise_codg"])
        for n, d in enumerate(enc.get("diagnoses", []))
    ]
    main = [{"condition": {"reference": f"Condition/c{n}"}, "rank": 1}
            for n, d in enumerate(enc.get("diagnoses", [])) if str(d.get("maindise_flag", "")) == "1"]  # fmt: skip
    encounter = {"resourceType": "Encounter", "id": enc["mdtrt_id"], "status": "in-progress",
                 "class": {"code": "VR" if internet else "AMB"},
                 "type": [{"coding": [{"system": cds_hooks.MED_TYPE_SYSTEM, "code": med_type}]}]}  # fmt: skip
    if period:
        encounter["period"] = period
    if main:
        encounter["diagnosis"] = main
    context = {"patientId": patient["patn_id"], "encounterId": enc["mdtrt_id"], "selections": selected,
               "draftOrders": {"resourceType": "Bundle", "type": "collection",
                               "entry": [{"resource": _draft(o)} for o in orders]}}  # fmt: skip
    gender = {"1": "male", "2": "female", "9": "other"}.get(str(patient["gend"]), "unknown")
    prefetch = {"patient": {"resourceType": "Patient", "id": patient["patn_id"], "gender": gender,
                            "birthDate": patient["brdy"]},
                "encounter": encounter,
                "conditions": {"resourceType": "Bundle", "type": "searchset",
                               "entry": [{"resource": c} for c in conditions]}}  # fmt: skip
    cds = {"hook": "order-select", "hookInstance": f"h-{case['name'][:20]}", "context": context, "prefetch": prefetch}
    return cds, proto


def _alerts(service: CheckService, parsed: Any) -> set[tuple[str, str, tuple[tuple[str, str], ...]]]:
    result = service.check(parsed).result
    return {(a.rule_id, a.kp_id, tuple((ln.rx_id, ln.vola_item_type) for ln in a.lines)) for a in result.alerts}


def test_rule_cases_give_the_same_alerts_through_cds_hooks(default_kb: CompiledKB) -> None:
    """Every rule-family case an EHR can express as FHIR drafts, sent as CDS Hooks and as the proto-JSON request
    (gRPC/national shape) with the same content: the same rule ids, knowledge points and lines, case by case."""
    store = KbStore()
    store.activate(default_kb, "default")
    service = CheckService(store, clock=lambda: datetime(2026, 11, 1, 10, 0), new_id=lambda: JUDGEMENT)
    compared: dict[str, int] = {}
    for path in sorted(CASES_DIR.glob("*.json")):
        for case in json.loads(path.read_text(encoding="utf-8")):
            pair = _both_ways(case)
            if pair is None:
                continue
            via_cds = _alerts(service, cds_hooks.decode(pair[0], hook="order-select").parsed)
            assert _alerts(service, parse_request(pair[1])) == via_cds, case["name"]
            for rule_id, _, _ in via_cds:
                compared[rule_id] = compared.get(rule_id, 0) + 1
    assert len(compared) >= 10, compared  # most rule classes are exercised, not just compliant cases


# --- errors --------------------------------------------------------------------------------------------------


def test_missing_patient_prefetch_is_a_precondition_failure() -> None:
    """Without prefetch.patient the service cannot check (it does not query the FHIR server): MissingPrefetch."""
    doc = male_iud_order_select()
    del doc["prefetch"]["patient"]
    err = _error(doc)
    assert (cds_hooks.MissingPrefetch, "prefetch.patient") == (type(err), err.field)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.update(hook="patient-view"), "hook"),
        (lambda d: d.pop("hookInstance"), "hookInstance"),
        (lambda d: d["context"].pop("patientId"), "context.patientId"),
        (lambda d: d["context"].pop("draftOrders"), "context.draftOrders"),
        (lambda d: d["context"].update(selections=["MedicationRequest/9999"]), "context.selections"),
        (lambda d: d["context"].update(selections=[]), "context.selections"),
        (lambda d: d["prefetch"]["patient"].update(id="other"), "prefetch.patient.id"),
        (lambda d: d["prefetch"]["patient"].update(birthDate="1951-08"), "prefetch.patient.birthDate"),
        (lambda d: d["prefetch"]["patient"].pop("birthDate"), "prefetch.patient.birthDate"),
        (lambda d: d["prefetch"]["patient"].update(gender="M"), "prefetch.patient.gender"),
        (lambda d: d["prefetch"]["patient"].update(resourceType="Person"), "prefetch.patient.resourceType"),
        (lambda d: d["prefetch"]["encounter"].pop("class"), "prefetch.encounter.class"),
        (lambda d: d["prefetch"]["conditions"].update(entry={}), "prefetch.conditions.entry"),
        (lambda d: d["prefetch"]["conditions"]["entry"][1]["resource"]["code"].update(coding="I10"),
         "prefetch.conditions.entry[1].resource.code.coding"),
        (lambda d: _drafts(d)[1]["resource"]["dispenseRequest"]["quantity"].update(value="two"),
         "context.draftOrders.entry[1].resource.dispenseRequest.quantity.value"),
        (lambda d: _drafts(d)[1]["resource"].pop("medicationCodeableConcept"), "context.draftOrders.entry[1].resource"),
        (lambda d: _drafts(d)[1]["resource"].update(medicationCodeableConcept={"text": "维生素B1片"}),
         "context.draftOrders.entry[1].resource.medicationCodeableConcept"),
        (lambda d: _drafts(d)[2]["resource"].pop("status"), "context.draftOrders.entry[2].resource.status"),
        (lambda d: _drafts(d)[2]["resource"].update(authoredOn="2025"),
         "context.draftOrders.entry[2].resource.authoredOn"),
        (lambda d: _drafts(d)[2]["resource"].pop("id"), "context.draftOrders.entry[2].resource.id"),
        (lambda d: _drafts(d)[2]["resource"].update(id="6374"), "context.draftOrders.entry[2].resource.id"),
        (lambda d: _drafts(d)[2].update(resource=[]), "context.draftOrders.entry[2].resource"),
    ],
)  # fmt: skip
def test_bad_input_names_the_fhir_location(change: Any, field: str) -> None:
    """Each defect is refused with InvalidField naming where it is in the CDS request / FHIR resources."""
    doc = male_iud_order_select()
    change(doc)
    assert field == _error(doc, hook="order-select").field


def test_service_hook_must_match() -> None:
    """An order-sign request posted to the order-select service is refused on `hook`."""
    err = _error(male_iud_order_sign(), hook="order-select")
    assert ("hook", "'order-sign' is not the hook of this service (order-select)") == (err.field, err.message)


@pytest.mark.parametrize("raw", [b"", b"{", b"\xff\xfe", b"[1, 2]", b'"text"', b"1" * 5000])
def test_body_that_is_not_a_json_object_is_refused(raw: bytes) -> None:
    """Bytes that are not a JSON object: InvalidField with no field (the whole request)."""
    err = _error(raw)
    assert "" == err.field
    assert {"code": "invalid_field", "field": "", "message": err.message} == cds_hooks.encode_error(err)


# --- feedback ------------------------------------------------------------------------------------------------


def test_override_with_reason_is_a_continue_decision() -> None:
    """overridden + reason + comment → dspo_way 1 with "display (code): comment", decided at outcomeTimestamp."""
    expected = [
        Decision(
            "J-1", "1", "临床必需 (clinical-necessity): HIS 性别登记有误，已提交更正", "1", "cds-hooks",
            "2025-06-14T06:30:00+00:00",
        )
    ]  # fmt: skip
    assert expected == cds_hooks.decode_feedback(feedback("J-1"), received=RECEIVED)


def test_accepted_is_a_modify_decision_at_the_received_time_without_timestamp() -> None:
    """accepted → dspo_way 2, no reason; without outcomeTimestamp the time received is the decision time."""
    doc = feedback("J-2", "accepted", acceptedSuggestions=[{"id": "J-2-delete-1"}])
    del doc["feedback"][0]["outcomeTimestamp"]
    expected = [Decision("J-2", "2", "", "1", "cds-hooks", RECEIVED.isoformat())]
    assert expected == cds_hooks.decode_feedback(json.dumps(doc), received=RECEIVED)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda f: f.pop("overrideReason"), "feedback[0].overrideReason"),
        (lambda f: f.update(overrideReason={"userComment": "  "}), "feedback[0].overrideReason"),
        (lambda f: f["overrideReason"].update(userComment="长" * 501), "feedback[0].overrideReason.userComment"),
        (lambda f: f.update(outcome="ignored"), "feedback[0].outcome"),
        (lambda f: f.update(card=""), "feedback[0].card"),
        (lambda f: f.update(card="x" * 51), "feedback[0].card"),
        (lambda f: f.update(outcomeTimestamp="yesterday"), "feedback[0].outcomeTimestamp"),
        (lambda f: f["overrideReason"].update(reason="临床必需"), "feedback[0].overrideReason.reason"),
    ],
)  # fmt: skip
def test_bad_feedback_names_the_field(change: Any, field: str) -> None:
    """An override without a reason, an unknown outcome, a bad card id or timestamp is refused, field named."""
    doc = feedback("J-3")
    change(doc["feedback"][0])
    with pytest.raises(InvalidField) as caught:
        cds_hooks.decode_feedback(doc, received=RECEIVED)
    assert field == caught.value.field


def test_discovery_lists_both_hooks_with_prefetch_templates() -> None:
    """Discovery: fundguard-order-select and fundguard-order-sign, each asking for the patient prefetch."""
    services = cds_hooks.discovery()["services"]
    assert [("fundguard-order-select", "order-select"), ("fundguard-order-sign", "order-sign")] == [
        (s["id"], s["hook"]) for s in services
    ]
    assert all("Patient/{{context.patientId}}" == s["prefetch"]["patient"] for s in services)


# --- fuzzing -------------------------------------------------------------------------------------------------


@settings(max_examples=10_000, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=st.one_of(malformed(male_iud_order_select()), malformed(male_iud_order_sign())))
def test_fuzz_malformed_hook_requests_give_cards_or_the_protocol_error(service: CheckService, doc: Any) -> None:
    """10,000 mutated hook requests (wrong types, odd values, missing/extra keys, cut JSON, garbage bytes): each
    decodes and checks into cards, or is refused with InvalidField, whose error body names code and field."""
    try:
        decoded = cds_hooks.decode(doc)
    except InvalidField as exc:
        body = cds_hooks.encode_error(exc)
        assert ("invalid_field", True, True) == (body["code"], isinstance(body["field"], str), bool(body["message"]))
        return
    cards = cds_hooks.encode(service.check(decoded.parsed), decoded)["cards"]
    assert all(0 < len(c["summary"]) < 140 and c["indicator"] in ("info", "warning", "critical") for c in cards)


@settings(max_examples=2_000, deadline=None, database=None)
@given(doc=st.one_of(malformed(feedback("J-1")), malformed(feedback("J-2", "accepted"))))
def test_fuzz_malformed_feedback_gives_decisions_or_the_protocol_error(doc: Any) -> None:
    """2,000 mutated feedback bodies: each gives decisions (overrides always with a reason) or InvalidField."""
    try:
        decisions = cds_hooks.decode_feedback(doc, received=RECEIVED)
    except InvalidField:
        return
    assert all(d.dspo_way == "2" or d.dspo_way_rea for d in decisions)
