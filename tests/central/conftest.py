"""Fixtures for the central platform: a SQLite store in the test's tmp dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fundguard.central.store import Store


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A SQLite database file of this test."""
    return f"sqlite:///{tmp_path / 'central.sqlite3'}"


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """The store on that file, closed after the test."""
    opened = Store.open(db_url)
    yield opened
    opened.close()
