"""A small stored dataset for report tests: two institutions, three doctors, events of every kind, sanctions."""

from __future__ import annotations

from datetime import date

from fundguard.central.scoring import Scorer
from fundguard.central.store import Store

from .events import DOCTOR, INSTITUTION, OTHER_DOCTOR, OTHER_INSTITUTION, Today, batch, event

AS_OF = date(2026, 3, 15)
THIRD_DOCTOR = "D110108000003"
BLOCK = {"workflow_impact": "block"}
REASON = {"workflow_impact": "reason_required"}


def fill(store: Store) -> None:
    """H…01: DOCTOR 2 checks (3 alerts, one of them on OTHER_DOCTOR's line), an override and a modification;
    OTHER_DOCTOR a check and a dispense; an
    unavailable check naming nobody. H…02 (agent-2): DOCTOR a check with 1 alert. Sanctions: DOCTOR 9 points at H…01
    (suspended), THIRD_DOCTOR 2 points at H…02 (no events)."""
    first = [
        event(1, payload={"alerts": [BLOCK, REASON]}),
        event(2, payload={"alerts": [{**REASON, "practitioner_code": OTHER_DOCTOR}]}),
        event(3, "decision", payload={"dspo_way": "1", **BLOCK}),
        event(4, "decision", payload={"dspo_way": "2", **REASON}),
        event(5, practitioner=OTHER_DOCTOR, payload={"alerts": []}),
        event(6, "dispense", practitioner=OTHER_DOCTOR, payload={"drug_trac_codg": ["8" * 20]}),
        event(7, "unavailable", practitioner="", payload={"reason": "budget"}),
    ]
    store.store_events(batch(first))
    store.store_events(
        batch([event(1, agent="agent-2", payload={"alerts": [REASON]})], agent="agent-2", institution=OTHER_INSTITUTION)
    )
    scorer = Scorer(store, today=Today(AS_OF))
    scorer.apply_sanction(DOCTOR, points=9, at=date(2026, 3, 10), institution_code=INSTITUTION)
    scorer.apply_sanction(THIRD_DOCTOR, act="agreement_breach", at=date(2026, 2, 1), institution_code=OTHER_INSTITUTION)
