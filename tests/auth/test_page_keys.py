"""Workstation keys of the pop-up page: one per workstation, derived from the agent secret; a missing key is 401,
another workstation's 403; the secret is created once, private."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from fundguard.agent.auth.page_keys import PageKeys, load_page_secret


def test_each_workstation_has_its_own_key() -> None:
    """Keys differ per workstation and per secret, and are stable for one secret."""
    keys = PageKeys(b"s" * 64)
    assert keys.key("WS-12") == PageKeys(b"s" * 64).key("WS-12")
    assert keys.key("WS-12") != keys.key("WS-13")
    assert keys.key("WS-12") != PageKeys(b"t" * 64).key("WS-12")
    assert 32 == len(keys.key("WS-12"))


def test_refusals_say_401_without_a_key_and_403_with_another_workstations() -> None:
    """No workstation or no key: 401. W's key for W2: 403. W's key for W: let in."""
    keys = PageKeys(b"s" * 64)
    assert 401 == keys.refusal("", keys.key("WS-12"))[0]  # type: ignore[index]
    assert 401 == keys.refusal("WS-12", "")[0]  # type: ignore[index]
    assert 403 == keys.refusal("WS-13", keys.key("WS-12"))[0]  # type: ignore[index]
    assert 403 == keys.refusal("WS-12", "键" * 32)[0]  # type: ignore[index]
    assert keys.refusal("WS-12", keys.key("WS-12")) is None


def test_secret_is_created_once_and_private(tmp_path: Path) -> None:
    """The first load writes 32 random bytes (hex, 0600); later loads read the same secret."""
    path = tmp_path / "auth" / "page.secret"
    first = load_page_secret(path)
    assert first == load_page_secret(path)
    assert 64 == len(first)
    assert 0o600 == stat.S_IMODE(os.stat(path).st_mode)


def test_a_short_or_missing_secret_is_refused_naming_the_key(tmp_path: Path) -> None:
    """Too short a secret, or none when it may not be created: ValueError naming auth.page_secret_file."""
    short = tmp_path / "short"
    short.write_text("abc", encoding="utf-8")
    with pytest.raises(ValueError, match=r"auth\.page_secret_file"):
        load_page_secret(short)
    with pytest.raises(ValueError, match=r"auth\.page_secret_file"):
        load_page_secret(tmp_path / "missing", create=False)
