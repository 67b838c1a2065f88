"""What the platform reads from event payloads: alerts per practitioner concerned, overrides, scorable behaviours;
other shapes count nothing."""

from __future__ import annotations

from typing import Any

import pytest

from fundguard.central.payloads import alerts_by_practitioner, behaviours, is_override

EVENT_DOCTOR = "D110108000001"
LINE_DOCTOR = "D110108000009"
BLOCK = {"workflow_impact": "block"}
REASON = {"workflow_impact": "reason_required"}
LINE_BLOCK = {"workflow_impact": "block", "practitioner_code": LINE_DOCTOR}


@pytest.mark.parametrize(
    ("kind", "payload", "expected"),
    [
        ("check", {"alerts": [BLOCK, REASON]}, ({EVENT_DOCTOR: 2}, False, [(EVENT_DOCTOR, "block_alert")])),
        (
            "check",
            {"alerts": [REASON, LINE_BLOCK]},
            ({EVENT_DOCTOR: 1, LINE_DOCTOR: 1}, False, [(LINE_DOCTOR, "block_alert")]),
        ),
        (
            "check",
            {"alerts": [BLOCK, {**BLOCK, "practitioner_code": ""}]},
            ({EVENT_DOCTOR: 2}, False, [(EVENT_DOCTOR, "block_alert")]),
        ),
        ("check", {"alerts": [REASON]}, ({EVENT_DOCTOR: 1}, False, [])),
        ("check", {"alerts": "two"}, ({}, False, [])),
        ("check", {"alerts": [3, "x"]}, ({}, False, [])),
        ("check", {}, ({}, False, [])),
        ("decision", {"dspo_way": "1", **BLOCK}, ({}, True, [(EVENT_DOCTOR, "continued_past_block")])),
        ("decision", {"dspo_way": 1, **REASON}, ({}, True, [(EVENT_DOCTOR, "continued_past_alert")])),
        ("decision", {"dspo_way": "2", **BLOCK}, ({}, False, [])),
        ("dispense", {"alerts": [BLOCK], "dspo_way": "1"}, ({}, False, [])),
    ],
)
def test_payload_reading(kind: str, payload: dict[str, Any], expected: tuple[dict[str, int], bool, list[Any]]) -> None:
    """Alerts by practitioner concerned, override flag and behaviours of each event shape."""
    actual = (
        dict(alerts_by_practitioner(kind, payload, EVENT_DOCTOR)),
        is_override(kind, payload),
        behaviours(kind, payload, EVENT_DOCTOR),
    )
    assert expected == actual
