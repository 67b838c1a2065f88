"""What the platform reads inside event payloads (`Event.payload_json`), in one place.

The agent documents each kind's fields (`agent/uplink/events.py`); the platform stores payloads as sent and reads
only these, tolerating any other shape (an unknown shape counts as nothing, never an error):
- `check`: `alerts` — a list of objects with `workflow_impact` ("block", "reason_required", …) and
  `practitioner_code` (the practitioner the alert concerns: its line's `drord_dr_codg`; when absent or empty, the
  event's practitioner);
- `decision`: `dspo_way` — 3103's "1" continue (an override) / "2" modify; `workflow_impact` of the alert decided
  (the event's practitioner is the alert's).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

__all__ = ["alerts_by_practitioner", "behaviours", "is_override"]

BLOCK = "block"
CONTINUE = "1"  # 3103 dspo_way: continue despite the alert


def _alerts(kind: str, payload: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    alerts = payload.get("alerts") if kind == "check" else None
    return [a for a in alerts if isinstance(a, Mapping)] if isinstance(alerts, list) else []


def _concerns(alert: Mapping[str, Any], practitioner: str) -> str:
    code = alert.get("practitioner_code")
    return code if isinstance(code, str) and code else practitioner


def alerts_by_practitioner(kind: str, payload: Mapping[str, Any], practitioner: str) -> Counter[str]:
    """A check event's alerts counted by the practitioner each concerns (empty for other kinds)."""
    return Counter(_concerns(alert, practitioner) for alert in _alerts(kind, payload))


def is_override(kind: str, payload: Mapping[str, Any]) -> bool:
    """True for a clinician's decision to continue past an alert."""
    return kind == "decision" and str(payload.get("dspo_way", "")) == CONTINUE


def behaviours(kind: str, payload: Mapping[str, Any], practitioner: str) -> list[tuple[str, str]]:
    """The scorable behaviours an event shows, as (practitioner code, behaviour name in `points.BEHAVIOURS`): an
    override of a block alert or of another alert; a check with block alerts, once per practitioner concerned."""
    if is_override(kind, payload):
        return [
            (
                practitioner,
                "continued_past_block" if payload.get("workflow_impact") == BLOCK else "continued_past_alert",
            )
        ]
    blocked = dict.fromkeys(
        _concerns(a, practitioner) for a in _alerts(kind, payload) if a.get("workflow_impact") == BLOCK
    )
    return [(code, "block_alert") for code in blocked]
