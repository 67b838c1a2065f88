"""Clinicians' decisions on alerts (national 3103 semantics), kept durably on disk."""

from .store import Decision, DecisionStore, StoreResult

__all__ = ["Decision", "DecisionStore", "StoreResult"]
