"""The CI dependency audit's verdict on pip-audit reports: a known vulnerability fails, a package that could not be
audited fails too unless explicitly allowed, and only a complete, clean audit passes (no network: canned reports)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "audit_dependencies.py"


@pytest.fixture(scope="module")
def audit() -> ModuleType:
    """The script as a module."""
    spec = importlib.util.spec_from_file_location("audit_dependencies", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CLEAN = {"name": "grpcio", "version": "1.85.1", "vulns": []}
VULNERABLE = {"name": "jinja2", "version": "2.10", "vulns": [{"id": "PYSEC-TEST-0001", "fix_versions": ["2.10.1"]}]}
SKIPPED = {"name": "yarl", "skip_reason": "Dependency not found on PyPI and could not be audited: yarl (1.25.1)"}


def test_a_complete_clean_audit_passes(audit: ModuleType) -> None:
    """Every dependency audited, none vulnerable: exit 0."""
    code, lines = audit.judge({"dependencies": [CLEAN]})
    assert (audit.EXIT_CLEAN, "1 dependencies audited: no known vulnerabilities") == (code, lines[-1])


def test_a_known_vulnerability_fails_naming_package_advisory_and_fix(audit: ModuleType) -> None:
    """A vulnerable dependency: exit 1, with the package, version, advisory id and fixed version — even when others
    could not be audited and that is allowed."""
    code, lines = audit.judge({"dependencies": [CLEAN, VULNERABLE, SKIPPED]}, allow_unaudited=True)
    assert audit.EXIT_VULNERABLE == code
    assert "  jinja2 2.10: PYSEC-TEST-0001 (fixed in 2.10.1)" in lines


def test_an_unaudited_dependency_fails_unless_allowed(audit: ModuleType) -> None:
    """A lookup that failed (offline, service down) is not a pass: exit 2; with the explicit allowance, exit 0 with
    the unaudited packages still listed."""
    code, lines = audit.judge({"dependencies": [CLEAN, SKIPPED]})
    assert audit.EXIT_UNAUDITED == code and any("yarl" in line for line in lines)
    code, lines = audit.judge({"dependencies": [CLEAN, SKIPPED]}, allow_unaudited=True)
    assert audit.EXIT_CLEAN == code and any("yarl" in line for line in lines)
