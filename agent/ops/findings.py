"""What `fundguard doctor` reports: one finding per check (OK / WARN / FAIL, the check's name, why), and the verdict.

A FAIL is a problem: the agent will not run, or not as configured (exit 1). A WARN needs attention soon (a
certificate expiring within 30 days, a queue backing up) but the install is healthy (exit 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Finding", "Level", "render", "verdict"]


class Level(StrEnum):
    """How bad a finding is."""

    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of the doctor's report."""

    level: Level
    check: str
    message: str

    @classmethod
    def ok(cls, check: str, message: str) -> Finding:
        """A check that passed."""
        return cls(Level.OK, check, message)

    @classmethod
    def warn(cls, check: str, message: str) -> Finding:
        """A check that passed with something to see to."""
        return cls(Level.WARN, check, message)

    @classmethod
    def fail(cls, check: str, message: str) -> Finding:
        """A problem."""
        return cls(Level.FAIL, check, message)


def verdict(findings: Sequence[Finding]) -> str:
    """`healthy` (with the number of warnings, if any), or `N problems`."""
    problems = sum(f.level is Level.FAIL for f in findings)
    warnings = sum(f.level is Level.WARN for f in findings)
    also = f" ({warnings} warning{'s' if warnings != 1 else ''})" if warnings else ""
    if problems:
        return f"{problems} problem{'s' if problems != 1 else ''}{also}"
    return f"healthy{also}"


def render(findings: Sequence[Finding]) -> str:
    """One aligned line per finding, then the verdict."""
    width = max((len(f.check) for f in findings), default=0)
    lines = [f"{f.level.value:<5} {f.check:<{width}}  {f.message}" for f in findings]
    return "\n".join([*lines, verdict(findings)]) + "\n"
