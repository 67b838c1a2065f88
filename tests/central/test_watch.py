"""The long-poll watch: waiters wake on a change in this process, find another process's change by re-reading the
store, return on timeout and on shutdown."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from fundguard.central.watch import RevisionWatch


class Latest:
    """A stand-in for `store.revision` another process may move."""

    def __init__(self) -> None:
        self.value = 0

    def __call__(self) -> int:
        return self.value


def test_returns_at_once_when_already_newer() -> None:
    """A caller behind the known revision is answered without waiting."""
    latest = Latest()
    latest.value = 4
    assert 4 == RevisionWatch(latest).wait_newer(3, timeout=60)


def test_change_in_this_process_wakes_the_waiter() -> None:
    """`changed` wakes a waiter with a 60 s timeout; it returns the new revision."""
    watch = RevisionWatch(Latest(), recheck_seconds=60)
    waiting = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        result = pool.submit(lambda: (waiting.set(), watch.wait_newer(0, timeout=60))[1])
        waiting.wait()
        watch.changed(1)
        assert 1 == result.result(timeout=10)


def test_change_by_another_process_is_found_by_rechecking() -> None:
    """Nobody calls `changed`: the waiter still sees the store's newer revision on a recheck."""
    latest = Latest()
    watch = RevisionWatch(latest, recheck_seconds=0.05)
    with ThreadPoolExecutor(1) as pool:
        result = pool.submit(watch.wait_newer, 0, 60)
        latest.value = 2
        assert 2 == result.result(timeout=10)


def test_timeout_returns_the_same_revision() -> None:
    """Nothing changes: after the timeout the caller gets its own revision back."""
    assert 0 == RevisionWatch(Latest(), recheck_seconds=0.01).wait_newer(0, timeout=0.05)


def test_close_releases_waiters_and_later_calls() -> None:
    """Shutdown wakes every waiter, and a poll after it does not wait."""
    watch = RevisionWatch(Latest(), recheck_seconds=60)
    with ThreadPoolExecutor(2) as pool:
        results = [pool.submit(watch.wait_newer, 0, 60) for _ in range(2)]
        watch.close()
        assert [0, 0] == [r.result(timeout=10) for r in results]
    assert 0 == watch.wait_newer(0, timeout=60)


def test_a_caller_gone_stops_waiting() -> None:
    """`active()` false (the RPC was cancelled) ends the wait."""
    assert 0 == RevisionWatch(Latest(), recheck_seconds=0.01).wait_newer(0, timeout=60, active=lambda: False)
