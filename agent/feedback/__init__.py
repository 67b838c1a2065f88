"""Clinicians' decisions on alerts (national 3103 semantics) and the register of issued alerts, kept on disk."""

from .fatigue import DecidedAlerts
from .issued import IssuedAlert, IssuedAlerts
from .store import Decision, DecisionStore, StoreResult

__all__ = ["DecidedAlerts", "Decision", "DecisionStore", "IssuedAlert", "IssuedAlerts", "StoreResult"]
