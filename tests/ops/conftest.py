"""Shared fixtures of the operations tests: a clean environment for every test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from fundguard.agent.log import reset_logging


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No FUNDGUARD_* variable leaks in; logging is reset afterwards."""
    for name in list(os.environ):
        if name.upper().startswith("FUNDGUARD_"):
            monkeypatch.delenv(name)
    yield
    reset_logging()
