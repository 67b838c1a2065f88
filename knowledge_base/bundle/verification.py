"""Verify a bundle file before anything uses it: container, signature by a trusted key, manifest, hashes, payload.

`verify(fgkb, trusted)` checks, in this order, and raises `BundleRejected` with the reason at the first failure:

1. a readable zip holding only bundle members (`archive.unpack`: names, duplicates, sizes, CRCs);
2. a signature is present (`signature.json`) and well-formed;
3. its key id is one of the trusted keys;
4. the Ed25519 signature verifies over the exact bytes of `manifest.json`;
5. the manifest parses, is format 1, and names the same key as the signature;
6. the members are exactly the manifest, the signature and the kind's document (`bundle.json` or `delta.json`);
7. each member's SHA-256 matches the manifest's `files`;
8. the document parses and passes the quick structural check, and its revision (and a delta's base revision)
   equals the manifest's.

The signature is checked before the manifest is parsed: nothing an attacker wrote is interpreted before it is
known to come from a trusted key, and a damaged manifest is reported as what it is, a signature that fails.
`open_unverified` runs the same checks without 2–5 (the tools use it to sign, inspect, diff and build deltas).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .archive import MANIFEST_MEMBER, SIGNATURE_MEMBER, unpack
from .documents import check_bundle, check_delta, parse_object
from .errors import BundleRejected
from .manifest import FULL, Manifest, parse_manifest
from .signature import Signature, parse_signature

__all__ = ["OpenedBundle", "VerifiedBundle", "open_unverified", "verify"]


@dataclass(frozen=True, slots=True)
class VerifiedBundle:
    """A bundle file that passed every check: its manifest and its document (a full bundle or a delta)."""

    manifest: Manifest
    kind: str
    revision: int
    base_revision: int | None
    payload: dict[str, Any]
    document: bytes = b""  # the payload member's bytes as signed (bundle.json or delta.json)


@dataclass(frozen=True, slots=True)
class OpenedBundle:
    """A bundle file read and checked for integrity, but whose signature (if any) is not verified."""

    members: Mapping[str, bytes]
    manifest: Manifest
    signature: Signature | None
    payload: dict[str, Any]


def _check_members(members: Mapping[str, bytes], manifest: Manifest) -> None:
    document = manifest.payload_member
    if set(manifest.files) != {document}:
        listed = ", ".join(sorted(manifest.files)) or "nothing"
        raise BundleRejected(
            f"manifest.json: files must list {document} only in a {manifest.kind} bundle, not {listed}"
        )
    allowed = {MANIFEST_MEMBER, SIGNATURE_MEMBER, document}
    for name in sorted(members):
        if name not in allowed:
            raise BundleRejected(f"unexpected member {name!r} in a {manifest.kind} bundle")
    if document not in members:
        raise BundleRejected(f"missing member {document!r}")


def _check_hashes(members: Mapping[str, bytes], manifest: Manifest) -> None:
    for name, expected in sorted(manifest.files.items()):
        if hashlib.sha256(members[name]).hexdigest() != expected:
            raise BundleRejected(f"{name}: sha256 mismatch (the member is not the one the manifest names)")


def _payload(members: Mapping[str, bytes], manifest: Manifest, check_points: bool = True) -> dict[str, Any]:
    name = manifest.payload_member
    doc = parse_object(members[name], name)
    if manifest.kind == FULL:
        check_bundle(doc, name, points=check_points)
        if doc["format_version"] != manifest.bundle_format_version:
            raise BundleRejected(
                f"manifest bundle_format_version {manifest.bundle_format_version} but {name} "
                f"format_version {doc['format_version']}"
            )
    else:
        check_delta(doc, name)
        if doc["base_revision"] != manifest.base_revision:
            raise BundleRejected(
                f"manifest base_revision {manifest.base_revision} but {name} base_revision {doc['base_revision']}"
            )
    if doc["revision"] != manifest.revision:
        raise BundleRejected(f"manifest revision {manifest.revision} but {name} revision {doc['revision']}")
    return doc


def _contents(members: Mapping[str, bytes], manifest: Manifest, check_points: bool = True) -> dict[str, Any]:
    _check_members(members, manifest)
    _check_hashes(members, manifest)
    return _payload(members, manifest, check_points)


def verify(fgkb: bytes, trusted: Mapping[str, Ed25519PublicKey], *, check_points: bool = True) -> VerifiedBundle:
    """The verified bundle in `fgkb`; BundleRejected with the reason when any check fails (see the module doc).
    `check_points=False` skips the per-point pass of a full bundle's quick check, for a caller that validates every
    point itself (the agent's compile: ~70 ms of a 100k-point activation)."""
    members = unpack(fgkb)
    if SIGNATURE_MEMBER not in members:
        raise BundleRejected("no signature (signature.json missing): sign the bundle with `fundguard kb sign`")
    signature = parse_signature(members[SIGNATURE_MEMBER])
    key = trusted.get(signature.key_id)
    if key is None:
        raise BundleRejected(f"unknown key id {signature.key_id!r}: the signer's key is not among the trusted keys")
    try:
        key.verify(signature.sig, members[MANIFEST_MEMBER])
    except InvalidSignature:
        raise BundleRejected(
            f"signature does not verify with key {signature.key_id!r} (manifest.json altered or signed by another key)"
        ) from None
    manifest = parse_manifest(members[MANIFEST_MEMBER])
    if manifest.key_id != signature.key_id:
        raise BundleRejected(f"manifest.json names key {manifest.key_id!r} but the signature key {signature.key_id!r}")
    payload = _contents(members, manifest, check_points)
    document = members[manifest.payload_member]
    return VerifiedBundle(manifest, manifest.kind, manifest.revision, manifest.base_revision, payload, document)


def open_unverified(fgkb: bytes) -> OpenedBundle:
    """The bundle in `fgkb` checked for integrity (container, manifest, hashes, document), signature not verified."""
    members = unpack(fgkb)
    manifest = parse_manifest(members[MANIFEST_MEMBER])
    raw_signature = members.get(SIGNATURE_MEMBER)
    signature = parse_signature(raw_signature) if raw_signature is not None else None
    return OpenedBundle(members, manifest, signature, _contents(members, manifest))
