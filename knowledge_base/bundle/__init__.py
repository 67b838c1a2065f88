"""Signed, versioned KB bundle files (".fgkb"): build, sign, verify, apply deltas, diff and inspect them.

A bundle file is a deterministic zip holding `manifest.json` (signed), `signature.json` (Ed25519 over the
manifest's bytes) and the document: the importer's `bundle.json` (full) or a `delta.json` from a base revision.
The formats are documented where they are made: `manifest.py`, `signature.py`, `delta.py`, `archive.py`;
`fundguard kb build|sign|verify|diff|inspect|keygen` are the tools (`commands.py`). The agent activates only what
`verify` accepts.
"""

from __future__ import annotations

from .build import build_delta, build_full, read_full
from .comparison import BundleDiff, ClassDiff, diff
from .delta import apply_delta
from .errors import BundleRejected
from .inspection import inspect
from .keys import generate_key_pair, load_trusted_keys
from .manifest import Effective, Manifest
from .signing import sign
from .verification import VerifiedBundle, verify

__all__ = [
    "BundleDiff",
    "BundleRejected",
    "ClassDiff",
    "Effective",
    "Manifest",
    "VerifiedBundle",
    "apply_delta",
    "build_delta",
    "build_full",
    "diff",
    "generate_key_pair",
    "inspect",
    "load_trusted_keys",
    "read_full",
    "sign",
    "verify",
]
