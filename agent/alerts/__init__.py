"""Alerts as clinicians see them: transport-neutral cards with their texts kept as data (`card_texts.json`)."""

from __future__ import annotations

from .cards import MAX_SUMMARY, Card, CardLine, OverrideReason, labels, override_reasons, render_card, summarize

__all__ = [
    "MAX_SUMMARY",
    "Card",
    "CardLine",
    "OverrideReason",
    "labels",
    "override_reasons",
    "render_card",
    "summarize",
]
