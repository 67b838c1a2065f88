"""Signing: the manifest names the key, signature.json holds an Ed25519 signature over the manifest's exact bytes;
re-signing replaces the signature; a damaged file or a bad key is never signed."""

from __future__ import annotations

import json

import pytest

from fundguard.knowledge_base.bundle import BundleRejected, sign, verify
from fundguard.knowledge_base.bundle.archive import unpack
from fundguard.knowledge_base.bundle.signature import parse_signature

from .conftest import Signer, flipped


def test_signing_names_the_key_and_signs_the_manifest_bytes(signer: Signer, unsigned: bytes, signed: bytes) -> None:
    """manifest.key_id is set; the signature verifies over manifest.json with the public key; bundle.json is kept."""
    members, before = unpack(signed), unpack(unsigned)
    signature = parse_signature(members["signature.json"])
    signer.trusted[signer.key_id].verify(signature.sig, members["manifest.json"])  # raises when it does not
    assert (signer.key_id, signer.key_id) == (json.loads(members["manifest.json"])["key_id"], signature.key_id)
    assert before["bundle.json"] == members["bundle.json"]


def test_re_signing_replaces_the_signature(signer: Signer, stranger: Signer, signed: bytes) -> None:
    """A file signed again by another key carries only that key's signature."""
    resigned = stranger.sign(signed)
    assert "someone-else" == verify(resigned, stranger.trusted).manifest.key_id
    with pytest.raises(BundleRejected, match="unknown key id 'someone-else'"):
        verify(resigned, signer.trusted)


def test_a_damaged_file_is_not_signed(signer: Signer, unsigned: bytes) -> None:
    """Signing checks integrity first: a flipped byte in bundle.json is refused, not signed."""
    with pytest.raises(BundleRejected, match=r"bundle\.json: sha256 mismatch"):
        signer.sign(flipped(unsigned, "bundle.json"))


def test_a_bad_key_or_key_id_is_a_value_error(signer: Signer, unsigned: bytes) -> None:
    """The private key must be an Ed25519 PEM; the key id a plain file stem."""
    with pytest.raises(ValueError, match="not an unencrypted PEM private key"):
        sign(unsigned, b"not a key", "k")
    with pytest.raises(ValueError, match="key id"):
        sign(unsigned, signer.private_pem, "../k")
