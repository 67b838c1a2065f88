"""The central store's tables (SQLAlchemy Core) and how a database URL becomes an engine.

SQLite by default (a file URL such as `sqlite:///central.sqlite3`), PostgreSQL by URL
(`postgresql+psycopg://user@host/db`); every statement the platform runs is Core, so the dialect writes the SQL.
Dates are `Date` columns, instants ISO 8601 text in UTC (the same on every dialect), payloads JSON text as received.

SQLite gets WAL, `synchronous=FULL` (an acknowledged upload survives a power cut), a 30 s busy timeout, and
`BEGIN IMMEDIATE` for write transactions (`WRITE_OPTION` set on the connection): two writers then queue on the
database lock instead of failing when a read would be upgraded to a write. Reads begin a plain deferred transaction.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url

__all__ = [
    "WRITE_OPTION",
    "events",
    "metadata",
    "open_engine",
    "practitioners",
    "sanctions",
    "status_changes",
]

WRITE_OPTION = "fundguard_write"  # execution option: this connection's next transaction writes
SQLITE_BUSY_MS = 30_000

metadata = sa.MetaData()

events = sa.Table(
    "events",
    metadata,
    sa.Column("event_id", sa.String(128), primary_key=True),  # "<agent_id>:<outbox seq>", the idempotency key
    sa.Column("agent_id", sa.String(64), nullable=False),
    sa.Column("institution_code", sa.String(16), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("occurred_at", sa.String(40), nullable=False),  # ISO 8601 with the agent's offset, as sent
    sa.Column("mdtrt_id", sa.String(128), nullable=False),
    sa.Column("practitioner_code", sa.String(32), nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),  # the event's JSON object, as sent
    sa.Column("received_at", sa.String(40), nullable=False),  # ISO 8601 UTC
    sa.Index("ix_events_institution_practitioner", "institution_code", "practitioner_code"),
    sa.Index("ix_events_agent_seq", "agent_id", "seq"),
)

practitioners = sa.Table(
    "practitioners",
    metadata,
    sa.Column("code", sa.String(32), primary_key=True),  # 医保医师代码
    sa.Column("year", sa.Integer, nullable=False),  # the natural year `points` count in
    sa.Column("points", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # normal | warned | suspended | terminated
    sa.Column("until", sa.Date, nullable=True),  # suspended until (exclusive)
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("revision", sa.BigInteger, nullable=False),  # the status change that set this row
    sa.Index("ix_practitioners_revision", "revision"),
)

sanctions = sa.Table(
    "sanctions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("practitioner_code", sa.String(32), nullable=False),
    sa.Column("institution_code", sa.String(16), nullable=False),
    sa.Column("act", sa.String(64), nullable=False),
    sa.Column("points", sa.Integer, nullable=False),
    sa.Column("at", sa.Date, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    # the suspension length this sanction carries if it crosses 9 points: fixed when it is given, so a later
    # change of the points file never rewrites a past suspension
    sa.Column("suspend_months", sa.Integer, nullable=False),
    sa.Index("ix_sanctions_practitioner", "practitioner_code"),
)

status_changes = sa.Table(
    "status_changes",
    metadata,
    # assigned as max + 1 inside the writing transaction: committed revisions are always a gap-free prefix, so a
    # poller that saw revision N has seen every change up to N (a concurrent writer's duplicate key is retried)
    sa.Column("revision", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("code", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("until", sa.Date, nullable=True),
    sa.Column("points", sa.Integer, nullable=False),
    sa.Column("at", sa.String(40), nullable=False),  # ISO 8601 UTC
)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    """Per new SQLite connection: driver autocommit (we emit BEGIN ourselves), WAL, full sync, busy timeout."""
    dbapi_connection.isolation_level = None
    for pragma in ("journal_mode=WAL", "synchronous=FULL", f"busy_timeout={SQLITE_BUSY_MS}", "foreign_keys=ON"):
        dbapi_connection.execute(f"PRAGMA {pragma}")


def _sqlite_begin(conn: Connection) -> None:
    """BEGIN IMMEDIATE for a write transaction (takes the lock up front), BEGIN for a read."""
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE_OPTION) else "BEGIN")


def open_engine(url: str) -> Engine:
    """An engine for `url` with the tables created if missing; ValueError naming `db` for an unusable URL."""
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError as exc:
        raise ValueError(f"db: not a database URL ({exc})") from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ValueError(f"db: {backend} is not supported (sqlite or postgresql)")
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise ValueError("db: an in-memory SQLite database is not shared between connections; give a file")
        engine = sa.create_engine(parsed, connect_args={"check_same_thread": False})
        sa.event.listen(engine, "connect", _sqlite_connect)
        sa.event.listen(engine, "begin", _sqlite_begin)
    else:
        engine = sa.create_engine(parsed, pool_pre_ping=True)
    metadata.create_all(engine)
    return engine
