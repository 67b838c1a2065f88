"""Tests of the alert cards (agent/alerts)."""
