"""Reference central platform (ingest, practitioner scoring, status and KB push) — not built yet (issue 8)."""
