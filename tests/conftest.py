"""Shared fixtures: the embedded default KB (parsed and compiled once per session) and the shared/ data path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fundguard.agent.engine import CompiledKB, build_index
from fundguard.knowledge_base import default_bundle_path

REPO = Path(__file__).resolve().parent.parent
SHARED_KP = REPO.parent / "shared" / "nhsa-knowledge-points"


@pytest.fixture(autouse=True)
def _data_dir_outside_the_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Agents built by tests keep their durable state (decisions …) in the test's tmp dir, never in the repo."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def default_bundle() -> dict[str, Any]:
    """The embedded default bundle as parsed JSON."""
    bundle: dict[str, Any] = json.loads(default_bundle_path().read_text(encoding="utf-8"))
    return bundle


@pytest.fixture(scope="session")
def default_kb(default_bundle: dict[str, Any]) -> CompiledKB:
    """The embedded default bundle compiled into indexes."""
    return build_index(default_bundle)
