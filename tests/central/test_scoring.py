"""Scoring on a real store: sanctions become standings under new revisions; 9 points suspend, 12 terminate, the
new year resets points; time-driven changes are published by `refresh`; behaviours score only when configured."""

from __future__ import annotations

import threading
from datetime import date

import pytest
import sqlalchemy as sa

from fundguard.central.points import DEFAULT_TABLE, table_from
from fundguard.central.schema import sanctions, status_changes
from fundguard.central.scoring import SanctionRefused, Scorer
from fundguard.central.standing import SUSPENDED, TERMINATED, WARNED
from fundguard.central.store import Store

from .events import DOCTOR, INSTITUTION, OTHER_DOCTOR, Today, batch, event


def scorer_on(store: Store, today: Today, published: list[int] | None = None, **table: object) -> Scorer:
    """A scorer with a settable today, recording what it publishes."""
    sink = published if published is not None else []
    return Scorer(store, table_from(table) if table else DEFAULT_TABLE, today=today, on_change=sink.append)


def test_nine_points_suspend_and_twelve_terminate(store: Store) -> None:
    """8 points warn, the 9th suspends for 3 months from its date, 12 terminate; each change a new revision,
    published after its commit."""
    published: list[int] = []
    scorer = scorer_on(store, Today(date(2026, 3, 20)), published)
    first = scorer.apply_sanction(DOCTOR, act="art38_main", at=date(2026, 3, 1), institution_code=INSTITUTION)
    second = scorer.apply_sanction(DOCTOR, points=1, at=date(2026, 3, 10))
    third = scorer.apply_sanction(DOCTOR, act="charging_error")
    fourth = scorer.apply_sanction(DOCTOR, points=2)
    expected = [
        (8, WARNED, None, 1),
        (9, SUSPENDED, date(2026, 6, 10), 2),
        (10, SUSPENDED, date(2026, 6, 10), 3),
        (12, TERMINATED, None, 4),
    ]
    actual = [(o.after.points, o.after.status, o.after.until, o.revision) for o in (first, second, third, fourth)]
    assert expected == actual
    assert [1, 2, 3, 4] == published
    revision, rows = store.statuses_since(1)
    assert (4, [(DOCTOR, TERMINATED)]) == (revision, [(r.code, r.standing.status) for r in rows])


def test_the_new_year_resets_points_but_not_the_suspension(store: Store) -> None:
    """9 points in December suspend into the next year; on 1 January refresh publishes 0 points (still
    suspended); 3 more points in January make 3, not 12; once the suspension ends the doctor is warned."""
    today = Today(date(2025, 12, 1))
    published: list[int] = []
    scorer = scorer_on(store, today, published)
    december = scorer.apply_sanction(DOCTOR, points=9)
    today.day = date(2026, 1, 1)
    new_year = scorer.refresh()
    on_new_year = [(r.code, r.standing.status, r.standing.points, r.standing.year) for r in store.statuses_since(1)[1]]
    today.day = date(2026, 1, 5)
    january = scorer.apply_sanction(DOCTOR, points=3)
    today.day = date(2026, 3, 1)
    ended = scorer.refresh()
    _, rows = store.statuses_since(0)
    assert (SUSPENDED, date(2026, 3, 1), 9) == (december.after.status, december.after.until, december.after.points)
    assert [2] == new_year
    assert [(DOCTOR, SUSPENDED, 0, 2026)] == on_new_year
    assert (SUSPENDED, 3, 2026) == (january.after.status, january.after.points, january.after.year)
    assert [4] == ended
    assert [(DOCTOR, WARNED, 3, None)] == [
        (r.code, r.standing.status, r.standing.points, r.standing.until) for r in rows
    ]
    assert [1, 2, 3, 4] == published


def test_refresh_without_anything_due_changes_nothing(store: Store) -> None:
    """No stale standing: no revision, nothing published."""
    published: list[int] = []
    scorer = scorer_on(store, Today(date(2026, 3, 20)), published)
    scorer.apply_sanction(DOCTOR, points=2)
    assert ([], [1]) == (scorer.refresh(), published)


def test_a_sanction_that_changes_nothing_makes_no_revision(store: Store) -> None:
    """A back-dated sanction of a past year is recorded but does not change this year's standing."""
    scorer = scorer_on(store, Today(date(2026, 3, 20)))
    scorer.apply_sanction(DOCTOR, points=2)
    past = scorer.apply_sanction(DOCTOR, points=3, at=date(2025, 5, 1))
    assert (None, 2) == (past.revision, past.after.points)
    with store.read() as conn:
        assert 2 == conn.execute(sa.select(sa.func.count()).select_from(sanctions)).scalar_one()


def test_sanction_is_recorded_with_its_details(store: Store) -> None:
    """The sanction row keeps institution, act, points, date, note and the suspension months in force."""
    scorer = scorer_on(store, Today(date(2026, 3, 20)), suspend_months=5)
    scorer.apply_sanction(DOCTOR, act="art38_general", at=date(2026, 3, 2), institution_code=INSTITUTION, note="稽核")
    with store.read() as conn:
        row = conn.execute(sa.select(sanctions)).one()
    expected = (DOCTOR, INSTITUTION, "art38_general", 5, date(2026, 3, 2), "稽核", 5)
    actual = (row.practitioner_code, row.institution_code, row.act, row.points, row.at, row.note, row.suspend_months)
    assert expected == actual


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"code": "D 1"}, "practitioner"),
        ({"act": "made_up"}, "act"),
        ({"act": "art38_main", "points": 3}, "act"),
        ({"act": None}, "act"),
        ({"act": None, "points": 13}, "points"),
        ({"act": None, "points": 0}, "points"),
        ({"at": date(2026, 3, 21)}, "at"),
        ({"suspend_months": 7}, "suspend_months"),
        ({"institution_code": "H123"}, "institution"),
    ],
)
def test_refused_sanctions_name_the_argument(store: Store, kwargs: dict[str, object], field: str) -> None:
    """Bad arguments are refused before anything is written, naming the argument."""
    args: dict[str, object] = {"code": DOCTOR, "act": "art38_main", **kwargs}
    code = args.pop("code")
    assert isinstance(code, str)
    with pytest.raises(SanctionRefused) as caught:
        scorer_on(store, Today(date(2026, 3, 20))).apply_sanction(code, **args)  # type: ignore[arg-type]
    assert field == caught.value.field
    assert 0 == store.revision()


def test_concurrent_sanctions_get_distinct_gap_free_revisions(store: Store) -> None:
    """Sanctions from many threads at once: every one counted, revisions 1..n without gaps or repeats."""
    scorer = scorer_on(store, Today(date(2026, 3, 20)))
    doctors = [f"D1101080000{i:02d}" for i in range(8)]
    barrier = threading.Barrier(len(doctors) * 2)

    def give(code: str) -> None:
        barrier.wait()
        scorer.apply_sanction(code, points=1)

    threads = [threading.Thread(target=give, args=(code,)) for code in doctors * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _, rows = store.statuses_since(0)
    with store.read() as conn:
        revisions = list(conn.execute(sa.select(status_changes.c.revision).order_by(status_changes.c.revision)))
    assert list(range(1, 17)) == [r.revision for r in revisions]
    assert {(code, 2) for code in doctors} == {(r.code, r.standing.points) for r in rows}


def test_behaviours_score_only_when_configured_and_only_once(store: Store) -> None:
    """With `continued_past_block = 3`, three overrides of block alerts suspend the doctor; uploading the same
    batch again scores nothing more; other events and other doctors are untouched."""
    published: list[int] = []
    scorer = scorer_on(store, Today(date(2026, 3, 20)), published, events={"continued_past_block": 3})
    override = {"dspo_way": "1", "workflow_impact": "block"}
    sent = batch([
        event(1, "decision", payload=override),
        event(2, "decision", payload=override),
        event(3, "decision", payload={"dspo_way": "2", "workflow_impact": "block"}),
        event(4, "decision", payload=override, practitioner=OTHER_DOCTOR),
        event(5, "decision", payload=override),
        event(6, "decision", payload=override, practitioner=""),
    ])  # fmt: skip
    first = scorer.ingest(sent)
    again = scorer.ingest(sent)
    _, rows = store.statuses_since(0)
    standings = {r.code: (r.standing.status, r.standing.points) for r in rows}
    assert (6, 0, 6) == (first.new, again.new, again.duplicates)
    assert {DOCTOR: (SUSPENDED, 9), OTHER_DOCTOR: (WARNED, 3)} == standings
    assert published and max(published) == store.revision()


def test_default_table_never_scores_uploads(store: Store) -> None:
    """Behaviours are 0 points by default: uploads store events and no sanction."""
    scorer = scorer_on(store, Today(date(2026, 3, 20)))
    scorer.ingest(batch([event(1, "decision", payload={"dspo_way": "1", "workflow_impact": "block"})]))
    assert (0, 1) == (store.revision(), store.count_events())
    assert (0, []) == store.statuses_since(0)


def test_block_alerts_score_the_doctor_of_the_line(store: Store) -> None:
    """With `block_alert = 4`, a check whose block alert concerns another doctor's line scores that doctor, once
    per check however many block alerts they have in it."""
    scorer = scorer_on(store, Today(date(2026, 3, 20)), events={"block_alert": 4})
    line_block = {"workflow_impact": "block", "practitioner_code": OTHER_DOCTOR}
    scorer.ingest(batch([event(1, payload={"alerts": [line_block, line_block, {"workflow_impact": "info"}]})]))
    _, rows = store.statuses_since(0)
    assert [(OTHER_DOCTOR, 4)] == [(r.code, r.standing.points) for r in rows]
