"""Knowledge-base lifecycle on the agent side: load a bundle file, compile it aside, swap it in atomically."""

from __future__ import annotations

from .store import KbStore, load_bundle_file

__all__ = ["KbStore", "load_bundle_file"]
