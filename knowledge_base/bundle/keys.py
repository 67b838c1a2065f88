"""Ed25519 keys of the bundle signers: make a key pair, load a private key, load the trusted public keys.

A key pair is two PEM files named after the key id: `ID.key` (PKCS8, unencrypted, mode 0600: keep it off the
hospital side) and `ID.pub` (SubjectPublicKeyInfo). The agent trusts a folder of `*.pub` files, each key known by
its file stem, or an explicit list of files. All cryptography is the `cryptography` library's.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "PRIVATE_SUFFIX",
    "PUBLIC_SUFFIX",
    "KeyFiles",
    "check_key_id",
    "generate_key_pair",
    "load_private_key",
    "load_trusted_keys",
]

PRIVATE_SUFFIX = ".key"
PUBLIC_SUFFIX = ".pub"
PRIVATE_MODE = 0o600
PUBLIC_MODE = 0o644
MAX_KEY_FILE_BYTES = 64 * 1024
_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True, slots=True)
class KeyFiles:
    """Where a generated key pair was written."""

    private: Path
    public: Path


def check_key_id(key_id: str) -> str:
    """`key_id` when it is usable as a file stem (letters, digits, `.`, `_`, `-`; 1–64); ValueError otherwise."""
    if not _KEY_ID.fullmatch(key_id):
        raise ValueError(f"key id {key_id!r}: use 1-64 letters, digits, '.', '_' or '-' (not starting with . _ -)")
    return key_id


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create `path` with `mode` from the start (a private key is never readable by others, even briefly)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(path, mode)  # the umask may have narrowed it


def generate_key_pair(key_id: str, out_dir: Path) -> KeyFiles:
    """Write a new Ed25519 pair as `out_dir/ID.key` and `out_dir/ID.pub`; FileExistsError rather than overwrite."""
    check_key_id(key_id)
    files = KeyFiles(out_dir / f"{key_id}{PRIVATE_SUFFIX}", out_dir / f"{key_id}{PUBLIC_SUFFIX}")
    for path in (files.private, files.public):
        if path.exists():
            raise FileExistsError(f"{path} already exists (a key is never overwritten)")
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_new(files.private, private, PRIVATE_MODE)
    _write_new(files.public, public, PUBLIC_MODE)
    return files


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    """The Ed25519 private key in PEM `pem`; ValueError when it is not one (or is password-protected)."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"not an Ed25519 private key ({type(key).__name__})")
    return key


def _load_public(path: Path) -> Ed25519PublicKey:
    with path.open("rb") as f:
        pem = f.read(MAX_KEY_FILE_BYTES + 1)
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path}: not an Ed25519 public key ({type(key).__name__})")
    return key


def load_trusted_keys(path: Path | Iterable[Path]) -> dict[str, Ed25519PublicKey]:
    """The trusted keys by key id (file stem): every `*.pub` in a folder, or the given file(s).

    Raises ValueError naming the file when one is not an Ed25519 public key or two files give the same id, and
    OSError when a file cannot be read. An empty folder gives no keys (every bundle is then refused).
    """
    if isinstance(path, Path | str):
        folder = Path(path)
        files = sorted(folder.glob(f"*{PUBLIC_SUFFIX}")) if folder.is_dir() else [folder]
    else:
        files = [Path(p) for p in path]
    keys: dict[str, Ed25519PublicKey] = {}
    for file in files:
        key_id = file.stem
        if key_id in keys:
            raise ValueError(f"{file}: key id {key_id!r} is given twice")
        keys[key_id] = _load_public(file)
    return keys
