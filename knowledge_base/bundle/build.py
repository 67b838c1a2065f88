"""Build unsigned bundle files: a full one from the importer's bundle.json, a delta from two full bundles.

The document goes in unchanged (a full bundle's `bundle.json` keeps its exact bytes) with a manifest describing
it; `sign` adds the signature. Inputs are checked with the same quick structural check `verify` applies, so a file
that builds also verifies once signed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from .archive import BUNDLE_MEMBER, DELTA_MEMBER, MANIFEST_MEMBER, MAX_MEMBER_BYTES, pack
from .delta import make_delta
from .documents import canonical_bytes, check_bundle, parse_object, rule_classes
from .errors import BundleRejected
from .manifest import DELTA, FULL, Manifest, effective_of, superseded_by
from .verification import open_unverified

__all__ = ["build_delta", "build_full", "is_bundle_file", "read_full"]

_ZIP_MAGIC = b"PK\x03\x04"


def is_bundle_file(data: bytes) -> bool:
    """True when `data` looks like a bundle file (a zip) rather than a bundle.json."""
    return data.startswith(_ZIP_MAGIC)


def read_full(data: bytes, name: str = "bundle") -> dict[str, Any]:
    """The full bundle document in `data`: a bundle file (integrity checked, signature not verified) or a
    bundle.json; BundleRejected naming `name` when it is neither, or is a delta."""
    if is_bundle_file(data):
        try:
            opened = open_unverified(data)
        except BundleRejected as exc:
            raise BundleRejected(f"{name}: {exc.reason}") from None
        if opened.manifest.kind != FULL:
            manifest = opened.manifest
            raise BundleRejected(
                f"{name}: a delta (revision {manifest.revision} on {manifest.base_revision}), not a full bundle"
            )
        return opened.payload
    doc = parse_object(data, name)
    check_bundle(doc, name)
    return doc


def _sized(member: str, raw: bytes) -> bytes:
    if len(raw) > MAX_MEMBER_BYTES[member]:
        raise BundleRejected(f"{member}: {len(raw)} bytes, more than the {MAX_MEMBER_BYTES[member]} a bundle may hold")
    return raw


def build_full(bundle_json: Path | bytes, issuer: str | None = None) -> bytes:
    """An unsigned full bundle file holding `bundle_json` byte for byte; the manifest's issuer is `issuer` when
    given (the publisher), else the bundle's. BundleRejected when the bundle fails the quick check."""
    raw = _sized(BUNDLE_MEMBER, bundle_json.read_bytes() if isinstance(bundle_json, Path) else bundle_json)
    doc = parse_object(raw, BUNDLE_MEMBER)
    check_bundle(doc, BUNDLE_MEMBER)
    points = doc["points"]
    manifest = Manifest(
        kind=FULL,
        revision=doc["revision"],
        base_revision=None,
        created_at=doc["created_at"],
        issuer=issuer or doc["issuer"],
        bundle_format_version=doc["format_version"],
        files={BUNDLE_MEMBER: hashlib.sha256(raw).hexdigest()},
        counts=rule_classes(points),
        effective=effective_of(points),
        supersedes=superseded_by(points),
    )
    return pack({MANIFEST_MEMBER: manifest.to_bytes(), BUNDLE_MEMBER: raw})


def build_delta(base: bytes, new: bytes, issuer: str | None = None) -> bytes:
    """An unsigned delta bundle file from full bundle `base` to full bundle `new` (each a bundle file or a
    bundle.json). Its manifest counts and dates describe the bundle the delta produces; `supersedes` lists only the
    points newly superseded in this revision."""
    old, doc = read_full(base, "base"), read_full(new, "new")
    raw = _sized(DELTA_MEMBER, canonical_bytes(make_delta(old, doc)))
    points = doc["points"]
    manifest = Manifest(
        kind=DELTA,
        revision=doc["revision"],
        base_revision=old["revision"],
        created_at=doc["created_at"],
        issuer=issuer or doc["issuer"],
        bundle_format_version=doc["format_version"],
        files={DELTA_MEMBER: hashlib.sha256(raw).hexdigest()},
        counts=rule_classes(points),
        effective=effective_of(points),
        supersedes=tuple(sorted(set(superseded_by(points)) - set(superseded_by(old["points"])))),
    )
    return pack({MANIFEST_MEMBER: manifest.to_bytes(), DELTA_MEMBER: raw})
