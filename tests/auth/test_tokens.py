"""The tokens file: only hashes stored, TOML and CSV read alike, malformed entries named, `add_client` issuing a
token once, and a changed file taking effect without a restart."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from fundguard.agent.auth import tokens as tokens_module
from fundguard.agent.auth.tokens import TokenFileError, TokenStore, add_client, hash_token, read_tokens


@pytest.mark.parametrize("name", ["clients.csv", "clients.toml"])
def test_add_client_stores_only_the_hash_and_the_token_finds_its_client(tmp_path: Path, name: str) -> None:
    """A new client's token is returned once; the file holds its SHA-256, never the token; the store maps it back."""
    path = tmp_path / name
    first, second = add_client(path, "his-main"), add_client(path, "his-lab")
    text = path.read_text("utf-8")
    assert first not in text and second not in text
    assert hash_token(first) in text and hash_token(second) in text
    store = TokenStore(path)
    assert "his-main" == store.client(first)
    assert "his-lab" == store.client(second)
    assert store.client("fgt_" + "x" * 43) is None
    assert {"his-main", "his-lab"} == store.clients


def test_tokens_are_random_and_prefixed(tmp_path: Path) -> None:
    """Every token is new: 256 random bits, recognisable by its `fgt_` prefix."""
    issued = [add_client(tmp_path / "c.csv", f"c{n}") for n in range(5)]
    assert len(set(issued)) == 5
    assert all(t.startswith("fgt_") and len(t) == 47 for t in issued)


def test_tokens_file_is_not_world_readable(tmp_path: Path) -> None:
    """The file is written 0640 (hashes only, still nobody else's business)."""
    path = tmp_path / "c.toml"
    add_client(path, "his-main")
    assert 0 == stat.S_IMODE(os.stat(path).st_mode) & stat.S_IRWXO


def test_add_client_refuses_a_taken_or_malformed_name(tmp_path: Path) -> None:
    """A name already in the file is not issued a second token; a name with other characters is refused."""
    path = tmp_path / "c.csv"
    add_client(path, "his-main")
    with pytest.raises(ValueError, match="already"):
        add_client(path, "his-main")
    with pytest.raises(ValueError, match="client name"):
        add_client(path, "his main")


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("c.csv", "client,token\nhis,abc\n", "line 1: the header"),
        ("c.csv", "client,sha256\nhis-main,notahash\n", "line 2: his-main: not a SHA-256"),
        ("c.csv", "client,sha256\nhis-main\n", "line 2: expected 2 columns"),
        ("c.csv", f"client,sha256\nbad name,{'a' * 64}\n", "line 2: client name"),
        ("c.csv", f"client,sha256\na,{'a' * 64}\nb,{'a' * 64}\n", "line 3: b has the same token as a"),
        ("c.toml", "[clients\n", "not valid TOML"),
        ("c.toml", f'[other]\na = "{"a" * 64}"\n', "only a [clients] table"),
        ("c.toml", '[clients]\nhis-main = "secret-token"\n', "clients.his-main: his-main: not a SHA-256"),
    ],
)
def test_malformed_files_are_refused_naming_the_entry(tmp_path: Path, name: str, text: str, problem: str) -> None:
    """Each defect is a TokenFileError naming the file and where."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TokenFileError, match=re.escape(problem)):
        read_tokens(path)


def test_hashes_may_carry_a_sha256_prefix_and_capitals(tmp_path: Path) -> None:
    """`sha256:ABC…` is read as the lowercase hex digest."""
    path = tmp_path / "c.csv"
    path.write_text(f"client,sha256\nhis-main,sha256:{hash_token('t').upper()}\n", encoding="utf-8")
    assert {hash_token("t"): "his-main"} == dict(read_tokens(path))


def test_a_changed_file_takes_effect_without_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A client added (or removed) after start is known (or refused) once the reload interval has passed; a file
    broken meanwhile keeps the tokens in force."""
    path = tmp_path / "c.csv"
    old = add_client(path, "his-main")
    store = TokenStore(path)
    new = add_client(path, "his-lab")
    assert store.client(new) is None  # not yet looked at again
    monkeypatch.setattr(tokens_module, "RELOAD_SECONDS", 0.0)
    store._next_check = 0.0  # as if the interval had passed
    assert "his-lab" == store.client(new)
    path.write_text("garbage", encoding="utf-8")
    store._next_check = 0.0
    assert "his-main" == store.client(old)
    path.write_text(f"client,sha256\nhis-lab,{hash_token(new)}\n", encoding="utf-8")
    store._next_check = 0.0
    assert store.client(old) is None
