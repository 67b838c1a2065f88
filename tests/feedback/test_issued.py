"""The register of issued alerts: known at once, on disk in the background, still known after a restart."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from fundguard.agent.engine.model import (
    Alert,
    AlertLine,
    CheckRequest,
    CheckResult,
    Encounter,
    OrderLine,
    Patient,
    WorkflowImpact,
)
from fundguard.agent.feedback import Decision, DecisionStore, IssuedAlert, IssuedAlerts, StoreResult
from fundguard.agent.feedback.fatigue import fingerprint
from fundguard.agent.intake import ParsedRequest

LINE = OrderLine("6374", "XG02BAZ061Z007010279543", Decimal(1), Decimal(1153))
PARSED = ParsedRequest(CheckRequest("4", Patient("P", "1", date(1951, 8, 27)), Encounter("E-1", orders=(LINE,))), None)


def result(*jr_ids: str) -> CheckResult:
    alerts = tuple(
        Alert(jr_id, "GZ10000301004000", "药品区分性别使用", "药品区分性别使用", "KP-1", "text", "2",
              WorkflowImpact.REASON_REQUIRED, Decimal("1.00"), ("6374", "6375"),
              (AlertLine("6374", "1", Decimal("1.00")),), "", "E-1", "D123")
        for jr_id in jr_ids
    )  # fmt: skip
    return CheckResult("J", "1", date(2026, 11, 1), alerts)


def test_recorded_alerts_are_known_now_and_after_reopening(tmp_path: Path) -> None:
    """Known from memory at once; after close and reopen, known from disk with what was kept."""
    path = tmp_path / "agent.sqlite3"
    issued = IssuedAlerts(path)
    issued.record(PARSED, result("J-001", "J-002"))
    issued.record(PARSED, result())
    known_now = (issued.known("J-001"), issued.known("J-404"))
    issued.close()
    reopened = IssuedAlerts(path)
    printed = fingerprint(result("J-002").alerts[0], {"6374": LINE})
    expected = ((True, False), IssuedAlert("J-002", "J", "GZ10000301004000", "药品区分性别使用", "KP-1", "E-1",
                                           "D123", ("6374", "6375"), printed), 0)  # fmt: skip
    assert expected == (known_now, reopened.get("J-002"), reopened.pending)
    reopened.close()


def test_decision_store_refuses_unknown_jr_ids_with_a_register(tmp_path: Path) -> None:
    """unknown() gives the positions of unknown jr_ids; record() stores the known ones only."""
    path = tmp_path / "agent.sqlite3"
    issued = IssuedAlerts(path)
    issued.record(PARSED, result("J-001"))
    store = DecisionStore(path, issued)
    decisions = [Decision("J-404", "2", "", "1", "t", "T"), Decision("J-001", "2", "", "1", "t", "T")]
    expected = ([0], [StoreResult.UNKNOWN, StoreResult.STORED], 1)
    assert expected == (store.unknown(decisions), store.record(decisions), store.count())
    store.close()
    issued.close()


def test_override_rates_per_rule_and_practitioner(tmp_path: Path) -> None:
    """Of the decided alerts, the share continued (dspo_way 1), grouped by rule and by the practitioner."""
    path = tmp_path / "agent.sqlite3"
    issued = IssuedAlerts(path)
    issued.record(PARSED, result("J-1", "J-2", "J-3"))
    issued.flush()
    store = DecisionStore(path, issued)
    store.record([Decision("J-1", "1", "临床必需", "1", "t", "T"), Decision("J-2", "2", "", "1", "t", "T"),
                  Decision("J-3", "1", "知情同意", "1", "t", "T")])  # fmt: skip
    row = {"decided": 3, "overridden": 2, "override_rate": 0.6667}
    expected = {"by_rule": [{"key": "GZ10000301004000", **row}], "by_practitioner": [{"key": "D123", **row}]}
    assert expected == store.override_rates()
    store.close()
    issued.close()
