"""Fixtures of the signed-bundle tests: a bureau key pair, the embedded default bundle as a (signed) bundle file,
and the two real bundles of the KB-distribution issue, built once with the importer: batches 1–17 (revision 1)
and batches 1–17 plus the 2026-01 revision (revision 2)."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fundguard.knowledge_base import default_bundle_path
from fundguard.knowledge_base.bundle import build_full, generate_key_pair, load_trusted_keys, sign
from fundguard.knowledge_base.importer import bundle_bytes, import_points
from tests.conftest import SHARED_KP

KEY_ID = "bureau-2026"
UPDATE_BATCH = "updates_2026-01"


@dataclass(frozen=True)
class Signer:
    """A key pair on disk: the private key's PEM, the folder holding the public key, the trusted keys."""

    key_id: str
    private_pem: bytes
    folder: Path
    trusted: dict[str, Ed25519PublicKey]

    def sign(self, fgkb: bytes) -> bytes:
        """`fgkb` signed with this key."""
        return sign(fgkb, self.private_pem, self.key_id)


def make_signer(folder: Path, key_id: str = KEY_ID) -> Signer:
    """A fresh key pair in `folder`, trusted on its own."""
    files = generate_key_pair(key_id, folder)
    return Signer(key_id, files.private.read_bytes(), folder, load_trusted_keys(folder))


@pytest.fixture(scope="session")
def signer(tmp_path_factory: pytest.TempPathFactory) -> Signer:
    """The bureau's key pair."""
    return make_signer(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="session")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> Signer:
    """A key nobody trusts."""
    return make_signer(tmp_path_factory.mktemp("stranger"), "someone-else")


@pytest.fixture(scope="session")
def default_raw() -> bytes:
    """The embedded default bundle.json, byte for byte."""
    return default_bundle_path().read_bytes()


@pytest.fixture(scope="session")
def unsigned(default_raw: bytes) -> bytes:
    """The default bundle as an unsigned full bundle file."""
    return build_full(default_raw)


@pytest.fixture(scope="session")
def signed(unsigned: bytes, signer: Signer) -> bytes:
    """The default bundle as a full bundle file signed by the bureau."""
    return signer.sign(unsigned)


@dataclass(frozen=True)
class RealBundles:
    """The importer's bundle.json of batches 1–17 (revision 1) and with the 2026-01 revision (revision 2)."""

    old: Path
    new: Path


@pytest.fixture(scope="session")
def real(tmp_path_factory: pytest.TempPathFactory) -> RealBundles:
    """Both real bundles, imported once from ../shared (skipped when the source folder is absent)."""
    if not (SHARED_KP / "knowledge_points.jsonl").is_file():
        pytest.skip(f"source folder {SHARED_KP} is not there")
    folder = tmp_path_factory.mktemp("real")
    old, new = folder / "batches-1-17.json", folder / "with-2026-01.json"
    old.write_bytes(bundle_bytes(import_points(SHARED_KP, 1, exclude_batches=[UPDATE_BATCH]).bundle))
    new.write_bytes(bundle_bytes(import_points(SHARED_KP, 2).bundle))
    return RealBundles(old, new)


def rezip(data: bytes, edit: dict[str, bytes | None]) -> bytes:
    """The same zip with members replaced (bytes), removed (None) or added (a new name)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename not in edit:
                dst.writestr(info, src.read(info))
        for name, body in edit.items():
            if body is not None:
                dst.writestr(name, body)
    return out.getvalue()


def member(data: bytes, name: str) -> bytes:
    """One member of a zip."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read(name)


def flipped(data: bytes, name: str) -> bytes:
    """The same zip with one byte in the middle of member `name` flipped (the zip itself stays intact)."""
    body = bytearray(member(data, name))
    body[len(body) // 2] ^= 0x01
    return rezip(data, {name: bytes(body)})
