"""The pure check engine: domain model, compiled KB index, rule families, `check()`.

Nothing in this package imports grpc, protobuf, pydantic, structlog, watchdog, os, time or any I/O module, and
nothing reads the clock: tests/engine/test_purity.py enforces it.
"""

from __future__ import annotations

from .compile import build_index
from .engine import check
from .errors import FundguardError, InvalidField, KbInvalid, KbUnavailable
from .index import CompiledKB
from .model import Alert, CheckRequest, CheckResult, WorkflowImpact

__all__ = [
    "Alert",
    "CheckRequest",
    "CheckResult",
    "CompiledKB",
    "FundguardError",
    "InvalidField",
    "KbInvalid",
    "KbUnavailable",
    "WorkflowImpact",
    "build_index",
    "check",
]
