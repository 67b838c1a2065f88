"""The central store: events deduplicated by `event_id`, sanctions, practitioner standings and their revisions.

`store_events` inserts a batch in one transaction with INSERT … ON CONFLICT DO NOTHING RETURNING (the dialect's own
`insert`, SQLite or PostgreSQL), so an event id already stored — by an earlier retry, or by a concurrent upload of an
overlapping batch — is skipped by the database itself, and exactly the ids this call stored come back as "new".
The scoring writes (`add_sanction`, `save_standing`) run on a connection inside `write()`, in the caller's
transaction; `save_standing` takes the next global revision (see `schema.status_changes`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.dml import ReturningInsert

from .schema import WRITE_OPTION, events, open_engine, practitioners, sanctions, status_changes
from .standing import SUSPENDED, Sanction, Standing

__all__ = [
    "EventBatch",
    "EventRecord",
    "NewEventsHook",
    "StatusRow",
    "Store",
    "StoreResult",
    "dedupe_insert",
]


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One uploaded event, validated (`central.ingest`); `payload` is its JSON object as text."""

    event_id: str
    kind: str
    occurred_at: str
    mdtrt_id: str
    practitioner_code: str
    seq: int
    payload: str


@dataclass(frozen=True, slots=True)
class EventBatch:
    """A decoded upload: who sent it, its events in order, when it arrived."""

    agent_id: str
    institution_code: str
    events: tuple[EventRecord, ...]
    received_at: datetime


class StoreResult(NamedTuple):
    """Every distinct event id of the batch (now stored), how many this call stored, how many were already there
    (repeats inside the batch count as duplicates)."""

    stored_ids: tuple[str, ...]
    new: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class StatusRow:
    """A practitioner's published standing and the revision that set it."""

    code: str
    standing: Standing
    revision: int


# runs inside the upload's transaction with the events this call stored (event-driven scoring)
NewEventsHook = Callable[[Connection, list[EventRecord], EventBatch], None]


def _utc_text(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds")


def dedupe_insert(dialect: str) -> ReturningInsert[str]:
    """INSERT INTO events … ON CONFLICT (event_id) DO NOTHING RETURNING event_id, in `dialect`'s own form."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(events).on_conflict_do_nothing(index_elements=[events.c.event_id]).returning(events.c.event_id)


class Store:
    """One database (SQLite file or PostgreSQL) behind a SQLAlchemy engine; safe to share between threads."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._insert_events = dedupe_insert(engine.dialect.name)

    @classmethod
    def open(cls, url: str) -> Store:
        """The store at a database URL (tables created if missing); ValueError naming `db` for a bad URL."""
        return cls(open_engine(url))

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction (committed on leaving, rolled back on an exception)."""
        with self.engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    # -- events

    def store_events(self, batch: EventBatch, on_new: NewEventsHook | None = None) -> StoreResult:
        """Store the batch's events once each (by `event_id`), in one transaction; `on_new` runs in that transaction
        with the events this call stored."""
        first: dict[str, EventRecord] = {}
        for event in batch.events:
            first.setdefault(event.event_id, event)
        if not first:
            return StoreResult((), 0, 0)
        received = _utc_text(batch.received_at)
        rows: list[dict[str, Any]] = [
            {
                "event_id": e.event_id,
                "agent_id": batch.agent_id,
                "institution_code": batch.institution_code,
                "kind": e.kind,
                "occurred_at": e.occurred_at,
                "mdtrt_id": e.mdtrt_id,
                "practitioner_code": e.practitioner_code,
                "seq": e.seq,
                "payload": e.payload,
                "received_at": received,
            }
            for e in first.values()
        ]
        with self.write() as conn:
            inserted = set(conn.execute(self._insert_events, rows).scalars())
            if on_new is not None and inserted:
                on_new(conn, [e for e in first.values() if e.event_id in inserted], batch)
        return StoreResult(tuple(first), len(inserted), len(batch.events) - len(inserted))

    def count_events(self) -> int:
        """How many events are stored."""
        with self.read() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one())

    # -- sanctions and standings (inside a `write()` transaction)

    @staticmethod
    def add_sanction(
        conn: Connection, code: str, sanction: Sanction, *, institution_code: str = "", note: str = ""
    ) -> int:
        """Record a sanction; its id."""
        result = conn.execute(
            sanctions.insert().values(
                practitioner_code=code,
                institution_code=institution_code,
                act=sanction.act,
                points=sanction.points,
                at=sanction.at,
                note=note,
                suspend_months=sanction.suspend_months,
            )
        )
        key = result.inserted_primary_key
        return int(key[0]) if key is not None else 0

    @staticmethod
    def sanctions_of(conn: Connection, code: str) -> list[Sanction]:
        """Every sanction of a practitioner, in recording order."""
        rows = conn.execute(
            sa.select(sanctions.c.at, sanctions.c.points, sanctions.c.act, sanctions.c.suspend_months)
            .where(sanctions.c.practitioner_code == code)
            .order_by(sanctions.c.id)
        )
        return [Sanction(at=r.at, points=r.points, act=r.act, suspend_months=r.suspend_months) for r in rows]

    @staticmethod
    def standing_row(conn: Connection, code: str, *, lock: bool = False) -> Standing | None:
        """The stored standing of a practitioner (row-locked on PostgreSQL when `lock`), None when never scored."""
        query = sa.select(practitioners).where(practitioners.c.code == code)
        row = conn.execute(query.with_for_update() if lock else query).one_or_none()
        if row is None:
            return None
        return Standing(year=row.year, points=row.points, status=row.status, until=row.until, reason=row.reason)

    @staticmethod
    def save_standing(conn: Connection, code: str, standing: Standing, changed_at: datetime) -> int:
        """Store a changed standing under the next global revision; that revision."""
        current = conn.execute(sa.select(sa.func.max(status_changes.c.revision))).scalar_one()
        revision = int(current or 0) + 1
        conn.execute(
            status_changes.insert().values(
                revision=revision,
                code=code,
                status=standing.status,
                until=standing.until,
                points=standing.points,
                at=_utc_text(changed_at),
            )
        )
        values = {
            "year": standing.year,
            "points": standing.points,
            "status": standing.status,
            "until": standing.until,
            "reason": standing.reason,
            "revision": revision,
        }
        updated = conn.execute(practitioners.update().where(practitioners.c.code == code).values(**values))
        if updated.rowcount == 0:
            conn.execute(practitioners.insert().values(code=code, **values))
        return revision

    @staticmethod
    def stale_codes(conn: Connection, today: date) -> list[str]:
        """Practitioners whose stored standing `today` may have moved on: a suspension ended, or a new year."""
        p = practitioners.c
        ended = sa.and_(p.status == SUSPENDED, p.until <= today)
        new_year = sa.and_(p.year < today.year, p.points > 0)
        return list(conn.execute(sa.select(p.code).where(sa.or_(ended, new_year)).order_by(p.code)).scalars())

    # -- statuses for agents

    def revision(self) -> int:
        """The latest revision (0 before any status change)."""
        with self.read() as conn:
            return int(conn.execute(sa.select(sa.func.max(status_changes.c.revision))).scalar_one() or 0)

    def statuses_since(self, since: int) -> tuple[int, list[StatusRow]]:
        """The revision reached and the standings changed after `since` (0: every practitioner ever scored)."""
        with self.read() as conn:
            # the revision first: a change committed between the two reads is sent now and again next time
            revision = int(conn.execute(sa.select(sa.func.max(status_changes.c.revision))).scalar_one() or 0)
            rows = conn.execute(
                sa.select(practitioners).where(practitioners.c.revision > since).order_by(practitioners.c.revision)
            ).all()
        found = [
            StatusRow(
                code=r.code,
                standing=Standing(year=r.year, points=r.points, status=r.status, until=r.until, reason=r.reason),
                revision=r.revision,
            )
            for r in rows
        ]
        return max([revision, *(row.revision for row in found)]), found
