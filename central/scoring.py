"""Practitioner scoring: record a sanction (`apply_sanction`), recompute the standing, publish a change under a new
revision; keep standings current as suspensions end and years turn (`refresh`); score agent-reported behaviours
when the points table gives them points (`ingest`).

Each write is one transaction: the sanction, the recomputed standing and its revision commit together. On
PostgreSQL two concurrent writers can pick the same next revision; the loser's transaction fails on the key and is
retried from the start (on SQLite, `BEGIN IMMEDIATE` already queues them). After a commit `on_change(revision)` tells
the long poll (`central.watch`). The natural year is China's (UTC+8, no daylight saving).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .payloads import behaviours
from .points import DEFAULT_TABLE, SUSPEND_MONTHS_RANGE, PointsTable
from .standing import TERMINATE_POINTS, Sanction, Standing, standing_of
from .store import EventBatch, EventRecord, Store, StoreResult

__all__ = ["CHINA", "SanctionOutcome", "SanctionRefused", "Scorer", "china_today"]

CHINA = timezone(timedelta(hours=8), "CST")
WRITE_ATTEMPTS = 5
PRACTITIONER_CODE = re.compile(r"[0-9A-Za-z]{1,32}")
INSTITUTION_CODE = re.compile(r"H\d{11}")


def china_today() -> date:
    """Today in China (the natural year points count in)."""
    return datetime.now(CHINA).date()


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SanctionRefused(ValueError):
    """A sanction that cannot be recorded; `field` names the offending argument."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True, slots=True)
class SanctionOutcome:
    """What a sanction did: its id and points, the standing before and after, the revision if it changed."""

    sanction_id: int
    points: int
    before: Standing | None
    after: Standing
    revision: int | None


class Scorer:
    """Sanctions → standings → revisions, on one store, with one points table."""

    def __init__(
        self,
        store: Store,
        table: PointsTable = DEFAULT_TABLE,
        *,
        today: Callable[[], date] = china_today,
        now: Callable[[], datetime] = _utc_now,
        on_change: Callable[[int], None] | None = None,
    ) -> None:
        self.store = store
        self.table = table
        self._today = today
        self._now = now
        self._on_change = on_change

    def _published(self, revisions: list[int]) -> None:
        if revisions and self._on_change is not None:
            self._on_change(max(revisions))

    def _rescore(
        self, conn: Connection, code: str, today: date, before: Standing | None
    ) -> tuple[Standing, int | None]:
        after = standing_of(self.store.sanctions_of(conn, code), today)
        if after == before:
            return after, None
        return after, self.store.save_standing(conn, code, after, self._now())

    def _sanction(
        self, code: str, act: str | None, points: int | None, at: date | None, suspend_months: int | None
    ) -> tuple[Sanction, date]:
        if not PRACTITIONER_CODE.fullmatch(code):
            raise SanctionRefused("practitioner", "a practitioner code is 1–32 letters and digits")
        if (act is None) == (points is None):
            raise SanctionRefused("act", "give either an act or a number of points")
        if act is not None:
            if act not in self.table.acts:
                raise SanctionRefused("act", f"unknown act {act!r} (known: {', '.join(sorted(self.table.acts))})")
            points = self.table.acts[act]
        elif points is None or not 1 <= points <= TERMINATE_POINTS:
            raise SanctionRefused("points", f"points are 1 to {TERMINATE_POINTS}")
        months = self.table.suspend_months if suspend_months is None else suspend_months
        low, high = SUSPEND_MONTHS_RANGE
        if not low <= months <= high:
            raise SanctionRefused("suspend_months", f"a suspension lasts {low} to {high} months")
        today = self._today()
        day = today if at is None else at
        if day > today:
            raise SanctionRefused("at", f"{day.isoformat()} is after today ({today.isoformat()})")
        return Sanction(at=day, points=points, act=act or "points", suspend_months=months), today

    def apply_sanction(
        self,
        code: str,
        *,
        act: str | None = None,
        points: int | None = None,
        at: date | None = None,
        institution_code: str = "",
        note: str = "",
        suspend_months: int | None = None,
    ) -> SanctionOutcome:
        """Give a practitioner the points of `act` (from the table) or `points`, dated `at` (default today), and
        publish the new standing; SanctionRefused naming the argument for a bad one."""
        sanction, today = self._sanction(code, act, points, at, suspend_months)
        if institution_code and not INSTITUTION_CODE.fullmatch(institution_code):
            raise SanctionRefused("institution", "an institution code is H and 11 digits")
        for attempt in range(WRITE_ATTEMPTS):
            try:
                with self.store.write() as conn:
                    before = self.store.standing_row(conn, code, lock=True)
                    sanction_id = self.store.add_sanction(
                        conn, code, sanction, institution_code=institution_code, note=note
                    )
                    after, revision = self._rescore(conn, code, today, before)
                break
            except sa.exc.IntegrityError:  # a concurrent writer took this revision (PostgreSQL): start again
                if attempt == WRITE_ATTEMPTS - 1:
                    raise
        self._published([revision] if revision is not None else [])
        return SanctionOutcome(sanction_id, sanction.points, before, after, revision)

    def refresh(self) -> list[int]:
        """Recompute the standings that time has changed (suspensions ended, a new year); the revisions made."""
        today = self._today()
        revisions: list[int] = []
        with self.store.read() as conn:
            codes = self.store.stale_codes(conn, today)
        for code in codes:
            for attempt in range(WRITE_ATTEMPTS):
                try:
                    with self.store.write() as conn:
                        before = self.store.standing_row(conn, code, lock=True)
                        _after, revision = self._rescore(conn, code, today, before)
                    break
                except sa.exc.IntegrityError:
                    if attempt == WRITE_ATTEMPTS - 1:
                        raise
            if revision is not None:
                revisions.append(revision)
        self._published(revisions)
        return revisions

    def ingest(self, batch: EventBatch) -> StoreResult:
        """Store an upload; when the table scores behaviours, newly stored events showing one give their points in
        the same transaction (a duplicate upload never scores twice)."""
        if not self.table.scores_events:
            return self.store.store_events(batch)
        revisions: list[int] = []

        def score(conn: Connection, new: list[EventRecord], sent: EventBatch) -> None:
            today = self._today()
            for event in new:
                for code, sanction in self._event_sanctions(event, today):
                    before = self.store.standing_row(conn, code, lock=True)
                    self.store.add_sanction(
                        conn, code, sanction, institution_code=sent.institution_code, note=event.event_id
                    )
                    _after, revision = self._rescore(conn, code, today, before)
                    if revision is not None:
                        revisions.append(revision)

        result = self.store.store_events(batch, on_new=score)
        self._published(revisions)
        return result

    def _event_sanctions(self, event: EventRecord, today: date) -> list[tuple[str, Sanction]]:
        """The (practitioner, sanction) pairs a newly stored event gives under the table (most give none)."""
        payload: Any = orjson.loads(event.payload)
        if not isinstance(payload, dict):
            return []
        day = min(datetime.fromisoformat(event.occurred_at).astimezone(CHINA).date(), today)
        found: list[tuple[str, Sanction]] = []
        for code, behaviour in behaviours(event.kind, payload, event.practitioner_code):
            points = self.table.events.get(behaviour, 0)
            if points > 0 and PRACTITIONER_CODE.fullmatch(code):
                months = self.table.suspend_months
                found.append((code, Sanction(at=day, points=points, act=f"event:{behaviour}", suspend_months=months)))
        return found
