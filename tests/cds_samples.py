"""CDS Hooks sample requests shared by the adapter and route tests: builders of fresh dicts (FHIR R4, as EHRs send).

`male_iud_order_select()` is the national IS sample (`tests.samples.male_iud_3101`) re-told as an EHR would send
it through CDS Hooks: the same man (1951-08-27), the same inpatient encounter 2001668 with its four diagnoses, the
IUD draft 6374 just selected and the two vitamin orders (6371, 6372) as other, unselected drafts. Each builder
returns a new object, so a test may mutate it freely.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import strategies as st

from fundguard.adapters.his.cds_hooks import ICD10_SYSTEM, NATIONAL_SYSTEM, OVERRIDE_SYSTEM

from .samples import IUD_CODE, VITAMIN_B1, VITAMIN_C

__all__ = [
    "HOOK_INSTANCE",
    "HOSPITAL_SYSTEM",
    "condition",
    "feedback",
    "male_iud_order_select",
    "male_iud_order_sign",
    "malformed",
    "medication_request",
    "service_request",
]

HOOK_INSTANCE = "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"
HOSPITAL_SYSTEM = "http://his.cdsdermyy.example/fhir/item-code"  # a hospital's own item codes
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"


def medication_request(
    rx_id: str, code: str, name: str, *, system: str = NATIONAL_SYSTEM, quantity: Any = 1, **extra: Any
) -> dict[str, Any]:
    """A draft MedicationRequest with one coding, a dispense quantity and the IS order's author and time."""
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest", "id": rx_id, "status": "draft", "intent": "order",
        "subject": {"reference": "Patient/1058158"}, "encounter": {"reference": "Encounter/2001668"},
        "medicationCodeableConcept": {"coding": [{"system": system, "code": code, "display": name}], "text": name},
        "authoredOn": "2025-06-14T14:20:11+08:00", "requester": {"reference": "Practitioner/ys01"},
        "dispenseRequest": {"quantity": {"value": quantity, "unit": "盒"}},
    }  # fmt: skip
    resource.update(extra)
    return resource


def service_request(rx_id: str, code: str, name: str, *, system: str = NATIONAL_SYSTEM, **extra: Any) -> dict[str, Any]:
    """A draft ServiceRequest (examination, procedure, nursing …) with one coding, planned for the IS day."""
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest", "id": rx_id, "status": "draft", "intent": "order",
        "subject": {"reference": "Patient/1058158"},
        "code": {"coding": [{"system": system, "code": code, "display": name}]},
        "occurrenceDateTime": "2025-06-14T15:00:00+08:00", "quantityQuantity": {"value": 1},
    }  # fmt: skip
    resource.update(extra)
    return resource


def condition(condition_id: str, code: str, name: str) -> dict[str, Any]:
    """A confirmed encounter diagnosis coded in ICD-10 医保版."""
    return {
        "resourceType": "Condition", "id": condition_id, "subject": {"reference": "Patient/1058158"},
        "verificationStatus": {"coding": [{"code": "confirmed"}]},
        "code": {"coding": [{"system": ICD10_SYSTEM, "code": code, "display": name}]},
    }  # fmt: skip


def _bundle(resources: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": [{"resource": r} for r in resources]}


def _drafts() -> list[dict[str, Any]]:
    return [
        medication_request("6374", IUD_CODE, "左炔诺孕酮宫内节育系统"),
        medication_request("6371", VITAMIN_B1, "维生素B1片", quantity=2, authoredOn="2025-05-05T09:00:00+08:00"),
        medication_request("6372", VITAMIN_C, "维生素C片", quantity=3, authoredOn="2025-05-05T09:00:00+08:00"),
    ]


def _request(hook: str, context: dict[str, Any]) -> dict[str, Any]:
    return {
        "hook": hook,
        "hookInstance": HOOK_INSTANCE,
        "fhirServer": "https://his.cdsdermyy.example/fhir",
        "context": {"userId": "Practitioner/ys01", "patientId": "1058158", "encounterId": "2001668", **context},
        "prefetch": {
            "patient": {
                "resourceType": "Patient", "id": "1058158", "gender": "male", "birthDate": "1951-08-27",
                "name": [{"text": "张某某"}],
            },
            "encounter": {
                "resourceType": "Encounter", "id": "2001668", "status": "in-progress",
                "class": {"system": ACT_CODE, "code": "IMP", "display": "inpatient encounter"},
                "subject": {"reference": "Patient/1058158"},
                "period": {"start": "2025-05-04T10:59:45+08:00"},
                "diagnosis": [{"condition": {"reference": "Condition/7395"}, "rank": 1}],
            },
            "conditions": _bundle(
                [
                    condition("7395", "XYZD018987", "痛风性关节炎"),
                    condition("7396", "M10.900", "痛风"),
                    condition("7397", "I10.x00", "高血压"),
                    condition("7398", "E11.900", "2型糖尿病"),
                ],
                "searchset",
            ),
        },
    }  # fmt: skip


def male_iud_order_select() -> dict[str, Any]:
    """order-select: the IUD (MedicationRequest/6374) just selected; the two vitamin drafts are context."""
    return _request(
        "order-select",
        {"selections": ["MedicationRequest/6374"], "draftOrders": _bundle(_drafts(), "collection")},
    )


def male_iud_order_sign() -> dict[str, Any]:
    """order-sign: the same three drafts about to be signed (all of them are checked)."""
    return _request("order-sign", {"draftOrders": _bundle(_drafts(), "collection")})


def feedback(card: str, outcome: str = "overridden", **extra: Any) -> dict[str, Any]:
    """A feedback POST body for one card (an override with a reason and a comment unless told otherwise)."""
    item: dict[str, Any] = {"card": card, "outcome": outcome, "outcomeTimestamp": "2025-06-14T06:30:00Z"}
    if outcome == "overridden":
        item["overrideReason"] = {
            "reason": {"system": OVERRIDE_SYSTEM, "code": "clinical-necessity", "display": "临床必需"},
            "userComment": "HIS 性别登记有误，已提交更正",
        }  # fmt: skip
    item.update(extra)
    return {"feedback": [item]}


# ---- malformed inputs for the fuzz tests -----------------------------------------------------------------------

_ODD_VALUES: list[Any] = [
    None, True, 0, -1, 1e308, 10**30, float("nan"), "", " ", "x" * 300, "\x00", "NaN", "1e400", "-0", "2025",
    "2025-06", "2025-02-30", "2025-06-14T25:61:00Z", "MedicationRequest/6374", "MedicationRequest/nope", "male",
    "order-sign", [], {}, [{}], {"resourceType": "Bundle"}, {"resourceType": "Bundle", "entry": [{}]},
    {"resourceType": "Patient"}, {"resourceType": "MedicationRequest", "id": "6374"}, {"coding": [{"code": ""}]},
    {"value": "abc"}, {"value": -3},
]  # fmt: skip
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def _slots(node: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) pair inside a JSON document."""
    slots: list[tuple[Any, Any]] = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, value in items:
        slots.append((node, key))
        slots.extend(_slots(value))
    return slots


@st.composite
def _mutated(draw: st.DrawFn, text: str) -> Any:
    doc = json.loads(text)
    for _ in range(draw(st.integers(1, 4))):
        slots = _slots(doc)
        if not slots:
            break
        parent, key = slots[draw(st.integers(0, len(slots) - 1))]
        action = draw(st.sampled_from(("odd", "json", "delete", "wrap", "extra")))
        if action == "delete":
            del parent[key]
        elif action == "wrap":
            parent[key] = [parent[key]] if not isinstance(parent[key], list) else {"0": parent[key]}
        elif action == "extra" and isinstance(parent[key], dict):
            parent[key][draw(st.text(max_size=10))] = draw(_JSON)
        else:
            parent[key] = copy.deepcopy(draw(st.sampled_from(_ODD_VALUES) if action == "odd" else _JSON))
    return doc


def malformed(base: Any) -> st.SearchStrategy[Any]:
    """`base` (a valid request) mutated 1–4 times (wrong types, odd values, missing or extra keys), or its JSON
    text cut short, or bytes that are not JSON, or JSON that is not an object."""
    text = json.dumps(base, ensure_ascii=False)
    return st.one_of(
        _mutated(text),  # three distinct strategies: mutations are most of the examples
        _mutated(text),
        _mutated(text),
        st.integers(0, len(text) - 1).map(lambda n: text[:n]),
        st.binary(max_size=64),
        _JSON.filter(lambda v: not isinstance(v, dict)).map(json.dumps),
    )
