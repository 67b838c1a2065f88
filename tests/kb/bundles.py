"""Signed KB bundles for the agent-side tests: a bureau key pair, and the embedded default bundle re-issued at other
revisions with every rule's name tagged by the revision (so an alert shows which KB judged it)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fundguard.knowledge_base import default_bundle_path
from fundguard.knowledge_base.bundle import build_full, sign

KEY_ID = "bureau-test-2026"


@dataclass(frozen=True)
class Keys:
    """A signing key (PEM) and the folder of trusted public keys that verifies it."""

    private_pem: bytes
    trusted_dir: Path


def make_keys(folder: Path, key_id: str = KEY_ID) -> Keys:
    """A fresh Ed25519 key pair; the public key written as `folder/<key_id>.pub`."""
    key = Ed25519PrivateKey.generate()
    folder.mkdir(parents=True, exist_ok=True)
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    (folder / f"{key_id}.pub").write_bytes(public)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())  # fmt: skip
    return Keys(private, folder)


def default_doc() -> dict[str, Any]:
    """The embedded default bundle as a document."""
    doc: dict[str, Any] = json.loads(default_bundle_path().read_bytes())
    return doc


def tagged(revision: int) -> dict[str, Any]:
    """The default bundle at `revision`, each rule's name ending in " r<revision>"."""
    doc = default_doc()
    doc["revision"] = revision
    for rule in doc["rules"]:
        rule["rule_name"] = f"{rule['rule_name']} r{revision}"
    return doc


def signed(doc: dict[str, Any], keys: Keys, key_id: str = KEY_ID) -> bytes:
    """`doc` as a signed full bundle file (.fgkb bytes)."""
    raw = json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    return sign(build_full(raw), keys.private_pem, key_id)
