"""Signing keys: a key pair written with safe modes and never overwritten; trusted keys loaded from a folder, a
file or a list, each by its file stem; anything that is not an Ed25519 key refused naming the file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from fundguard.knowledge_base.bundle import generate_key_pair, load_trusted_keys
from fundguard.knowledge_base.bundle.keys import check_key_id, load_private_key


def test_keygen_writes_a_private_key_only_its_owner_reads_and_a_public_key(tmp_path: Path) -> None:
    """ID.key is 0600 PKCS8 PEM, ID.pub is a SubjectPublicKeyInfo PEM of the same key."""
    files = generate_key_pair("bureau-2026", tmp_path / "keys")
    assert (tmp_path / "keys" / "bureau-2026.key", tmp_path / "keys" / "bureau-2026.pub") == (
        files.private,
        files.public,
    )
    assert 0o600 == stat.S_IMODE(files.private.stat().st_mode)
    assert files.private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert files.public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    private = load_private_key(files.private.read_bytes())
    assert private.public_key() == load_trusted_keys(files.public)["bureau-2026"]


def test_keygen_never_overwrites_a_key(tmp_path: Path) -> None:
    """A second keygen with the same id fails and leaves the first key as it was."""
    files = generate_key_pair("k1", tmp_path)
    before = files.private.read_bytes()
    with pytest.raises(FileExistsError, match=r"k1\.key already exists"):
        generate_key_pair("k1", tmp_path)
    assert before == files.private.read_bytes()


@pytest.mark.parametrize("key_id", ["", "../up", "a/b", ".hidden", "-x", "x" * 65, "名字"])
def test_a_key_id_that_is_not_a_plain_file_stem_is_refused(key_id: str) -> None:
    """Key ids become file names: letters, digits, '.', '_', '-' only, 1-64 of them."""
    with pytest.raises(ValueError, match="key id"):
        check_key_id(key_id)


def test_trusted_keys_come_from_a_folder_a_file_or_a_list(tmp_path: Path) -> None:
    """A folder gives every *.pub (other files ignored); a file or a list gives those files; ids are stems."""
    a, b = generate_key_pair("a", tmp_path), generate_key_pair("b", tmp_path)
    (tmp_path / "notes.txt").write_text("not a key")
    assert ["a", "b"] == sorted(load_trusted_keys(tmp_path))
    assert ["b"] == list(load_trusted_keys(b.public))
    assert ["a", "b"] == sorted(load_trusted_keys([a.public, b.public]))
    (tmp_path / "empty").mkdir()
    assert {} == load_trusted_keys(tmp_path / "empty")


def test_a_file_that_is_not_an_ed25519_public_key_is_refused_naming_it(tmp_path: Path) -> None:
    """Garbage, or a key of another algorithm, is a ValueError naming the file."""
    (tmp_path / "junk.pub").write_text("hello")
    with pytest.raises(ValueError, match=r"junk\.pub: not a PEM public key"):
        load_trusted_keys(tmp_path / "junk.pub")
    other = X25519PrivateKey.generate().public_key()
    pem = other.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "x25519.pub").write_bytes(pem)
    with pytest.raises(ValueError, match=r"x25519\.pub: not an Ed25519 public key"):
        load_trusted_keys(tmp_path / "x25519.pub")


def test_a_missing_trusted_keys_path_is_an_os_error(tmp_path: Path) -> None:
    """A path that does not exist is reported as such (not as an empty trust list)."""
    with pytest.raises(FileNotFoundError):
        load_trusted_keys(tmp_path / "nowhere")


def test_a_private_key_must_be_an_unencrypted_ed25519_pem() -> None:
    """Other content is a ValueError saying what it is not."""
    with pytest.raises(ValueError, match="not an unencrypted PEM private key"):
        load_private_key(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    other = X25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ValueError, match="not an Ed25519 private key"):
        load_private_key(other)
