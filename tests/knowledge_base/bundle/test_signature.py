"""signature.json: canonical, Ed25519 only, a 64-byte signature in base64, refused naming the field."""

from __future__ import annotations

import base64
import json

import pytest

from fundguard.knowledge_base.bundle import BundleRejected
from fundguard.knowledge_base.bundle.signature import Signature, parse_signature

GOOD = Signature("bureau-2026", bytes(range(64)))


def test_a_signature_round_trips() -> None:
    """Written and parsed back; the document names the algorithm."""
    raw = GOOD.to_bytes()
    assert ("Ed25519", GOOD) == (json.loads(raw)["alg"], parse_signature(raw))


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ({"alg": "RS256", "key_id": "k", "sig": ""}, "alg must be 'Ed25519'"),
        ({"alg": "Ed25519", "key_id": "", "sig": ""}, "key_id must be a non-empty string"),
        ({"alg": "Ed25519", "key_id": "k", "sig": "not base64!"}, "sig must be the base64 of a 64-byte"),
        ({"alg": "Ed25519", "key_id": "k", "sig": base64.b64encode(b"short").decode()}, "64-byte"),
        ({"alg": "Ed25519", "key_id": "k", "sig": 5}, "64-byte"),
    ],
)
def test_a_malformed_signature_is_refused(doc: dict[str, object], reason: str) -> None:
    """Each malformed signature.json names the field."""
    with pytest.raises(BundleRejected) as refused:
        parse_signature(json.dumps(doc).encode())
    assert reason in refused.value.reason
