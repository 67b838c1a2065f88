"""The outbox: record/take/delete in sequence order, ids never reused, bounded disk with a counted refusal and an
alarm logged once per crossing, metrics, and events that survive closing and reopening the file; its files are
opened with it, and threads that record later open none."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from fundguard.agent.uplink.outbox import Outbox

from ..open_files import needs_proc, open_files

T0 = datetime(2025, 6, 14, 9, 0, tzinfo=UTC)
AGENT = "agent-07"
MIB = 1024 * 1024


class Clock:
    """A settable clock."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def outbox(tmp_path: Path, max_bytes: int = 64 * MIB, clock: Clock | None = None, **kw: float) -> Outbox:
    """An outbox file in tmp_path."""
    return Outbox(tmp_path / "outbox.sqlite3", max_bytes, clock=clock or Clock(), agent_id=AGENT, **kw)


def test_record_take_delete_in_sequence_order(tmp_path: Path) -> None:
    """Ids are agent:seq with increasing seq; take gives the oldest first; delete removes exactly the acked ids."""
    box = outbox(tmp_path)
    ids = [box.record("check", f"M{n % 3}", "D1", {"n": n}) for n in range(10)]
    assert all(i is not None and i.startswith(f"{AGENT}:") for i in ids)
    seqs = [int(str(i).rpartition(":")[2]) for i in ids]
    assert list(range(seqs[0], seqs[0] + 10)) == seqs
    first = box.take(4)
    assert ids[:4] == [e.event_id for e in first]
    assert [{"n": n} for n in range(4)] == [json.loads(e.payload_json) for e in first]
    assert ("check", "M0", "D1") == (first[0].kind, first[0].mdtrt_id, first[0].practitioner_code)
    assert 2 == box.delete([ids[1], ids[3]])
    assert [ids[0], ids[2], ids[4]] == [e.event_id for e in box.take(3)]
    assert 8 == box.depth


def test_delete_is_idempotent_and_ignores_foreign_ids(tmp_path: Path) -> None:
    """Deleting an id twice removes it once; ids of other agents or malformed ids remove nothing."""
    box = outbox(tmp_path)
    first = box.record("check", "M1", "", {})
    assert first is not None
    assert 1 == box.delete([first])
    assert 0 == box.delete([first, "other-agent:1", f"{AGENT}:x", f"{AGENT}"])
    assert (0, []) == (box.depth, box.take(10))


def test_sequence_is_never_reused_after_emptying_or_reopening(tmp_path: Path) -> None:
    """An emptied outbox, and the same file reopened, continue after the highest id ever given."""
    box = outbox(tmp_path)
    ids = [box.record("check", "M1", "", {"n": n}) for n in range(3)]
    assert 3 == box.delete([i for i in ids if i])
    after_empty = box.record("check", "M1", "", {"n": 3})
    assert after_empty is not None
    assert 1 == box.delete([after_empty])
    box.close()
    again = outbox(tmp_path).record("check", "M1", "", {"n": 4})
    seq = [int(str(i).rpartition(":")[2]) for i in (*ids, after_empty, again)]
    assert sorted(set(seq)) == seq


def test_a_new_file_starts_at_its_creation_time(tmp_path: Path) -> None:
    """A fresh file numbers from its creation time in µs, so a file deleted by hand and re-created later gives
    ids above the old file's."""
    old = outbox(tmp_path, clock=Clock(T0))
    old_ids = [old.record("check", "", "", {}) for _ in range(5)]
    old.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{tmp_path / 'outbox.sqlite3'}{suffix}").unlink(missing_ok=True)
    new_id = outbox(tmp_path, clock=Clock(T0 + timedelta(seconds=1))).record("check", "", "", {})
    assert int(T0.timestamp() * 1_000_000) + 1 == int(str(old_ids[0]).rpartition(":")[2])
    assert int(str(new_id).rpartition(":")[2]) > max(int(str(i).rpartition(":")[2]) for i in old_ids)


def test_events_survive_close_and_reopen(tmp_path: Path) -> None:
    """What was recorded is in the file: a new Outbox on it has the same events, time stamps with offset."""
    clock = Clock()
    box = outbox(tmp_path, clock=clock)
    box.record("decision", "M9", "D2", {"jr_id": "J1"})
    box.record("dispense", "M9", "", {"rx_id": "1"}, at=T0 - timedelta(hours=1))
    box.close()
    reopened = outbox(tmp_path, clock=clock)
    events = reopened.take(10)
    assert ["decision", "dispense"] == [e.kind for e in events]
    assert ["2025-06-14T09:00:00.000000+00:00", "2025-06-14T08:00:00.000000+00:00"] == [e.occurred_at for e in events]
    assert 2 == reopened.depth


def test_metrics_depth_and_oldest_age(tmp_path: Path) -> None:
    """Depth counts waiting events; the oldest age is measured with the injected clock."""
    clock = Clock()
    box = outbox(tmp_path, clock=clock)
    assert (0, 0.0) == (box.metrics().depth, box.metrics().oldest_age_s)
    box.record("check", "M1", "", {})
    clock.now = T0 + timedelta(seconds=90)
    box.record("check", "M1", "", {})
    m = box.metrics()
    assert (2, 90.0, False, 0) == (m.depth, m.oldest_age_s, m.alarm, m.refused)
    assert m.bytes == box.disk_bytes() > 0


def test_full_outbox_refuses_and_counts_and_alarm_fires_once(tmp_path: Path) -> None:
    """Past max_bytes an event is refused (None) and counted; from the alarm ratio the alarm is up; each is logged
    once per crossing, not per event; after draining, the alarm clears and events are accepted again."""
    box = outbox(tmp_path, max_bytes=2 * MIB, alarm_ratio=0.5)
    body = {"blob": "x" * 2000}
    ids: list[str | None] = []
    with capture_logs() as logs:
        for n in range(3000):
            ids.append(box.record("check", "M1", "", body))
            if n % 50 == 0:
                box.maintain()  # as the uploader's thread does
    accepted = [i for i in ids if i is not None]
    m = box.metrics()
    assert 400 < len(accepted) < 1000  # 2 KB events (about one per 4 KiB page) in 2 MiB less the WAL allowance
    runs = sum(1 for n, i in enumerate(ids) if i is None and (n == 0 or ids[n - 1] is not None))
    assert ids[:300] == accepted[:300]  # refusals only near full (until a checkpoint frees WAL space, if at all)
    assert (3000 - len(accepted), True, True) == (m.refused, m.refusing, m.alarm)
    assert m.bytes <= 2 * MIB
    events = [e["event"] for e in logs]
    assert 1 == events.count("uplink.outbox_alarm")
    assert runs == events.count("uplink.event_refused")  # once per run of refusals, not per event
    with capture_logs() as logs:
        while taken := box.take(500):
            box.delete(e.event_id for e in taken)
            box.maintain()
        assert box.record("check", "M1", "", body) is not None
    assert ["uplink.outbox_accepting", "uplink.outbox_alarm_cleared"] == [e["event"] for e in logs]
    assert (False, False, 3000 - len(accepted)) == (box.metrics().alarm, box.metrics().refusing, box.refused)


def test_maintain_gives_space_back(tmp_path: Path) -> None:
    """Once drained, checkpoint + incremental vacuum shrink the file (the bound measures real disk use)."""
    box = outbox(tmp_path)
    for _ in range(2000):
        box.record("check", "M1", "", {"blob": "y" * 1000})
    box.maintain()
    full = box.disk_bytes()
    while taken := box.take(500):
        box.delete(e.event_id for e in taken)
    box.maintain()
    box.record("check", "M1", "", {})  # the next write resets the WAL
    box.maintain()
    assert box.disk_bytes() < full / 4


def test_concurrent_recorders_get_distinct_ids(tmp_path: Path) -> None:
    """Threads recording at once (through the one writer connection) lose nothing and share no id."""
    box = outbox(tmp_path)
    out: list[str | None] = []
    lock = threading.Lock()

    def work(k: int) -> None:
        mine = [box.record("check", f"M{k}", "", {"k": k, "n": n}) for n in range(200)]
        with lock:
            out.extend(mine)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 1600 == len(set(out)) == box.depth
    assert None not in out
    by_encounter: dict[str, list[int]] = {}
    for e in box.take(2000):
        by_encounter.setdefault(e.mdtrt_id, []).append(json.loads(e.payload_json)["n"])
    assert all(list(range(200)) == ns for ns in by_encounter.values())


def test_bad_bounds_are_refused(tmp_path: Path) -> None:
    """max_bytes must be positive and alarm_ratio in (0, 1]."""
    with pytest.raises(ValueError, match="alarm_ratio"):
        outbox(tmp_path, alarm_ratio=0)


@needs_proc
def test_new_threads_open_no_files(tmp_path: Path) -> None:
    """The outbox's files are opened with it (the writer and two readers: database and WAL each, and the shared
    memory index); sixteen new threads, twice, recording at once while the uploader's work (take, delete, maintain)
    and metrics run on threads of their own, leave them as they were; close() closes them all, and an event
    recorded afterwards is refused and counted."""
    box = outbox(tmp_path)
    at_start = open_files(tmp_path)
    assert Counter({"outbox.sqlite3": 3, "outbox.sqlite3-wal": 3, "outbox.sqlite3-shm": 1}) == at_start

    def record(k: int) -> None:
        assert box.record("check", f"M{k}", "", {"k": k}) is not None

    def upload() -> None:
        box.delete(e.event_id for e in box.take(10))
        box.maintain()
        box.metrics()

    for _ in range(2):
        threads = [threading.Thread(target=record, args=(k,)) for k in range(16)]
        threads += [threading.Thread(target=upload), threading.Thread(target=box.metrics)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert at_start == open_files(tmp_path)
    box.close()
    assert Counter() == open_files(tmp_path)
    assert (None, 1) == (box.record("check", "M0", "", {}), box.refused)
