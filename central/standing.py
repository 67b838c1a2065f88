"""A practitioner's 医保支付资格 standing, derived from the sanctions on record (pure: no I/O, no clock).

The rules (医保发〔2024〕23号, `rules-and-policy.md` §5):
- points accumulate per natural year (of the sanction's date) and start again from 0 in a new year;
- reaching 9 points in a year suspends the payment qualification from the sanction's date for the months the sanction
  carries (1–6); a suspension keeps its end date across the new year; a second crossing while still suspended only
  ever extends it;
- reaching 12 points in a year terminates it (and it stays terminated: restoration is outside this platform);
- a practitioner with points this year and neither suspended nor terminated is "warned" (a record this year), one
  without any is "normal".

`standing_of` replays the sanctions in date order and then looks at them from `today`: a suspension ended before
`today` is over, and points of an earlier year no longer count. Replaying (rather than updating a running total)
keeps a back-dated sanction exact and lets the periodic refresh recompute a standing without knowing its history.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

__all__ = [
    "NORMAL",
    "STATUSES",
    "SUSPENDED",
    "SUSPEND_POINTS",
    "TERMINATED",
    "TERMINATE_POINTS",
    "WARNED",
    "Sanction",
    "Standing",
    "add_months",
    "standing_of",
]

NORMAL = "normal"
WARNED = "warned"
SUSPENDED = "suspended"
TERMINATED = "terminated"
STATUSES = (NORMAL, WARNED, SUSPENDED, TERMINATED)
SUSPEND_POINTS = 9  # ≥ 9 points in a natural year: suspension of 1–6 months
TERMINATE_POINTS = 12  # ≥ 12 points in a natural year: termination


@dataclass(frozen=True, slots=True)
class Sanction:
    """Points given to a practitioner on a date, for an act; `suspend_months` applies if it crosses 9 points."""

    at: date
    points: int
    act: str
    suspend_months: int


@dataclass(frozen=True, slots=True)
class Standing:
    """What the bureau publishes for a practitioner: points in `year`, status, suspension end, reason."""

    year: int
    points: int
    status: str
    until: date | None
    reason: str


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the end of a shorter month (2025-11-30 + 3 → 2026-02-28)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _suspended_reason(year: int, points: int, until: date) -> str:
    return f"{year}年度累计记分{points}分（达{SUSPEND_POINTS}分），暂停医保支付资格至{until.isoformat()}（不含）"


def _terminated_reason(year: int, points: int) -> str:
    return f"{year}年度累计记分{points}分（达{TERMINATE_POINTS}分），终止医保支付资格"


def standing_of(sanctions: Iterable[Sanction], today: date) -> Standing:
    """The standing on `today` from every sanction on record for one practitioner (sanctions after today are not
    yet in force). Order ties on the same date are taken as given (pass them in recording order)."""
    year: int | None = None
    points = 0
    status, until, reason = NORMAL, None, ""
    for sanction in sorted(sanctions, key=lambda s: s.at):
        if sanction.at > today:
            continue
        if year != sanction.at.year:
            points = 0
        year = sanction.at.year
        if status == SUSPENDED and until is not None and until <= sanction.at:
            status, until, reason = NORMAL, None, ""
        before, points = points, points + sanction.points
        if status == TERMINATED:
            continue
        if points >= TERMINATE_POINTS:
            status, until, reason = TERMINATED, None, _terminated_reason(year, points)
        elif before < SUSPEND_POINTS <= points:
            end = add_months(sanction.at, sanction.suspend_months)
            until = max(until, end) if status == SUSPENDED and until is not None else end
            status, reason = SUSPENDED, _suspended_reason(year, points, until)
    if year != today.year:
        points = 0
    if status == SUSPENDED and until is not None and until <= today:
        status, until, reason = NORMAL, None, ""
    if status == NORMAL and points > 0:
        status, reason = WARNED, f"{today.year}年度累计记分{points}分"
    return Standing(year=today.year, points=points, status=status, until=until, reason=reason)
