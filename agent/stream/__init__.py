"""The agent's alert stream: every alert raised, by any transport, to the consoles that follow it."""

from .bus import AlertBus, AlertEvent, AlertFilter

__all__ = ["AlertBus", "AlertEvent", "AlertFilter"]
