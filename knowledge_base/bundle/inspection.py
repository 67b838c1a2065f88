"""Describe a bundle file for people: its manifest and counts, whether its members match, who signed it.

Without trusted keys the signature is reported, not judged ("signed by key 'x', not verified"); with them, the
verdict is `verify`'s. A file whose manifest cannot be read at all is a `BundleRejected`; anything past that (a
damaged member, a bad signature) is reported in the answer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .archive import MANIFEST_MEMBER, SIGNATURE_MEMBER, unpack
from .errors import BundleRejected
from .manifest import FULL, parse_manifest
from .signature import parse_signature
from .verification import open_unverified, verify

__all__ = ["inspect"]


def _signature(members: Mapping[str, bytes], fgkb: bytes, trusted: Mapping[str, Ed25519PublicKey] | None) -> Any:
    raw = members.get(SIGNATURE_MEMBER)
    if raw is None:
        return {"status": "unsigned", "key_id": None}
    try:
        key_id = parse_signature(raw).key_id
    except BundleRejected as exc:
        return {"status": f"malformed: {exc.reason}", "key_id": None}
    if trusted is None:
        return {"status": f"signed by key {key_id!r}, not verified (no trusted keys given)", "key_id": key_id}
    try:
        verify(fgkb, trusted)
    except BundleRejected as exc:
        return {"status": f"rejected: {exc.reason}", "key_id": key_id}
    return {"status": f"verified with key {key_id!r}", "key_id": key_id}


def _content(payload: Mapping[str, Any], kind: str) -> dict[str, Any]:
    if kind == FULL:
        return {
            "points": len(payload["points"]),
            "not_compiled": len(payload.get("not_compiled") or []),
            "rules": len(payload["rules"]),
            "parameters": len(payload["parameters"]),
        }
    return {
        "added": len(payload["added"]),
        "changed": len(payload["changed"]),
        "withdrawn": len(payload["withdrawn"]),
        "replaces": [key for key in ("rules", "parameters", "source", "not_compiled") if key in payload],
    }


def inspect(fgkb: bytes, trusted: Mapping[str, Ed25519PublicKey] | None = None) -> dict[str, Any]:
    """The manifest, content counts, member integrity and signature status of bundle file `fgkb` (JSON-ready)."""
    members = unpack(fgkb)
    manifest = parse_manifest(members[MANIFEST_MEMBER])
    try:
        payload: Mapping[str, Any] | None = open_unverified(fgkb).payload
        integrity = "ok: every member matches the manifest"
    except BundleRejected as exc:
        payload, integrity = None, exc.reason
    return {
        "file": {"bytes": len(fgkb), "sha256": hashlib.sha256(fgkb).hexdigest(), "members": sorted(members)},
        "manifest": manifest.to_json(),
        "integrity": integrity,
        "signature": _signature(members, fgkb, trusted),
        "content": _content(payload, manifest.kind) if payload is not None else None,
    }
