"""Builders of outbox events from what the agent does: pure functions, no I/O, no clock.

Each builder returns an `EventDraft` (kind, encounter, practitioner, JSON-ready payload); the recorder stamps it
with the time and hands it to the outbox. The payloads, by kind (the body of `fundguard.v1.Event.payload_json`):

- "check": `judgement_id`, `kb_revision`, `service_date`, `trig_scen`, `task_id`, `mdtrt_id`, `workstation_id`,
  `dept_code`, `med_type`, `dr_codg`, `patient` {`patn_id`, `identity`} and `alerts` [{`jr_id`, `rule_id`, `kp_id`,
  `rule_class`, `sev_deg`, `workflow_impact`, `vola_amt`, `rx_ids`, `practitioner_code`}]; an alert's practitioner
  is its line's `drord_dr_codg`, else the encounter's `dr_codg`. The event's practitioner is the encounter's.
- "decision" (3103): `jr_id`, `dspo_way`, `dspo_way_rea`, `warn_type`, `source`, `decided_at`, and from the issued
  alert (when known, else "") `judgement_id`, `rule_id`, `kp_id`, `rx_ids`, `workflow_impact`.
- "dispense" (3505, accepted, not a repeat): `mdtrt_id`, `rx_id`, `hilist_code`, `cnt`, `trdn_flag`, `codes`,
  `nocode_units`; "return" (3506, returned): `mdtrt_id`, `rx_id`, `codes`, `nocode_units`.
- "unavailable": `mdtrt_id`, `trig_scen`, `task_id`, `workstation_id`, `dept_code`, `dr_codg`, `reason`,
  `kb_revision`.

Patient identity leaves only in "check" events and only as the bureau requires (`IdentityMode`): the id as sent
("full") or its HMAC-SHA256 under the hospital's secret, hex ("pseudonymised": the same patient always gets the
same pseudonym, which cannot be reversed without the secret). Names never leave. Money and counts are decimal
strings, dates ISO.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from fundguard.agent.engine.model import Alert, CheckResult, Encounter
from fundguard.agent.feedback.issued import IssuedAlert
from fundguard.agent.feedback.store import Decision
from fundguard.agent.intake import ParsedRequest
from fundguard.agent.trace.settle import DispenseOutcome, ReturnOutcome, Sale

__all__ = [
    "EventDraft",
    "IdentityMode",
    "check_event",
    "decision_event",
    "dispense_event",
    "return_event",
    "unavailable_event",
]

CHECK = "check"
DECISION = "decision"
DISPENSE = "dispense"
RETURN = "return"
UNAVAILABLE = "unavailable"
KINDS = frozenset({CHECK, DECISION, DISPENSE, RETURN, UNAVAILABLE})


@dataclass(frozen=True, slots=True)
class EventDraft:
    """An event before the outbox numbers it: `at` is when it happened if the source says so (a sale's time),
    else None (the recorder's clock decides)."""

    kind: str
    mdtrt_id: str
    practitioner_code: str
    payload: Mapping[str, Any]
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class IdentityMode:
    """How patient ids go up: "full" as sent, "pseudonymised" as HMAC-SHA256 (hex) with `secret`."""

    mode: Literal["full", "pseudonymised"]
    secret: bytes = b""

    def __post_init__(self) -> None:
        if self.mode == "pseudonymised" and not self.secret:
            raise ValueError("identity_secret_file: pseudonymised identity needs a non-empty secret")

    def patient_id(self, patn_id: str) -> str:
        """The id as the bureau gets it ("" stays "")."""
        if self.mode == "full" or not patn_id:
            return patn_id
        return hmac.new(self.secret, patn_id.encode("utf-8"), hashlib.sha256).hexdigest()


def _alert(alert: Alert, encounter: Encounter) -> dict[str, Any]:
    return {
        "jr_id": alert.jr_id,
        "rule_id": alert.rule_id,
        "kp_id": alert.kp_id,
        "rule_class": alert.rule_class,
        "sev_deg": alert.sev_deg,
        "workflow_impact": str(alert.workflow_impact),
        "vola_amt": str(alert.vola_amt),
        "rx_ids": list(alert.rx_ids),
        "practitioner_code": alert.drord_dr_codg or encounter.dr_codg,
    }


def check_event(parsed: ParsedRequest, result: CheckResult, identity: IdentityMode) -> EventDraft:
    """A check with every alert it raised (none is still an event: the bureau counts checks)."""
    request = parsed.request
    enc = request.encounter
    payload = {
        "judgement_id": result.judgement_id,
        "kb_revision": result.kb_revision,
        "service_date": result.service_date.isoformat(),
        "trig_scen": request.trig_scen,
        "task_id": request.task_id,
        "mdtrt_id": enc.mdtrt_id,
        "workstation_id": parsed.workstation_id,
        "dept_code": parsed.dept_code,
        "med_type": enc.med_type,
        "dr_codg": enc.dr_codg,
        "patient": {"patn_id": identity.patient_id(request.patient.patn_id), "identity": identity.mode},
        "alerts": [_alert(a, enc) for a in result.alerts],
    }
    return EventDraft(CHECK, enc.mdtrt_id, enc.dr_codg, payload)


def decision_event(decision: Decision, issued: IssuedAlert | None = None, workflow_impact: str = "") -> EventDraft:
    """A clinician's decision on an alert; `issued` (the register's record of that alert) adds the encounter,
    practitioner and rule, `workflow_impact` what the alert asked (continuing past a "block" weighs more) —
    without them they are "" (the central can join on `jr_id`)."""
    payload: dict[str, Any] = {
        "jr_id": decision.jr_id,
        "dspo_way": decision.dspo_way,
        "dspo_way_rea": decision.dspo_way_rea,
        "warn_type": decision.warn_type,
        "source": decision.source,
        "decided_at": decision.decided_at,
        "judgement_id": issued.judgement_id if issued else "",
        "rule_id": issued.rule_id if issued else "",
        "kp_id": issued.kp_id if issued else "",
        "rx_ids": list(issued.rx_ids) if issued else [],
        "workflow_impact": workflow_impact,
    }
    return EventDraft(DECISION, issued.mdtrt_id if issued else "", issued.practitioner if issued else "", payload)


def dispense_event(sale: Sale, outcome: DispenseOutcome) -> EventDraft | None:
    """A settled 3505 sale line with its codes; None when nothing was settled (refused, or a repeat)."""
    if not outcome.accepted or outcome.repeat:
        return None
    payload = {
        "mdtrt_id": sale.mdtrt_id,
        "rx_id": sale.rx_id,
        "hilist_code": sale.hilist_code,
        "cnt": str(sale.cnt),
        "trdn_flag": sale.trdn_flag,
        "codes": [c.code for c in outcome.codes] if outcome.codes else [c.strip() for c in sale.codes],
        "nocode_units": str(outcome.nocode_units),
    }
    return EventDraft(DISPENSE, sale.mdtrt_id, "", payload, sale.at)


def return_event(mdtrt_id: str, rx_id: str, at: datetime, outcome: ReturnOutcome) -> EventDraft | None:
    """A 3506 return of a whole line (codes released); None when nothing was returned."""
    if not outcome.returned:
        return None
    payload = {
        "mdtrt_id": mdtrt_id,
        "rx_id": rx_id,
        "codes": list(outcome.codes),
        "nocode_units": str(outcome.nocode_units),
    }
    return EventDraft(RETURN, mdtrt_id, "", payload, at)


def unavailable_event(parsed: ParsedRequest, reason: str, kb_revision: str = "") -> EventDraft:
    """A check answered CHECK_UNAVAILABLE (budget or deadline): the settlement went on unchecked."""
    request = parsed.request
    enc = request.encounter
    payload = {
        "mdtrt_id": enc.mdtrt_id,
        "trig_scen": request.trig_scen,
        "task_id": request.task_id,
        "workstation_id": parsed.workstation_id,
        "dept_code": parsed.dept_code,
        "dr_codg": enc.dr_codg,
        "reason": reason,
        "kb_revision": kb_revision,
    }
    return EventDraft(UNAVAILABLE, enc.mdtrt_id, enc.dr_codg, payload)
