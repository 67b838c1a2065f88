"""Fixtures of the importer tests: the shared source folder (skipped when absent) and one import of it."""

from __future__ import annotations

import pytest

from fundguard.knowledge_base.importer import ImportResult, import_points
from tests.conftest import SHARED_KP


@pytest.fixture(scope="session")
def imported() -> ImportResult:
    """One import of ../shared/nhsa-knowledge-points with the shipped override table."""
    if not (SHARED_KP / "knowledge_points.jsonl").is_file():
        pytest.skip(f"source folder {SHARED_KP} is not there")
    return import_points(SHARED_KP)
