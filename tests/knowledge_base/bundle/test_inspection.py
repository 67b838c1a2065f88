"""inspect: manifest, content counts, integrity and signature status — "unsigned", "signed by key X, not
verified" without trusted keys, verified or rejected with them; a damaged member is reported, not raised."""

from __future__ import annotations

import hashlib

import pytest

from fundguard.knowledge_base.bundle import BundleRejected, inspect

from .conftest import Signer, flipped


def test_an_unsigned_bundle(unsigned: bytes) -> None:
    """Manifest, file facts and content counts; signature "unsigned"."""
    report = inspect(unsigned)
    assert ("unsigned", "ok: every member matches the manifest") == (report["signature"]["status"], report["integrity"])
    assert (hashlib.sha256(unsigned).hexdigest(), ["bundle.json", "manifest.json"]) == (
        report["file"]["sha256"],
        report["file"]["members"],
    )
    assert ({"points": 3898, "not_compiled": 1, "rules": 21}, "full") == (
        {k: report["content"][k] for k in ("points", "not_compiled", "rules")},
        report["manifest"]["kind"],
    )


def test_signed_but_not_verified_without_trusted_keys(signed: bytes) -> None:
    """Without keys the signer is named, not judged."""
    assert "signed by key 'bureau-2026', not verified (no trusted keys given)" == inspect(signed)["signature"]["status"]


def test_verified_or_rejected_with_trusted_keys(signed: bytes, signer: Signer, stranger: Signer) -> None:
    """With keys, verify's verdict."""
    assert "verified with key 'bureau-2026'" == inspect(signed, signer.trusted)["signature"]["status"]
    assert inspect(signed, stranger.trusted)["signature"]["status"].startswith("rejected: unknown key id")


def test_a_damaged_member_is_reported(signed: bytes) -> None:
    """A flipped byte in bundle.json: integrity names it, content is unknown."""
    report = inspect(flipped(signed, "bundle.json"))
    assert (None, True) == (report["content"], report["integrity"].startswith("bundle.json: sha256 mismatch"))


def test_a_file_that_is_not_a_bundle_raises() -> None:
    """Without a readable manifest there is nothing to describe."""
    with pytest.raises(BundleRejected, match="not a zip file"):
        inspect(b"hello")
