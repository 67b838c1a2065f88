"""The central store on SQLite: each event stored once (repeats, overlapping concurrent batches), statuses by
revision, and portable SQL (the PostgreSQL dialect compiles the same statements)."""

from __future__ import annotations

import re
import threading
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from fundguard.central.schema import events, open_engine, status_changes
from fundguard.central.standing import Standing
from fundguard.central.store import Store, StoreResult, dedupe_insert

from .events import AGENT, DOCTOR, INSTITUTION, OTHER_DOCTOR, batch, event

CHANGED = datetime(2026, 3, 1, tzinfo=UTC)


def test_same_batch_twice_is_stored_once(store: Store) -> None:
    """The second upload of a batch stores nothing, counts duplicates and still lists every id as stored."""
    sent = batch([event(1), event(2), event(3, "decision")])
    first = store.store_events(sent)
    again = store.store_events(sent)
    ids = (f"{AGENT}:1", f"{AGENT}:2", f"{AGENT}:3")
    assert StoreResult(ids, 3, 0) == first
    assert StoreResult(ids, 0, 3) == again
    assert 3 == store.count_events()


def test_a_repeat_inside_a_batch_is_a_duplicate(store: Store) -> None:
    """The same event id twice in one batch is stored once and listed once."""
    assert StoreResult((f"{AGENT}:1",), 1, 1) == store.store_events(batch([event(1), event(1)]))


def test_stored_columns(store: Store) -> None:
    """Every field of the event, its agent, institution and arrival are stored; the payload as sent."""
    store.store_events(batch([event(7, "decision", payload={"dspo_way": "1", "名": "值"})]))
    with store.read() as conn:
        row = conn.execute(sa.select(events)).one()
    expected = (f"{AGENT}:7", AGENT, INSTITUTION, "decision", "MDTRT-1", DOCTOR, 7, '{"dspo_way": "1", "名": "值"}')
    actual = (
        row.event_id, row.agent_id, row.institution_code, row.kind, row.mdtrt_id, row.practitioner_code, row.seq,
        row.payload,
    )  # fmt: skip
    assert expected == actual
    assert row.received_at.startswith("2026-03-01T01:00:00")


def test_concurrent_overlapping_batches_store_each_event_once(store: Store) -> None:
    """Eight threads upload overlapping ranges at once: the new counts add up to the distinct events, every
    thread's ack lists its own ids, and the table holds each event once."""
    ranges = [range(start, start + 60) for start in range(0, 160, 20)]
    results: list[StoreResult] = [StoreResult((), 0, 0)] * len(ranges)
    barrier = threading.Barrier(len(ranges))

    def send(i: int) -> None:
        barrier.wait()
        results[i] = store.store_events(batch([event(seq) for seq in ranges[i]]))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(ranges))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    distinct = {seq for r in ranges for seq in r}
    assert len(distinct) == sum(r.new for r in results)
    assert len(distinct) == store.count_events()
    assert [tuple(f"{AGENT}:{seq}" for seq in r) for r in ranges] == [r.stored_ids for r in results]


def test_on_new_sees_only_what_this_call_stored(store: Store) -> None:
    """The hook runs in the upload's transaction with the newly stored events only."""
    store.store_events(batch([event(1)]))
    seen: list[str] = []
    store.store_events(batch([event(1), event(2)]), on_new=lambda _conn, new, _b: seen.extend(e.event_id for e in new))
    assert [f"{AGENT}:2"] == seen


def test_a_failing_hook_rolls_the_batch_back(store: Store) -> None:
    """Events and scoring commit together: when the hook fails nothing of the batch is stored."""

    def fail(*_args: object) -> None:
        raise RuntimeError("scoring failed")

    with pytest.raises(RuntimeError):
        store.store_events(batch([event(1)]), on_new=fail)
    assert 0 == store.count_events()


def test_statuses_since_a_revision(store: Store) -> None:
    """Each saved standing takes the next revision; `statuses_since` returns those after the caller's."""
    warned = Standing(2026, 5, "warned", None, "2026年度累计记分5分")
    suspended = Standing(2026, 9, "suspended", date(2026, 6, 1), "…")
    with store.write() as conn:
        first = store.save_standing(conn, DOCTOR, warned, CHANGED)
    with store.write() as conn:
        second = store.save_standing(conn, OTHER_DOCTOR, warned, CHANGED)
        third = store.save_standing(conn, DOCTOR, suspended, CHANGED)
    revision, rows = store.statuses_since(first)
    assert (1, 2, 3) == (first, second, third)
    assert 3 == revision == store.revision()
    assert [(OTHER_DOCTOR, warned, 2), (DOCTOR, suspended, 3)] == [(r.code, r.standing, r.revision) for r in rows]
    assert (3, []) == store.statuses_since(3)
    with store.read() as conn:
        assert [1, 2, 3] == list(conn.execute(sa.select(status_changes.c.revision)).scalars())


def test_empty_store_is_revision_0(store: Store) -> None:
    """Before any change the revision is 0 and there is nothing to send."""
    assert (0, []) == store.statuses_since(0)


def test_reopening_keeps_everything(tmp_path: Path) -> None:
    """Tables are created once; a second open of the same file sees the stored events."""
    url = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    first = Store.open(url)
    first.store_events(batch([event(1)]))
    first.close()
    second = Store.open(url)
    assert 1 == second.count_events()
    second.close()


@pytest.mark.parametrize(
    ("url", "problem"),
    [("sqlite://", "in-memory"), ("mysql://u@h/db", "not supported"), ("not a url", "not a database URL")],
)
def test_unusable_urls_are_refused_naming_db(url: str, problem: str) -> None:
    """An in-memory SQLite, another database, or garbage is refused with the field `db`."""
    with pytest.raises(ValueError, match=rf"^db: .*{problem}"):
        open_engine(url)


def test_insert_ignoring_duplicates_compiles_for_postgresql() -> None:
    """The dedupe statement is the dialect's INSERT … ON CONFLICT DO NOTHING RETURNING (portable, not SQLite-only)."""
    for name, dialect in (("postgresql", postgresql.dialect()), ("sqlite", sqlite.dialect())):
        sql = str(dedupe_insert(name).compile(dialect=dialect))
        assert re.search(r"ON CONFLICT \(event_id\) DO NOTHING RETURNING (events\.)?event_id$", sql), sql
