"""The check engine stays pure: no transport, no I/O module, no clock — enforced by reading its source.

Every module under agent/engine/ is parsed with `ast`; an import of a forbidden module (or of a name from it),
a call of a clock function (`now`, `today`, `utcnow`, `time`, `perf_counter`, `monotonic`), or a call of a
builtin that does I/O (`open`, `input`, `print`, `exec`, `eval`, `__import__`) fails the test with the location.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[2] / "agent" / "engine"

FORBIDDEN_MODULES = {
    "grpc", "google", "pydantic", "pydantic_settings", "structlog", "watchdog", "cachetools",
    "os", "sys", "io", "time", "socket", "select", "selectors", "asyncio", "threading", "multiprocessing",
    "subprocess", "pathlib", "shutil", "tempfile", "glob", "fnmatch", "sqlite3", "dbm", "shelve", "pickle",
    "json", "csv", "logging", "random", "secrets", "uuid", "urllib", "http", "ssl", "signal", "mmap",
    "ctypes", "builtins", "importlib.resources", "zipfile", "tarfile", "gzip",
    "fundguard.agent.transport", "fundguard.agent.kb", "fundguard.agent.service", "fundguard.adapters",
}
CLOCK_CALLS = {"now", "today", "utcnow", "time", "time_ns", "perf_counter", "perf_counter_ns", "monotonic",
               "monotonic_ns", "process_time", "localtime", "gmtime"}
IO_BUILTINS = {"open", "input", "print", "exec", "eval", "compile", "__import__", "breakpoint"}


def _modules() -> list[Path]:
    return sorted(ENGINE.rglob("*.py"))


def _forbidden(name: str) -> bool:
    return any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN_MODULES)


def violations(source: str, filename: str) -> list[str]:
    """Every purity violation in one module's source, as 'file:line: what'."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found += [f"{filename}:{node.lineno}: import {a.name}" for a in node.names if _forbidden(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if _forbidden(node.module):
                found.append(f"{filename}:{node.lineno}: from {node.module} import …")
            elif node.module in {"datetime", "importlib"}:
                bad = [a.name for a in node.names if a.name in {"resources"}]
                found += [f"{filename}:{node.lineno}: from {node.module} import {b}" for b in bad]
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in CLOCK_CALLS:
                found.append(f"{filename}:{node.lineno}: clock call .{func.attr}()")
            elif isinstance(func, ast.Name) and (func.id in IO_BUILTINS or func.id in CLOCK_CALLS):
                found.append(f"{filename}:{node.lineno}: call {func.id}()")
    return found


def test_engine_has_modules() -> None:
    """The scan covers the engine package (a path mistake would make the purity test vacuous)."""
    names = {p.name for p in _modules()}
    assert {"engine.py", "index.py", "model.py", "sex.py"} <= names


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ENGINE)))
def test_engine_module_is_pure(path: Path) -> None:
    """No engine module imports grpc/I-O/clock modules or calls the clock or I/O builtins."""
    assert [] == violations(path.read_text(encoding="utf-8"), path.name)


@pytest.mark.parametrize(
    "snippet",
    [
        "import grpc",
        "from google.protobuf import json_format",
        "import os.path",
        "from time import perf_counter",
        "import datetime\nx = datetime.datetime.now()",
        "from datetime import date\ny = date.today()",
        "with open('x') as f: pass",
        "import structlog",
        "from fundguard.agent.transport import grpc_server",
        "import uuid",
    ],
)
def test_detector_catches_impurity(snippet: str) -> None:
    """The detector itself flags each kind of impurity (so the test above can fail)."""
    assert violations(snippet, "snippet.py") != []


def test_detector_accepts_pure_code() -> None:
    """Plain data code with dates passed in is accepted."""
    pure = "from datetime import date\nfrom decimal import Decimal\ndef f(d: date) -> int:\n    return d.year\n"
    assert [] == violations(pure, "pure.py")
