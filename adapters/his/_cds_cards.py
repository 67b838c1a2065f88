"""CDS Hooks card rendering: one card per alert, in the request's language (zh-CN, en).

The texts come from the shared alert card (`agent.alerts.render_card`, its labels and override reasons kept as data
in `agent/alerts/card_texts.json`): `summary` (the alert text within 139 characters, cut on a sentence or clause
boundary), `detail` (the whole text with the rule, knowledge point, severity, amount, order lines and evidence) and
the override reasons offered for the rule's class. This module adds what is CDS Hooks' own: an indicator from the
workflow impact (block → critical, reason-required → warning, info → info), the rule as `source.topic`, the alert
ids as `extension.fundguard`, and, unless the alert is info-only, a `delete` suggestion for each violating draft.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fundguard.agent.alerts import labels
from fundguard.agent.alerts import render_card as render_alert_card
from fundguard.agent.engine.model import Alert, WorkflowImpact

if TYPE_CHECKING:
    from .cds_hooks import HookRequest

__all__ = ["OVERRIDE_SYSTEM", "RULE_SYSTEM", "render_card"]

RULE_SYSTEM = "http://nhsa.gov.cn/fhir/rule"  # card.source.topic: the smart-supervision rule
OVERRIDE_SYSTEM = "urn:fundguard:cds:override-reason"
_INDICATORS = {WorkflowImpact.BLOCK: "critical", WorkflowImpact.REASON_REQUIRED: "warning", WorkflowImpact.INFO: "info"}


def _suggestions(alert: Alert, request: HookRequest, texts: Mapping[str, str]) -> list[dict[str, Any]]:
    """For block / reason-required alerts: remove each violating draft order."""
    if alert.workflow_impact == WorkflowImpact.INFO:
        return []
    names = {o.rx_id: o.hilist_name for o in request.parsed.request.encounter.orders}
    out: list[dict[str, Any]] = []
    for line in alert.lines:
        ref = request.drafts.get(line.rx_id)
        if line.vola_item_type != "1" or ref is None:
            continue
        action = {"type": "delete", "description": texts["delete_why"].format(ref=ref), "resourceId": ref}
        out.append({"label": texts["delete"].format(item=names.get(line.rx_id) or ref),
                    "uuid": f"{alert.jr_id}-delete-{len(out) + 1}", "actions": [action]})  # fmt: skip
    return out


def render_card(alert: Alert, request: HookRequest) -> dict[str, Any]:
    """The CDS Hooks card of one alert: uuid = jr_id (so feedback names the alert), summary, detail, overrides."""
    shared = render_alert_card(alert, "", request.locale)  # the KB revision is not part of the CDS card
    cds = labels(request.locale)["cds"]
    card: dict[str, Any] = {
        "uuid": alert.jr_id,
        "summary": shared.summary,
        "indicator": _INDICATORS[alert.workflow_impact],
        "detail": shared.detail,
        "source": {"label": cds["source"],
                   "topic": {"system": RULE_SYSTEM, "code": alert.rule_id, "display": alert.rule_name}},
        "overrideReasons": [{"system": OVERRIDE_SYSTEM, "code": reason.code, "display": reason.label}
                            for reason in shared.override_reasons],
    }  # fmt: skip
    # machine-readable alert fields for the EHR (CDS Hooks `extension`): the same ids every transport answers
    card["extension"] = {"fundguard": {
        "jr_id": alert.jr_id, "rule_id": alert.rule_id, "kp_id": alert.kp_id, "sev_deg": alert.sev_deg,
        "workflow_impact": alert.workflow_impact.value, "rx_ids": list(alert.rx_ids), "vola_amt": shared.vola_amt,
    }}  # fmt: skip
    suggestions = _suggestions(alert, request, cds)
    if suggestions:
        card["suggestions"] = suggestions
        card["selectionBehavior"] = "any"
    return card


def unavailable_card(reason: str, locale: str, card_id: str) -> dict[str, Any]:
    """The one card answering a hook whose check did not finish in time: never an empty (compliant-looking) list."""
    cds = labels(locale)["cds"]
    return {
        "uuid": card_id,
        "summary": cds["unavailable"],
        "indicator": "warning",
        "detail": cds["unavailable_detail"].format(reason=reason),
        "source": {"label": cds["source"]},
        "extension": {"fundguard": {"status": "CHECK_UNAVAILABLE", "status_reason": reason}},
    }
