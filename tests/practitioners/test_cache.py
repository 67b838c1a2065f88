"""The status cache: answers of `PractitionerStatuses` merge by revision (a full answer replaces), a normal status
drops the practitioner, bad entries are skipped naming their field, a revision that goes back asks for a full
resynchronisation, snapshots are prepared (never copied per check) and immutable, and a restarted agent reads the
persisted cache and enforces it offline."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from fundguard.agent.engine import CompiledKB, check
from fundguard.agent.engine.model import CheckRequest, Encounter, OrderLine, Patient
from fundguard.agent.engine.practitioner_model import Qualification
from fundguard.agent.practitioners import CACHE_FILE, StatusCache
from fundguard.v1.central_pb2 import PractitionerStatus, StatusesResponse

DOC = "D110101000001"
OTHER = "N440300000042"


def answer(revision: int, *statuses: tuple[str, str, str]) -> StatusesResponse:
    """An answer bringing the agent to `revision` with (code, status, until) entries."""
    return StatusesResponse(
        revision=revision,
        statuses=[
            PractitionerStatus(practitioner_code=c, status=s, until=u, points=9, year=2026) for c, s, u in statuses
        ],
    )


def order_by(code: str, day: date) -> CheckRequest:
    """One current order line by `code` on `day`."""
    line = OrderLine("1", "XA11DAW036A001010104127", Decimal(1), Decimal(5), Decimal(5), begn_date=day,
                     drord_dr_codg=code)  # fmt: skip
    return CheckRequest("1", Patient("P1", "1", date(1970, 1, 1)), Encounter("E1", med_type="11", orders=(line,)))


def blocked(kb: CompiledKB, cache: StatusCache, code: str, day: date) -> bool:
    """Whether the engine, given the cache's snapshot, blocks an order by `code` on `day`."""
    alerts = check(order_by(code, day), kb, day, "J", practitioners=cache.facts()).alerts
    return any(a.rule_id == "FG-PRACT-SUSPENDED" for a in alerts)


def test_answers_merge_by_revision_and_normal_drops_the_practitioner(tmp_path: Path) -> None:
    """Revision 3 suspends one doctor and terminates another; revision 5 restores the first to normal."""
    cache = StatusCache(tmp_path / CACHE_FILE)
    applied = cache.apply(answer(3, (DOC, "suspended", "2026-04-01"), (OTHER, "terminated", "")), full=True)
    assert (3, 2, 0, True) == (applied.revision, applied.changed, applied.skipped, applied.full)
    expected = (Qualification("suspended", date(2026, 4, 1)), Qualification("terminated"))
    assert expected == (cache.get(DOC), cache.get(OTHER))
    cache.apply(answer(5, (DOC, "normal", "")))
    assert (5, None, 1) == (cache.revision, cache.get(DOC), len(cache))


def test_a_full_answer_replaces_everything(tmp_path: Path) -> None:
    """An answer to a request since revision 0 is the whole picture: what it does not list is normal."""
    cache = StatusCache()
    cache.apply(answer(3, (DOC, "terminated", "")), full=True)
    cache.apply(answer(7, (OTHER, "warned", "")), full=True)
    assert (7, None, Qualification("warned")) == (cache.revision, cache.get(DOC), cache.get(OTHER))


def test_snapshots_are_prepared_shared_and_immutable() -> None:
    """facts() hands out the same prepared object until the next update; both flavours share one mapping; an
    update does not touch a snapshot already handed out; the mapping cannot be written."""
    cache = StatusCache()
    cache.apply(answer(1, (DOC, "terminated", "")), full=True)
    off, on = cache.facts(), cache.facts(check_code_format=True)
    assert (True, True, False, True) == (off is cache.facts(), on is cache.facts(True), off.check_code_format,
                                         on.check_code_format)  # fmt: skip
    assert off.statuses is on.statuses
    cache.apply(answer(2, (DOC, "normal", "")))
    assert (DOC in off.statuses, DOC in cache.facts().statuses) == (True, False)
    with pytest.raises(TypeError):
        off.statuses[OTHER] = Qualification("terminated")  # type: ignore[index]


def test_a_timed_out_long_poll_changes_nothing_and_writes_nothing(tmp_path: Path) -> None:
    """An answer with the same revision and no statuses is a no-op: the file is not rewritten."""
    path = tmp_path / CACHE_FILE
    cache = StatusCache(path)
    cache.apply(answer(4, (DOC, "terminated", "")), full=True)
    path.unlink()
    applied = cache.apply(answer(4))
    assert (4, 0, False) == (applied.revision, applied.changed, path.exists())


def test_bad_entries_are_skipped_naming_their_field() -> None:
    """An empty code or an unknown status is skipped (logged with its field); a suspension whose end date cannot
    be read is kept without an end; upper-case and padded statuses are accepted."""
    cache = StatusCache()
    with capture_logs() as logs:
        bad = answer(2, ("  ", "terminated", ""), (DOC, "banned", ""), (OTHER, "suspended", "2026/04/01"),
                     ("D110101000003", " TERMINATED ", ""))  # fmt: skip
        applied = cache.apply(bad)
    fields = [e["field"] for e in logs if e["event"] == "practitioners.invalid_status"]
    assert ["statuses[0].practitioner_code", "statuses[1].status", "statuses[2].until"] == fields
    assert (2, 2, None) == (applied.skipped, applied.changed, cache.get(DOC))
    assert (Qualification("suspended"), Qualification("terminated")) == (cache.get(OTHER), cache.get("D110101000003"))


def test_a_revision_that_goes_back_keeps_enforcing_and_asks_for_everything(default_kb: CompiledKB) -> None:
    """The central platform lost its history (answer revision < held): statuses stay enforced, the revision drops
    to 0 so the next request is a full one, whose answer replaces the cache."""
    cache = StatusCache()
    cache.apply(answer(9, (DOC, "terminated", "")), full=True)
    applied = cache.apply(answer(2, (OTHER, "terminated", "")))
    assert (True, 0, None) == (applied.resync, cache.revision, cache.get(OTHER))
    assert blocked(default_kb, cache, DOC, date(2026, 3, 2))
    cache.apply(answer(2, (OTHER, "terminated", "")), full=True)
    assert (2, None, Qualification("terminated")) == (cache.revision, cache.get(DOC), cache.get(OTHER))


def test_a_restarted_agent_enforces_the_persisted_cache(tmp_path: Path, default_kb: CompiledKB) -> None:
    """The JSON file holds revision and statuses; a new cache on the same file blocks the suspended doctor's order
    before the end date and not after it, without any central platform."""
    path = tmp_path / "data" / CACHE_FILE
    StatusCache(path).apply(answer(12, (DOC, "suspended", "2026-04-01"), (OTHER, "warned", "")), full=True)
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert (12, {"status": "suspended", "until": "2026-04-01"}) == (doc["revision"], doc["statuses"][DOC])
    restarted = StatusCache(path)
    assert (12, 2) == (restarted.revision, len(restarted))
    assert (True, False) == (blocked(default_kb, restarted, DOC, date(2026, 3, 31)),
                             blocked(default_kb, restarted, DOC, date(2026, 4, 1)))  # fmt: skip
    assert [] == [p.name for p in path.parent.iterdir() if p.name != CACHE_FILE]  # no temp file left behind


def test_an_unreadable_file_starts_empty_naming_the_problem(tmp_path: Path) -> None:
    """Broken JSON or a wrong shape: logged (naming the field), empty at revision 0, so the next poll is full."""
    path = tmp_path / CACHE_FILE
    for content, reason in [("{not json", "Expecting property name"),
                            ('{"format": "fundguard-practitioner-statuses", "version": 1, "revision": 3, '
                             '"statuses": {"D1": {"status": "suspended", "until": "soon"}}}', "statuses.D1.until"),
                            ('{"format": "other", "version": 1}', "format")]:  # fmt: skip
        path.write_text(content, encoding="utf-8")
        with capture_logs() as logs:
            cache = StatusCache(path)
        assert (0, 0) == (cache.revision, len(cache))
        assert any(e["event"] == "practitioners.cache_unreadable" and reason in e["reason"] for e in logs), logs


def test_a_failed_write_is_counted_and_the_update_still_applies(tmp_path: Path) -> None:
    """The data dir is not writable (here: a file where the directory should be): the update is enforced in
    memory, the failure logged and counted."""
    (tmp_path / "blocker").write_text("", encoding="utf-8")
    cache = StatusCache(tmp_path / "blocker" / CACHE_FILE)
    with capture_logs() as logs:
        cache.apply(answer(1, (DOC, "terminated", "")), full=True)
    assert (1, Qualification("terminated"), 1) == (cache.revision, cache.get(DOC), cache.save_failures)
    assert ["practitioners.save_failed"] == [e["event"] for e in logs if e["log_level"] == "error"]
