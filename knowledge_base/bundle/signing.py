"""Sign a bundle file: name the key in its manifest and add an Ed25519 signature over the manifest's bytes.

Signing is done where the bureau (or whoever publishes bundles) keeps its private key, never on the agent. The
file is checked for integrity first (`open_unverified`), so a damaged file is never signed; an existing signature
is replaced.
"""

from __future__ import annotations

from .archive import MANIFEST_MEMBER, SIGNATURE_MEMBER, pack
from .keys import check_key_id, load_private_key
from .signature import Signature
from .verification import open_unverified

__all__ = ["sign"]


def sign(fgkb: bytes, private_key_pem: bytes, key_id: str) -> bytes:
    """`fgkb` signed with the Ed25519 key in `private_key_pem` under `key_id` (manifest.key_id set first).

    Raises ValueError on a bad key id or key, BundleRejected when `fgkb` is not an intact bundle file.
    """
    check_key_id(key_id)
    key = load_private_key(private_key_pem)
    opened = open_unverified(fgkb)
    manifest = opened.manifest.with_key_id(key_id).to_bytes()
    members = {name: data for name, data in opened.members.items() if name not in (MANIFEST_MEMBER, SIGNATURE_MEMBER)}
    members[MANIFEST_MEMBER] = manifest
    members[SIGNATURE_MEMBER] = Signature(key_id, key.sign(manifest)).to_bytes()
    return pack(members)
