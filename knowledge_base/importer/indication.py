"""Map 药品限适应症 indication text to ICD-10 医保版 diagnosis-code prefixes (work in progress)."""

from __future__ import annotations

__all__ = ["derive_indication"]


def derive_indication(constraint: str, item_name: str) -> tuple[list[str], str | None]:
    """Return (sorted ICD-10 prefixes of acceptable diagnoses, condition the clinician must confirm or None)."""
    del item_name
    return [], constraint
