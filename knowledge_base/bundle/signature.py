"""`signature.json`: which key signed the manifest, with which algorithm, and the signature itself.

`{"alg": "Ed25519", "key_id": "bureau-2026", "sig": "<base64 of the 64-byte signature>"}` (canonical JSON). The
signature is Ed25519 over the exact bytes of `manifest.json`; making and checking it is `signing.py`'s and
`verification.py`'s, with the `cryptography` library.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from .documents import canonical_bytes, parse_object
from .errors import BundleRejected

__all__ = ["ALGORITHM", "Signature", "parse_signature"]

ALGORITHM = "Ed25519"
SIGNATURE_BYTES = 64
_NAME = "signature.json"


@dataclass(frozen=True, slots=True)
class Signature:
    """A manifest signature: the signer's key id and the raw signature bytes."""

    key_id: str
    sig: bytes

    def to_bytes(self) -> bytes:
        """The bytes written as signature.json."""
        doc = {"alg": ALGORITHM, "key_id": self.key_id, "sig": base64.b64encode(self.sig).decode("ascii")}
        return canonical_bytes(doc, newline=False)


def parse_signature(raw: bytes) -> Signature:
    """The signature in `raw`; BundleRejected naming the field when it is malformed or not Ed25519."""
    doc = parse_object(raw, _NAME)
    if doc.get("alg") != ALGORITHM:
        raise BundleRejected(f"{_NAME}: alg must be {ALGORITHM!r}, not {doc.get('alg')!r}")
    key_id, sig = doc.get("key_id"), doc.get("sig")
    if not isinstance(key_id, str) or not key_id:
        raise BundleRejected(f"{_NAME}: key_id must be a non-empty string")
    try:
        raw_sig = base64.b64decode(sig, validate=True) if isinstance(sig, str) else b""
    except binascii.Error:
        raw_sig = b""
    if len(raw_sig) != SIGNATURE_BYTES:
        raise BundleRejected(f"{_NAME}: sig must be the base64 of a {SIGNATURE_BYTES}-byte Ed25519 signature")
    return Signature(key_id, raw_sig)
