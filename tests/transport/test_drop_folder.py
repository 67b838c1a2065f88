"""The drop folder on the embedded default KB: results, rejections, ignored names, name reuse, crash recovery at
start (every state a crash can leave in .work/), kill -9 under load, and malformed input (in-process and on disk).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from fundguard.agent.config import DropSettings
from fundguard.agent.kb import KbStore
from fundguard.agent.service import CheckService
from fundguard.agent.transport.drop_folder import Answer, DropFolderListener, Settling, answer
from fundguard.knowledge_base import default_bundle_path
from tests.samples import SEX_DRUG_RULE_ID, compliant_3101, male_iud_3101

CHILD = Path(__file__).with_name("drop_folder_child.py")
NOW = datetime(2025, 6, 14, 15, 0)
MISSING_GEND = "input.data.patient_dtos[0].gend: is required"


def clock() -> datetime:
    """The agent's clock in these tests."""
    return NOW


@pytest.fixture(scope="module")
def store() -> KbStore:
    """A store with the embedded default KB loaded."""
    kb_store = KbStore()
    kb_store.load(default_bundle_path())
    return kb_store


@pytest.fixture(scope="module")
def service(store: KbStore) -> CheckService:
    """A check service on the default KB with a fixed clock."""
    return CheckService(store, clock=clock)


def listener_for(root: Path, service: CheckService, **kw: Any) -> DropFolderListener:
    """A listener on `root` that polls often and does not wait for files to settle."""
    return DropFolderListener(DropSettings(root, poll_seconds=0.05), service, clock, settle_seconds=0, **kw)


@pytest.fixture
def drop(tmp_path: Path, service: CheckService) -> Iterator[DropFolderListener]:
    """A started drop folder under tmp_path/drop."""
    listener = listener_for(tmp_path / "drop", service)
    listener.start()
    yield listener
    listener.stop()


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Wait until `predicate()` holds (fails the test after `timeout` seconds: a hang guard, not a timing check)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.005)


def listing(folder: Path) -> list[str]:
    """The names in `folder`, sorted (none while it does not exist)."""
    return sorted(os.listdir(folder)) if folder.exists() else []


def request_bytes(doc: Any) -> bytes:
    """A request document as the HIS would write it."""
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def male_iud(mdtrt_id: str = "2001668") -> dict[str, Any]:
    """The male-IUD 3101 request with its encounter renumbered."""
    doc = male_iud_3101()
    patient = doc["input"]["data"]["patient_dtos"][0]
    patient["curr_mdtrt_id"] = mdtrt_id
    patient["fsi_encounter_dtos"][0]["mdtrt_id"] = mdtrt_id
    return doc


def without_gend() -> dict[str, Any]:
    """The male-IUD request without the patient's sex."""
    doc = male_iud_3101()
    del doc["input"]["data"]["patient_dtos"][0]["gend"]
    return doc


def drop_file(root: Path, name: str, data: bytes) -> None:
    """Write as HIS should: a .tmp name, then a rename into inbox/."""
    tmp = root / "inbox" / f"{name}.tmp"
    tmp.write_bytes(data)
    tmp.rename(root / "inbox" / name)


def rule_ids(path: Path) -> list[str]:
    """The rule ids in a national response file (which must say infcode 0)."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert 0 == doc["infcode"]
    return [r["rule_id"] for r in doc["output"]["result"]]


# ---- answering ---------------------------------------------------------------------------------------------------


def test_valid_file_gets_a_national_result_in_outbox_and_moves_to_done(drop: DropFolderListener) -> None:
    """A male patient's IUD file: outbox/NAME is the national response with the sex alert; the request is in done/."""
    root = Path(drop.address)
    drop_file(root, "2001668.json", request_bytes(male_iud()))
    wait_for(lambda: 1 == drop.done, "the result")
    assert SEX_DRUG_RULE_ID in rule_ids(root / "outbox" / "2001668.json")
    assert request_bytes(male_iud()) == (root / "done" / "2001668.json").read_bytes()
    assert ([], [], [], 1, 0) == (listing(root / "inbox"), listing(root / ".work"), listing(root / "rejected"),
                                  drop.done, drop.rejected)  # fmt: skip


def test_not_json_is_rejected_with_an_error_file(drop: DropFolderListener) -> None:
    """A file that is not JSON goes to rejected/ unchanged, with NAME.error saying so, and gets no result."""
    root = Path(drop.address)
    drop_file(root, "bad.json", b"{not json")
    wait_for(lambda: 1 == drop.rejected, "the rejection")
    assert b"{not json" == (root / "rejected" / "bad.json").read_bytes()
    assert (root / "rejected" / "bad.json.error").read_text(encoding="utf-8").startswith("not JSON (")
    assert ([], [], 0, 1) == (listing(root / "outbox"), listing(root / "done"), drop.done, drop.rejected)


def test_missing_field_is_rejected_naming_the_national_field(drop: DropFolderListener) -> None:
    """A request without the patient's sex is rejected; the .error file names the national field path."""
    root = Path(drop.address)
    drop_file(root, "nogend.json", request_bytes(without_gend()))
    wait_for((root / "rejected" / "nogend.json").exists, "the rejection")
    assert f"{MISSING_GEND}\n" == (root / "rejected" / "nogend.json.error").read_text(encoding="utf-8")


def test_files_there_before_start_are_answered_in_name_order(tmp_path: Path, service: CheckService) -> None:
    """Files that arrived while the agent was down are answered at start, in name order."""
    root = tmp_path / "drop"
    (root / "inbox").mkdir(parents=True)
    names = ["b.json", "a.json", "c.json"]
    for n, name in enumerate(names):
        (root / "inbox" / name).write_bytes(request_bytes(male_iud(f"E{n}")))
    listener = listener_for(root, service)
    with capture_logs() as events:
        listener.start()
        wait_for(lambda: 3 == len(listing(root / "outbox")), "three results")
        listener.stop()
    assert sorted(names) == [e["file"] for e in events if e["event"] == "drop.answered"]
    assert sorted(names) == listing(root / "done")


def test_only_complete_json_names_are_picked_up(drop: DropFolderListener) -> None:
    """Files being written (.tmp, .part), dotfiles and other names stay untouched; the rename to .json is the cue."""
    root = Path(drop.address)
    ignored = ["x.json.tmp", "x.json.part", ".y.json", "notes.txt"]
    for name in ignored:
        (root / "inbox" / name).write_bytes(request_bytes(male_iud()))
    drop_file(root, "z.json", request_bytes(compliant_3101()))
    wait_for((root / "outbox" / "z.json").exists, "the result for z.json")
    assert sorted(ignored) == listing(root / "inbox")
    (root / "inbox" / "x.json.tmp").rename(root / "inbox" / "x.json")
    wait_for((root / "outbox" / "x.json").exists, "the result for x.json")
    assert ["x.json", "z.json"] == listing(root / "done")


def test_a_file_is_ready_only_when_unchanged_over_two_looks() -> None:
    """A file counts as complete once size, mtime and inode stayed the same for the settle time."""
    now = [0.0]
    settling = Settling(0.5, monotonic=lambda: now[0])
    assert [] == settling.look({"a.json": (10, 1, 7)})  # first look: only recorded
    now[0] = 0.3
    assert [] == settling.look({"a.json": (10, 1, 7)})  # unchanged, but not for long enough
    now[0] = 0.6
    assert [] == settling.look({"a.json": (20, 2, 7)})  # still growing: the clock starts again
    now[0] = 1.2
    assert ["a.json"] == settling.look({"a.json": (20, 2, 7), "b.json": (5, 1, 8)})


def test_an_oversized_file_is_rejected_without_being_read(tmp_path: Path, service: CheckService) -> None:
    """A file over the size limit is rejected, the .error saying so."""
    listener = listener_for(tmp_path / "drop", service, max_file_bytes=100)
    listener.start()
    try:
        drop_file(tmp_path / "drop", "big.json", request_bytes(male_iud()))
        wait_for((tmp_path / "drop" / "rejected" / "big.json.error").exists, "the rejection")
    finally:
        listener.stop()
    assert (tmp_path / "drop/rejected/big.json.error").read_text(encoding="utf-8").startswith("file too large (")


# ---- name reuse --------------------------------------------------------------------------------------------------


def test_a_reused_name_is_answered_again_and_never_overwrites_done_or_rejected(drop: DropFolderListener) -> None:
    """The same names dropped again: done/ and rejected/ keep both (NAME~2.json); outbox/ holds the latest answer."""
    root = Path(drop.address)
    for round_ in (1, 2):
        drop_file(root, "a.json", request_bytes(male_iud(f"E{round_}")))
        drop_file(root, "b.json", b"[]")
        wait_for(lambda n=round_: n == drop.done == drop.rejected, f"round {round_}")
    assert ["a.json", "a~2.json"] == listing(root / "done")
    assert ["b.json", "b.json.error", "b~2.json", "b~2.json.error"] == listing(root / "rejected")
    latest = json.loads((root / "outbox" / "a.json").read_text(encoding="utf-8"))
    assert "E2" == latest["output"]["result"][0]["mdtrt_id"]


# ---- recovery: every state a crash can leave -----------------------------------------------------------------------


def started(root: Path, service: CheckService) -> DropFolderListener:
    """A listener on `root`, started (recovery has run when this returns)."""
    listener = listener_for(root, service)
    listener.start()
    return listener


def test_a_claimed_request_is_answered_at_start(tmp_path: Path, service: CheckService) -> None:
    """Crash after the claim (inbox → .work): the request is answered when the agent starts again."""
    (tmp_path / ".work").mkdir()
    (tmp_path / ".work" / "a.json").write_bytes(request_bytes(male_iud()))
    (tmp_path / ".work" / "a.json.result.tmp").write_bytes(b"{half a res")
    listener = started(tmp_path, service)
    listener.stop()
    assert SEX_DRUG_RULE_ID in rule_ids(tmp_path / "outbox" / "a.json")
    assert (["a.json"], [], 1) == (listing(tmp_path / "done"), listing(tmp_path / ".work"), listener.done)


def test_a_staged_result_is_published_as_it_was_without_a_second_check(tmp_path: Path, service: CheckService) -> None:
    """Crash after staging the result: the staged result is what gets published (the request is not checked again)."""
    (tmp_path / ".work").mkdir()
    (tmp_path / ".work" / "a.json").write_bytes(request_bytes(male_iud()))
    (tmp_path / ".work" / "a.json.result").write_bytes(b'{"staged": true}\n')
    started(tmp_path, service).stop()
    assert b'{"staged": true}\n' == (tmp_path / "outbox" / "a.json").read_bytes()
    assert (["a.json"], []) == (listing(tmp_path / "done"), listing(tmp_path / ".work"))


def test_a_result_whose_request_is_archived_is_published(tmp_path: Path, service: CheckService) -> None:
    """Crash between archive and publish: the result is published, and nothing else happens."""
    for folder in ("done", ".work"):
        (tmp_path / folder).mkdir()
    (tmp_path / "done" / "a.json").write_bytes(request_bytes(male_iud()))
    (tmp_path / ".work" / "a.json.result").write_bytes(b'{"staged": true}\n')
    listener = started(tmp_path, service)
    listener.stop()
    assert b'{"staged": true}\n' == (tmp_path / "outbox" / "a.json").read_bytes()
    assert (["a.json"], [], 0) == (listing(tmp_path / "done"), listing(tmp_path / ".work"), listener.done)


def test_an_unfinished_rejection_reuses_its_error_file(tmp_path: Path, service: CheckService) -> None:
    """Crash between writing NAME.error and moving the request: the rejection completes under NAME, not NAME~2."""
    for folder in ("rejected", ".work"):
        (tmp_path / folder).mkdir()
    (tmp_path / ".work" / "a.json").write_bytes(b"{not json")
    (tmp_path / ".work" / "a.json.error.tmp").write_bytes(b"not")
    (tmp_path / "rejected" / "a.json.error").write_bytes(b"not JSON (Expecting property name)\n")
    started(tmp_path, service).stop()
    assert ["a.json", "a.json.error"] == listing(tmp_path / "rejected")
    assert [] == listing(tmp_path / ".work")


class Crash(BaseException):
    """The process dying at an fsync (BaseException: nothing in the agent may catch it)."""


CRASHES = [(valid, n, taken) for valid in (True, False) for n in range(1, 7) for taken in (False, True)]


@pytest.mark.parametrize(
    "crash", CRASHES, ids=[f"{'valid' if v else 'invalid'}-fsync{n}{'-taken' if t else ''}" for v, n, t in CRASHES]
)
def test_a_crash_at_any_fsync_ends_in_exactly_one_answer(
    tmp_path: Path, service: CheckService, monkeypatch: pytest.MonkeyPatch, crash: tuple[bool, int, bool]
) -> None:
    """Die at the n-th fsync of answering a claimed file (the HIS maybe taking what was published), restart: one
    result (in outbox/ or taken) with the request in done/, or one rejection, and nothing left in .work/."""
    valid, crash_at, taken = crash
    (tmp_path / ".work").mkdir()
    (tmp_path / ".work" / "a.json").write_bytes(request_bytes(male_iud()) if valid else b"{not json")
    fsyncs = []
    real_fsync = os.fsync

    def dying_fsync(fd: int) -> None:
        fsyncs.append(fd)
        if len(fsyncs) == crash_at:
            raise Crash
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", dying_fsync)
    with contextlib.suppress(Crash):
        started(tmp_path, service).stop()
    monkeypatch.undo()
    (tmp_path / "taken").mkdir()
    if taken and (tmp_path / "outbox" / "a.json").exists():
        (tmp_path / "outbox" / "a.json").rename(tmp_path / "taken" / "a.json")
    started(tmp_path, service).stop()
    results = listing(tmp_path / "outbox") + listing(tmp_path / "taken")
    expected = (["a.json"], ["a.json"], []) if valid else ([], [], ["a.json", "a.json.error"])
    assert expected == (results, listing(tmp_path / "done"), listing(tmp_path / "rejected"))
    assert [] == listing(tmp_path / ".work")


def test_files_wait_while_no_kb_is_loaded(tmp_path: Path) -> None:
    """Without a KB nothing is rejected: claimed and new files wait, and are answered once a KB is loaded."""
    empty = KbStore()
    (tmp_path / ".work").mkdir()
    (tmp_path / ".work" / "a.json").write_bytes(request_bytes(male_iud()))
    listener = started(tmp_path, CheckService(empty, clock=clock))
    try:
        drop_file(tmp_path, "b.json", request_bytes(male_iud("E2")))
        assert (["a.json"], []) == (listing(tmp_path / ".work"), listing(tmp_path / "rejected"))
        empty.load(default_bundle_path())
        wait_for(lambda: 2 == len(listing(tmp_path / "outbox")), "both results")
    finally:
        listener.stop()
    assert ["a.json", "b.json"] == listing(tmp_path / "done")


# ---- lifecycle, counters, logs -----------------------------------------------------------------------------------


def test_counters_are_logged_at_stop_and_identity_never_is(tmp_path: Path, service: CheckService) -> None:
    """drop.stopped carries pending/done/rejected; no event holds the patient's id or name."""
    listener = listener_for(tmp_path / "drop", service)
    with capture_logs() as events:
        listener.start()
        drop_file(tmp_path / "drop", "a.json", request_bytes(male_iud()))
        drop_file(tmp_path / "drop", "b.json", request_bytes(without_gend()))
        wait_for(lambda: 1 == listener.done == listener.rejected, "one result and one rejection")
        listener.stop()
    stopped = [e for e in events if e["event"] == "drop.stopped"]
    assert [{"event": "drop.stopped", "log_level": "info", "pending": 0, "done": 1, "rejected": 1}] == stopped
    assert {"file": "b.json", "code": "invalid_field", "field": "input.data.patient_dtos[0].gend"}.items() <= next(
        e for e in events if e["event"] == "drop.rejected"
    ).items()
    assert [] == [e for e in events if "1058158" in repr(e) or "张某某" in repr(e)]


def test_start_raises_oserror_when_the_folder_cannot_be_made(tmp_path: Path, service: CheckService) -> None:
    """A drop dir that is a file cannot be served: start raises OSError (the agent reports it); stop is a no-op."""
    (tmp_path / "drop").write_text("a file", encoding="utf-8")
    listener = listener_for(tmp_path / "drop", service)
    with pytest.raises(OSError):
        listener.start()
    listener.stop()
    assert ("drop", str(tmp_path / "drop")) == (listener.name, listener.address)
    with pytest.raises(ValueError, match=r"drop\.dir"):
        DropFolderListener(DropSettings(None), service)


# ---- malformed input ---------------------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
    | st.sampled_from(["", "0", "1", "-1", "2", "9", "1e999", "NaN", "2025-13-45", "20250614", "01", "3101", "3103"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)  # fmt: skip


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key path in a JSON document (containers and leaves), the document itself first."""
    yield prefix
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        yield from paths(value, (*prefix, key))


@st.composite
def mutated_requests(draw: st.DrawFn) -> bytes:
    """A real 3101 request with one to three values anywhere in it (any depth, so mostly order-line and encounter
    fields) replaced by arbitrary JSON or deleted."""
    doc: Any = draw(st.sampled_from([male_iud_3101, compliant_3101]))()
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(paths(doc))))
        if not path:
            doc = draw(JSON)
            continue
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(JSON)
    return request_bytes(doc) if draw(st.booleans()) else json.dumps(doc).encode("gb18030")


VALID = request_bytes(male_iud_3101())
MALFORMED = st.one_of(
    mutated_requests(),
    mutated_requests(),  # twice: half the examples reach into real requests
    st.binary(max_size=64),
    st.integers(0, len(VALID) - 1).map(lambda n: VALID[:n]),
    JSON.map(lambda doc: json.dumps(doc).encode()),
)


def assert_answered(got: Answer) -> None:
    """A national result with infcode 0, or a rejection for bad input with a reason (never an internal error)."""
    if got.body:
        assert ("", 0) == (got.error, json.loads(got.body)["infcode"])
    else:
        assert ("invalid_field", True) == (got.code, bool(got.error.strip()))


@settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=MALFORMED)
def test_malformed_files_are_answered_never_raised(raw: bytes, service: CheckService) -> None:
    """10,000 generated malformed files: each gets a result or an invalid_field rejection with a reason."""
    assert_answered(answer(raw, service, clock))


def test_two_hundred_malformed_files_on_disk_then_a_valid_one_still_gets_a_result(drop: DropFolderListener) -> None:
    """After 200 malformed files through the real folder, each rejected or answered, a valid file is answered."""
    root = Path(drop.address)
    rng = random.Random(20250614)
    for n in range(200):
        data = bytearray(VALID)
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        drop_file(root, f"m{n:03d}.json", bytes(data[: rng.randint(0, len(data))] if n % 3 == 0 else data))
    drop_file(root, "z-valid.json", request_bytes(male_iud()))
    wait_for(lambda: 201 == drop.done + drop.rejected, "every file answered")
    assert SEX_DRUG_RULE_ID in rule_ids(root / "outbox" / "z-valid.json")
    assert [] == listing(root / "inbox")
    rejected = [n for n in listing(root / "rejected") if n.endswith(".json")]
    assert [f"{n}.error" for n in rejected] == [n for n in listing(root / "rejected") if n.endswith(".error")]
    assert sorted(listing(root / "done")) == listing(root / "outbox")


# ---- kill -9 under load ------------------------------------------------------------------------------------------


def crash_test_files(count: int) -> tuple[dict[str, bytes], set[str]]:
    """`count` request files, mostly valid (male IUD, compliant), every fifth one bad (not JSON, missing a field,
    not an object, empty), and the names of the bad ones."""
    files: dict[str, bytes] = {}
    bad = [b"{not json", request_bytes(without_gend()), b"[]", b""]
    for n in range(count):
        if n % 5 == 4:
            files[f"r{n:04d}.json"] = bad[n // 5 % len(bad)]
        elif n % 2:
            files[f"r{n:04d}.json"] = request_bytes(male_iud(f"E{n}"))
        else:
            files[f"r{n:04d}.json"] = request_bytes(compliant_3101())
    return files, {f"r{n:04d}.json" for n in range(4, count, 5)}


class Consumer(threading.Thread):
    """A HIS taking results out of outbox/ as they appear; records any name taken twice."""

    def __init__(self, outbox: Path, taken: Path) -> None:
        super().__init__(daemon=True)
        self.outbox, self.taken = outbox, taken
        self.twice: list[str] = []
        self.halt = threading.Event()

    def sweep(self) -> None:
        """Take every result now in outbox/."""
        for name in listing(self.outbox):
            if (self.taken / name).exists():
                self.twice.append(name)
                (self.outbox / name).unlink()
            else:
                (self.outbox / name).rename(self.taken / name)

    def run(self) -> None:
        """Sweep until halted."""
        while not self.halt.wait(0.003):
            self.sweep()


@pytest.mark.slow
def test_kill_9_while_1000_files_are_processed_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    """SIGKILL five times mid-run, restart each time: every file ends with exactly one result (taken by the HIS or
    in outbox/, request in done/) or one rejection (request + .error in rejected/); nothing left over."""
    root, taken = tmp_path / "drop", tmp_path / "taken"
    (root / "inbox").mkdir(parents=True)
    taken.mkdir()
    files, bad = crash_test_files(1000)
    for name, data in files.items():
        (root / "inbox" / name).write_bytes(data)
    consumer = Consumer(root / "outbox", taken)
    consumer.start()

    def processed() -> int:
        return len(listing(root / "done")) + len([n for n in listing(root / "rejected") if n.endswith(".json")])

    children: list[subprocess.Popen[bytes]] = []
    with (tmp_path / "child.log").open("ab") as log:
        try:
            for kill_after in (40, 200, 400, 600, 800):
                children.append(subprocess.Popen([sys.executable, str(CHILD), str(root)], stdout=log, stderr=log))
                wait_for(lambda n=kill_after: processed() >= n, f"{kill_after} files processed")
                children[-1].send_signal(signal.SIGKILL)
                children[-1].wait()
                assert processed() < len(files)  # the kill landed mid-run
            children.append(subprocess.Popen([sys.executable, str(CHILD), str(root)], stdout=log, stderr=log))
            wait_for(lambda: processed() == len(files), "every file processed", timeout=60)
            children[-1].send_signal(signal.SIGTERM)
            assert 0 == children[-1].wait(timeout=30)
        finally:
            for child in children:
                if child.poll() is None:
                    child.kill()
                    child.wait()
    consumer.halt.set()
    consumer.join()
    consumer.sweep()

    valid, invalid = sorted(set(files) - bad), sorted(bad)
    assert ([], [], [], []) == (listing(root / "inbox"), listing(root / ".work"), listing(root / "outbox"),
                                consumer.twice)  # fmt: skip
    assert (valid, valid) == (listing(root / "done"), listing(taken))
    assert sorted([*invalid, *(f"{n}.error" for n in invalid)]) == listing(root / "rejected")
    assert all(0 == json.loads((taken / n).read_bytes())["infcode"] for n in valid)
