"""Alert cards: one transport-neutral card per alert, labelled in the caller's language (Chinese default, English).

A card is what a clinician sees of an alert, whatever carries it (CDS Hooks, a push channel, the HIS's own UI):
a `summary` within 139 characters (≤ 140 as the card spec asks, and < 140 as CDS Hooks asks), a plain-text /
markdown `detail` (the whole alert text, rule, knowledge point and its constraint when known, severity, amount at
risk, the order lines with their role, evidence), severity and workflow impact with their labels, the KB revision,
and the override reasons offered for the rule's class. Every label and reason comes from `card_texts.json` (see
`_texts`), never from code. The alert text itself (`vola_cont`) is written by the engine in the request's language;
`render_card` is pure: the texts were read at import.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from fundguard.agent.engine.model import Alert, WorkflowImpact
from fundguard.agent.engine.texts import resolve_locale

from ._texts import TEXTS

__all__ = [
    "MAX_SUMMARY",
    "REASON_CLASSES",
    "Card",
    "CardLine",
    "OverrideReason",
    "card_locale",
    "labels",
    "override_reasons",
    "render_card",
    "summarize",
]

MAX_SUMMARY = 139
ELLIPSIS = "…"
REASON_CLASSES = frozenset(TEXTS.reasons_by_class)  # rule classes with override reasons of their own
# where a summary may be cut (before the mark): sentence ends, else clause ends or an opening parenthesis; ASCII
# marks only before a space (not "3.5", "1,000")
_SENTENCE_ENDS = re.compile(r"[。！？；]|[.!?;](?=\s|$)")
_CLAUSE_ENDS = re.compile(r"[，、：（]|[,:](?=\s)|\s\(")
_SPACE = re.compile(r"\s+")


class CardLine(NamedTuple):
    """An order line the alert concerns, with its role label (违规项 / 涉及项)."""

    rx_id: str
    role: str


class OverrideReason(NamedTuple):
    """A reason a clinician may give to go on despite the alert: a stable code and its label."""

    code: str
    label: str


@dataclass(frozen=True, slots=True)
class Card:
    """One alert as shown to the clinician; `vola_amt` is a 2-place decimal string."""

    jr_id: str
    summary: str
    detail: str
    sev_deg: str
    sev_label: str
    workflow_impact: WorkflowImpact
    impact_label: str
    rule_id: str
    rule_name: str
    rule_class: str
    kp_id: str
    kb_revision: str
    vola_amt: str
    lines: tuple[CardLine, ...]
    override_reasons: tuple[OverrideReason, ...]


def card_locale(locale: str) -> str:
    """The text locale for a requested one (a request field or `Accept-Language` tag): "en" for any English tag,
    else "zh-CN"."""
    return resolve_locale(locale)


def labels(locale: str) -> Mapping[str, Mapping[str, str]]:
    """The label groups of `locale` (sev_deg, workflow_impact, role, detail, cds), read-only."""
    return TEXTS.labels[card_locale(locale)]


def override_reasons(rule_class: str, locale: str) -> tuple[OverrideReason, ...]:
    """The override reasons offered for `rule_class` (the default list for a class without its own)."""
    lang = card_locale(locale)
    codes = TEXTS.reasons_by_class.get(rule_class, TEXTS.default_reasons)
    return tuple(OverrideReason(code, TEXTS.reasons[code][lang]) for code in codes)


def _last_cut(pattern: re.Pattern[str], text: str, budget: int) -> int:
    """The start of the last mark of `pattern` that leaves a non-empty head within `budget` characters, else 0."""
    cut = 0
    for mark in pattern.finditer(text):
        if mark.start() > budget:
            break
        if text[: mark.start()].strip():
            cut = mark.start()
    return cut


def summarize(text: str, limit: int = MAX_SUMMARY) -> str:
    """`text` on one line when it fits in `limit` characters; else cut, with an ellipsis, at the last sentence end
    that fits, or at the last clause end when that keeps more and the sentence would keep under half the room,
    else anywhere: the result is at most `limit` characters."""
    flat = _SPACE.sub(" ", text).strip()
    if len(flat) <= limit:
        return flat
    budget = limit - len(ELLIPSIS)
    cut = _last_cut(_SENTENCE_ENDS, flat, budget)
    if cut < budget // 2:
        cut = max(cut, _last_cut(_CLAUSE_ENDS, flat, budget))
    return flat[: cut or budget].rstrip() + ELLIPSIS


def _detail(alert: Alert, group: Mapping[str, str], *, sev: str, impact: str, amount: str,
            lines: tuple[CardLine, ...], constraint: str) -> str:  # fmt: skip
    kp = group["kp_constraint"].format(kp_id=alert.kp_id, constraint=constraint) if constraint else alert.kp_id
    rows = [
        f"- {group['rule']}: {alert.rule_name} ({alert.rule_id})",
        f"- {group['kp']}: {kp}",
        f"- {group['severity']}: " + group["severity_value"].format(sev_label=sev, impact_label=impact),
        f"- {group['amount']}: {amount}",
    ]
    if lines:
        rows.append(f"- {group['lines']}: " + ", ".join(f"{line.rx_id} ({line.role})" for line in lines))
    if alert.vola_evid.strip():
        rows.append(f"- {group['evidence']}: {alert.vola_evid.strip()}")
    text = alert.vola_cont.strip()
    return "\n".join(rows) if not text else f"{text}\n\n" + "\n".join(rows)


def render_card(alert: Alert, kb_revision: str, locale: str, *, constraint: str = "") -> Card:
    """The card of `alert`, labelled in `locale` (unknown → zh-CN); `constraint` is the knowledge point's
    限定 text when the caller has the KB at hand (shown next to the kp_id in the detail)."""
    group = labels(locale)
    sev_label = group["sev_deg"].get(alert.sev_deg, alert.sev_deg)
    impact_label = group["workflow_impact"].get(alert.workflow_impact.value, alert.workflow_impact.value)
    lines = tuple(CardLine(ln.rx_id, group["role"].get(ln.vola_item_type, ln.vola_item_type)) for ln in alert.lines)
    amount = f"{alert.vola_amt:.2f}"
    return Card(
        jr_id=alert.jr_id,
        summary=summarize(alert.vola_cont) or summarize(alert.rule_name or alert.rule_id),
        detail=_detail(
            alert,
            group["detail"],
            sev=sev_label,
            impact=impact_label,
            amount=amount,
            lines=lines,
            constraint=constraint.strip(),
        ),
        sev_deg=alert.sev_deg,
        sev_label=sev_label,
        workflow_impact=alert.workflow_impact,
        impact_label=impact_label,
        rule_id=alert.rule_id,
        rule_name=alert.rule_name,
        rule_class=alert.rule_class,
        kp_id=alert.kp_id,
        kb_revision=kb_revision,
        vola_amt=amount,
        lines=lines,
        override_reasons=override_reasons(alert.rule_class, locale),
    )
