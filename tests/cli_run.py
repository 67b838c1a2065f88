"""Running `fundguard …` in-process for the command tests: exit code, stdout and stderr; stdout as JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fundguard.agent.cli import main

__all__ = ["json_out", "run_cli"]


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`fundguard *argv`: its exit code and what it wrote to stdout and stderr."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def json_out(out: str) -> dict[str, Any]:
    """A command's `--json` output."""
    doc: dict[str, Any] = json.loads(out)
    return doc
