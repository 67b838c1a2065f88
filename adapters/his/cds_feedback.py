"""CDS Hooks feedback POST → clinician decisions: translation only, no sockets, no clock.

`POST /cds-services/{id}/feedback`, the CDS Hooks counterpart of `nhsa_feedback` (the national 3103). Input
`feedback[]`, each with `card` (the uuid of a card `cds_hooks.encode` gave, i.e. the alert's `jr_id`), `outcome` and
`outcomeTimestamp` (else the time received). `overridden` → dspo_way "1" (继续执行医嘱) with the reason: "display
(code)" of `overrideReason.reason` and its `userComment`, one of them required; `accepted` → dspo_way "2"
(返回修改医嘱). Decisions are 事前 (warn_type "1"). Errors name the feedback path (`feedback[1].overrideReason`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fundguard.agent.engine.errors import InvalidField
from fundguard.agent.feedback import Decision

from ._cds_fhir import as_object, as_string, load

__all__ = ["MAX_REASON", "decode_feedback"]

WARN_TYPE = "1"  # 事前: decisions taken at ordering time
MAX_REASON = 500  # the national dspo_way_rea is C500


def _reason(item: Mapping[str, Any], where: str) -> str:
    """An override's "display (code): comment"; InvalidField when it has neither a reason nor a comment."""
    at = f"{where}.overrideReason"
    override = as_object(item.get("overrideReason") or {}, at)
    coding = as_object(override.get("reason") or {}, f"{at}.reason")
    code, display = (as_string(coding.get(key), f"{at}.reason.{key}") for key in ("code", "display"))
    reason = f"{display} ({code})" if display and code and display != code else display or code
    text = ": ".join(part for part in (reason, as_string(override.get("userComment"), f"{at}.userComment")) if part)
    if not text:
        raise InvalidField("is required when the outcome is overridden (why the order goes ahead)", at)
    if len(text) > MAX_REASON:
        raise InvalidField(f"is longer than {MAX_REASON} characters with its reason", f"{at}.userComment")
    return text


def decode_feedback(doc: Mapping[str, Any] | bytes | str, *, received: datetime) -> list[Decision]:
    """The decisions of a feedback POST (`decided_at` = outcomeTimestamp, else `received`), or InvalidField."""
    obj = load(doc) if isinstance(doc, bytes | str) else as_object(doc, "")
    items = obj.get("feedback")
    if not isinstance(items, list) or not items:
        raise InvalidField("is required (a list of card outcomes)", "feedback")
    out: list[Decision] = []
    for n, raw in enumerate(items):
        where = f"feedback[{n}]"
        item = as_object(raw, where)
        card = as_string(item.get("card"), f"{where}.card", required=True)
        if len(card) > 50:
            raise InvalidField("is longer than 50 characters (not a card of this service)", f"{where}.card")
        outcome = as_string(item.get("outcome"), f"{where}.outcome", required=True)
        if outcome not in ("accepted", "overridden"):
            raise InvalidField("must be accepted or overridden", f"{where}.outcome")
        stamp = as_string(item.get("outcomeTimestamp"), f"{where}.outcomeTimestamp")
        try:
            decided = datetime.fromisoformat(stamp) if stamp else received
        except ValueError:
            raise InvalidField("not an ISO timestamp", f"{where}.outcomeTimestamp") from None
        way, reason = ("1", _reason(item, where)) if outcome == "overridden" else ("2", "")
        out.append(Decision(card, way, reason, WARN_TYPE, "cds-hooks", decided.isoformat()))
    return out
