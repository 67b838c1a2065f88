"""Knowledge-base bundles: the format (README.md), the importer, and the embedded default bundle."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["default_bundle_path"]


def default_bundle_path() -> Path:
    """Path of the embedded default bundle built from the NHSA published knowledge points."""
    return Path(str(resources.files(__name__).joinpath("default", "bundle.json")))
