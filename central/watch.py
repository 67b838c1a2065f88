"""The long poll behind `PractitionerStatuses`: wait until the revision passes the caller's, or time runs out.

A change made by this process (`changed`, called by the scorer after its commit) wakes every waiter at once through
a condition variable. A change made by another process on the same database (`fundguard-central sanction` while
the server runs) is found by re-reading the latest revision at most every `recheck_seconds`, shared by all waiters.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["DEFAULT_RECHECK_SECONDS", "RevisionWatch"]

DEFAULT_RECHECK_SECONDS = 0.5


class RevisionWatch:
    """Knows the latest revision; lets RPC threads wait for a newer one."""

    def __init__(self, latest: Callable[[], int], recheck_seconds: float = DEFAULT_RECHECK_SECONDS) -> None:
        self._latest = latest
        self._recheck = recheck_seconds
        self._cond = threading.Condition()
        self._known = latest()
        self._checked_at = time.monotonic()
        self._closed = False

    @property
    def known(self) -> int:
        """The latest revision seen."""
        with self._cond:
            return self._known

    def changed(self, revision: int) -> None:
        """A change was committed under `revision`: wake the waiters."""
        with self._cond:
            self._known = max(self._known, revision)
            self._cond.notify_all()

    def close(self) -> None:
        """Shutting down: every waiter returns now, and later ones do not wait."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _recheck_store(self) -> None:
        with self._cond:
            due = time.monotonic() - self._checked_at >= self._recheck
            if due:
                self._checked_at = time.monotonic()
        if due:
            self.changed(self._latest())

    def wait_newer(self, since: int, timeout: float, active: Callable[[], bool] = lambda: True) -> int:
        """The latest revision once it is newer than `since`, or as it is after `timeout` seconds, on shutdown, or
        when `active()` turns false (the caller went away)."""
        deadline = time.monotonic() + timeout
        while True:
            self._recheck_store()
            with self._cond:
                if self._known > since or self._closed:
                    return self._known
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not active():
                    return self._known
                self._cond.wait(min(remaining, self._recheck))
