"""Event builders: what each kind carries, the practitioner each alert concerns, patient identity as configured
(full or HMAC-SHA256 pseudonym, never the name), and nothing for sales that settled nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from fundguard.agent.engine import model as m
from fundguard.agent.feedback.issued import IssuedAlert
from fundguard.agent.feedback.store import Decision
from fundguard.agent.intake import ParsedRequest
from fundguard.agent.trace.settle import CodeOutcome, DispenseOutcome, ReturnOutcome, Sale
from fundguard.agent.uplink.events import (
    IdentityMode,
    check_event,
    decision_event,
    dispense_event,
    return_event,
    unavailable_event,
)

SECRET = b"hospital-secret"
AT = datetime(2025, 6, 14, 10, 30, tzinfo=UTC)


def parsed() -> ParsedRequest:
    """An encounter by D430702000001 with two lines, one ordered by another doctor."""
    enc = m.Encounter(
        mdtrt_id="2001668",
        med_type="21",
        dr_codg="D430702000001",
        orders=(
            m.OrderLine("6374", "XG02", Decimal(1), drord_dr_codg="D430702000002"),
            m.OrderLine("6372", "XA11", Decimal(3)),
        ),
    )
    request = m.CheckRequest("4", m.Patient("1058158", "1", date(1951, 8, 27), "张某某"), enc, task_id="T1")
    return ParsedRequest(request, None, "WS-12", "0301")


def alert(jr_id: str, rx: str, doctor: str) -> m.Alert:
    """An alert on one line."""
    line = m.AlertLine(rx, "1", Decimal("1153.00"))
    return m.Alert(jr_id, "R1", "性别", "药品区分性别使用", "KP-1", "…", "2", m.WorkflowImpact.REASON_REQUIRED,
                   Decimal("1153.00"), (rx,), (line,), mdtrt_id="2001668", drord_dr_codg=doctor)  # fmt: skip


RESULT = m.CheckResult(
    "J-1", "2025.06.1", date(2025, 6, 14), (alert("A1", "6374", "D430702000002"), alert("A2", "6372", ""))
)


def test_check_event_carries_alerts_and_their_practitioners() -> None:
    """Every alert with its line's practitioner, else the encounter's; the event's practitioner is the encounter's."""
    draft = check_event(parsed(), RESULT, IdentityMode("full"))
    assert ("check", "2001668", "D430702000001", None) == (draft.kind, draft.mdtrt_id, draft.practitioner_code,
                                                         draft.at)  # fmt: skip
    p = draft.payload
    expected_head = ("J-1", "2025.06.1", "2025-06-14", "4", "T1", "WS-12", "0301", "21")
    assert expected_head == (p["judgement_id"], p["kb_revision"], p["service_date"], p["trig_scen"], p["task_id"],
                             p["workstation_id"], p["dept_code"], p["med_type"])  # fmt: skip
    assert {
        "jr_id": "A1", "rule_id": "R1", "kp_id": "KP-1", "rule_class": "药品区分性别使用", "sev_deg": "2",
        "workflow_impact": "reason-required", "vola_amt": "1153.00", "rx_ids": ["6374"],
        "practitioner_code": "D430702000002",
    } == p["alerts"][0]  # fmt: skip
    assert "D430702000001" == p["alerts"][1]["practitioner_code"]
    json.dumps(p)  # JSON-ready as it is


@pytest.mark.parametrize(
    ("identity", "expected"),
    [
        (IdentityMode("full"), "1058158"),
        (IdentityMode("pseudonymised", SECRET), hmac.new(SECRET, b"1058158", hashlib.sha256).hexdigest()),
    ],
)
def test_patient_identity_as_the_bureau_requires(identity: IdentityMode, expected: str) -> None:
    """The id as sent, or its keyed hash; the name never leaves."""
    payload = check_event(parsed(), RESULT, identity).payload
    assert {"patn_id": expected, "identity": identity.mode} == payload["patient"]
    assert "张某某" not in json.dumps(payload, ensure_ascii=False)


def test_pseudonym_is_stable_and_keyed() -> None:
    """The same id gives the same pseudonym under one secret, another under another secret."""
    a, b = IdentityMode("pseudonymised", b"k1"), IdentityMode("pseudonymised", b"k2")
    assert a.patient_id("P1") == a.patient_id("P1") != b.patient_id("P1")
    with pytest.raises(ValueError, match="identity_secret_file"):
        IdentityMode("pseudonymised")


def test_decision_event_with_and_without_the_issued_alert() -> None:
    """The register's record adds encounter, practitioner and rule; without it they are empty."""
    decision = Decision("A1", "1", "患者知情同意", "1", "nhsa-3103", "2025-06-14T10:31:00")
    issued = IssuedAlert("A1", "J-1", "R1", "药品区分性别使用", "KP-1", "2001668", "D430702000002", ("6374",))
    draft = decision_event(decision, issued)
    assert ("decision", "2001668", "D430702000002") == (draft.kind, draft.mdtrt_id, draft.practitioner_code)
    assert ("1", "患者知情同意", "R1", ["6374"]) == (draft.payload["dspo_way"], draft.payload["dspo_way_rea"],
                                                draft.payload["rule_id"], draft.payload["rx_ids"])  # fmt: skip
    bare = decision_event(decision)
    assert ("", "", "") == (bare.mdtrt_id, bare.practitioner_code, bare.payload["rule_id"])


def test_dispense_and_return_events_only_when_something_settled() -> None:
    """An accepted sale and a done return are events (at their own time); a refusal, a repeat, a failed return
    are not."""
    sale = Sale("2001668", "6374", "XG02", (" 83857930000879766660 ",), Decimal(1), False, AT)
    ok = DispenseOutcome(True, (CodeOutcome("83857930000879766660", units=Decimal(1)),))
    draft = dispense_event(sale, ok)
    assert draft is not None
    assert ("dispense", "2001668", AT) == (draft.kind, draft.mdtrt_id, draft.at)
    assert (["83857930000879766660"], "1", False) == (draft.payload["codes"], draft.payload["cnt"],
                                                     draft.payload["trdn_flag"])  # fmt: skip
    assert dispense_event(sale, DispenseOutcome(False, reason="sold")) is None
    assert dispense_event(sale, DispenseOutcome(True, repeat=True)) is None
    back = return_event("2001668", "6374", AT, ReturnOutcome(True, ("83857930000879766660",)))
    assert back is not None
    assert ("return", ["83857930000879766660"], "0") == (back.kind, back.payload["codes"],
                                                         back.payload["nocode_units"])  # fmt: skip
    assert return_event("2001668", "6374", AT, ReturnOutcome(False, reason="not_dispensed")) is None


def test_unavailable_event_names_the_reason_and_no_patient() -> None:
    """A check given up on: encounter, doctor, reason, KB revision; no patient identity at all."""
    draft = unavailable_event(parsed(), "budget 300 ms exceeded", "2025.06.1")
    assert ("unavailable", "2001668", "D430702000001") == (draft.kind, draft.mdtrt_id, draft.practitioner_code)
    assert ("budget 300 ms exceeded", "2025.06.1") == (draft.payload["reason"], draft.payload["kb_revision"])
    assert "1058158" not in json.dumps(draft.payload)
