"""Offline installer for air-gapped intranet servers — not built yet (issue 10)."""
