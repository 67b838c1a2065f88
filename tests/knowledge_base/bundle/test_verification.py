"""verify: a good bundle file verifies; each way of spoiling one is refused with its own reason — a flipped byte
in bundle.json or in manifest.json, an untrusted key, no signature, a truncated or non-zip file, a member added or
missing, a manifest that does not match its document."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from fundguard.agent.engine import build_index
from fundguard.knowledge_base.bundle import BundleRejected, build_full, verify
from fundguard.knowledge_base.bundle.archive import pack, unpack
from fundguard.knowledge_base.bundle.keys import load_private_key
from fundguard.knowledge_base.bundle.manifest import parse_manifest
from fundguard.knowledge_base.bundle.signature import Signature

from .conftest import Signer, flipped, member, rezip


def test_a_good_bundle_verifies_and_its_document_compiles(signer: Signer, signed: bytes, default_raw: bytes) -> None:
    """Kind, revision and manifest come back with the bundle document, which the engine compiles."""
    verified = verify(signed, signer.trusted)
    assert ("full", 1, None, json.loads(default_raw)) == (
        verified.kind,
        verified.revision,
        verified.base_revision,
        verified.payload,
    )
    assert signer.key_id == verified.manifest.key_id
    assert "1" == build_index(verified.payload).revision


def _resigned_manifest(signer: Signer, signed: bytes, **changes: object) -> bytes:
    """The file with manifest fields changed and properly re-signed (so only the later checks can catch it)."""
    members = unpack(signed)
    doc = json.loads(members["manifest.json"]) | changes
    raw = json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    members["manifest.json"] = raw
    members["signature.json"] = Signature(signer.key_id, load_private_key(signer.private_pem).sign(raw)).to_bytes()
    return pack(members)


Spoil = Callable[[bytes, Signer, Signer, bytes], bytes]
CASES: list[tuple[str, Spoil, str]] = [
    ("flipped-bundle-byte", lambda s, me, other, raw: flipped(s, "bundle.json"), "bundle.json: sha256 mismatch"),
    (
        "flipped-manifest-byte",
        lambda s, me, other, raw: flipped(s, "manifest.json"),
        "signature does not verify with key 'bureau-2026'",
    ),
    ("untrusted-key", lambda s, me, other, raw: other.sign(build_full(raw)), "unknown key id 'someone-else'"),
    ("no-signature", lambda s, me, other, raw: rezip(s, {"signature.json": None}), "no signature"),
    ("unsigned-build", lambda s, me, other, raw: build_full(raw), "no signature"),
    ("truncated", lambda s, me, other, raw: s[: len(s) // 2], "not a zip file"),
    ("not-a-zip", lambda s, me, other, raw: raw, "not a zip file"),
    ("empty", lambda s, me, other, raw: b"", "not a zip file"),
    ("member-added", lambda s, me, other, raw: rezip(s, {"README.txt": b"hi"}), "unexpected member 'README.txt'"),
    (
        "delta-member-added",
        lambda s, me, other, raw: rezip(s, {"delta.json": b"{}"}),
        "unexpected member 'delta.json' in a full bundle",
    ),
    ("member-missing", lambda s, me, other, raw: rezip(s, {"bundle.json": None}), "missing member 'bundle.json'"),
    ("manifest-missing", lambda s, me, other, raw: rezip(s, {"manifest.json": None}), "missing member 'manifest.json'"),
    (
        "signature-garbled",
        lambda s, me, other, raw: rezip(s, {"signature.json": b"{"}),
        "signature.json: not JSON",
    ),
    (
        "signature-swapped",
        lambda s, me, other, raw: rezip(s, {"signature.json": member(me.sign(build_full(raw, "x")), "signature.json")}),
        "signature does not verify with key 'bureau-2026'",
    ),
    (
        "revision-mismatch",
        lambda s, me, other, raw: _resigned_manifest(me, s, revision=7),
        "manifest revision 7 but bundle.json revision 1",
    ),
    (
        "key-id-mismatch",
        lambda s, me, other, raw: _resigned_manifest(me, s, key_id="other"),
        "manifest.json names key 'other' but the signature key 'bureau-2026'",
    ),
    (
        "files-list-wrong",
        lambda s, me, other, raw: _resigned_manifest(me, s, files={}),
        "files must list bundle.json only in a full bundle",
    ),
    (
        "format-version",
        lambda s, me, other, raw: _resigned_manifest(me, s, format_version=2),
        "manifest.json: format_version 2 is not supported",
    ),
]


@pytest.mark.parametrize("case", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_spoiled_bundle_is_refused_with_its_reason(
    signer: Signer, stranger: Signer, signed: bytes, default_raw: bytes, case: tuple[Spoil, str]
) -> None:
    """Each spoiled file is a BundleRejected whose reason says what is wrong."""
    spoil, reason = case
    with pytest.raises(BundleRejected) as refused:
        verify(spoil(signed, signer, stranger, default_raw), signer.trusted)
    assert reason in refused.value.reason


def test_nothing_verifies_without_trusted_keys(signed: bytes) -> None:
    """An empty trust list refuses every bundle."""
    with pytest.raises(BundleRejected, match="unknown key id 'bureau-2026'"):
        verify(signed, {})


def test_the_manifest_is_checked_against_its_document_after_the_signature(signer: Signer, signed: bytes) -> None:
    """A manifest revision re-signed to another value is caught by the document check, not trusted blindly."""
    spoiled = _resigned_manifest(signer, signed, revision=2)
    assert 2 == parse_manifest(member(spoiled, "manifest.json")).revision
    with pytest.raises(BundleRejected, match=r"manifest revision 2 but bundle\.json revision 1"):
        verify(spoiled, signer.trusted)
