"""Watching a folder for files dropped into it: watchdog events to wake a worker early, and a `Settling` test so
that a file still being copied (a USB stick, a network share) is not taken before it stops changing.

Used by the request drop folder (`drop_folder`) and the knowledge-base inbox (`agent.kb.inbox`). Events are only a
hint: the worker also looks every poll interval, so a platform without events (or past the inotify watch limit)
still finds every file.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import structlog
from watchdog import events
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

__all__ = ["Settling", "Signature", "watch"]

Signature = tuple[int, int, int]  # size, mtime (ns), inode

_WAKING: list[type[events.FileSystemEvent]] = [
    events.FileCreatedEvent, events.FileMovedEvent, events.FileModifiedEvent, events.FileClosedEvent
]  # fmt: skip

_log = structlog.get_logger("fundguard.agent.folder")


class Settling:
    """Which files kept the same signature for `settle` seconds, over two looks or more (`monotonic` injectable)."""

    def __init__(self, settle: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._settle = settle
        self._monotonic = monotonic
        self._seen: dict[str, tuple[Signature, float]] = {}

    def look(self, files: Mapping[str, Signature]) -> list[str]:
        """Record this look; return the names now ready, sorted."""
        now = self._monotonic()
        seen: dict[str, tuple[Signature, float]] = {}
        ready = []
        for name, sig in files.items():
            before = self._seen.get(name)
            since = before[1] if before is not None and before[0] == sig else now
            seen[name] = (sig, since)
            if before is not None and now - since >= self._settle:
                ready.append(name)
        self._seen = seen
        return sorted(ready)


class _Wake(events.FileSystemEventHandler):
    def __init__(self, wake: threading.Event) -> None:
        self._wake = wake

    def on_any_event(self, event: events.FileSystemEvent) -> None:
        self._wake.set()


def watch(folder: Path, wake: threading.Event, what: str) -> BaseObserver | None:
    """A started watchdog observer setting `wake` on file events in `folder`; None (logged) when the platform
    refuses (polling still finds every file)."""
    try:
        observer = Observer()
        observer.schedule(_Wake(wake), str(folder), event_filter=_WAKING)
        observer.start()
    except OSError as exc:  # e.g. the inotify watch limit
        _log.warning("folder.no_events", folder=what, reason=str(exc))
        return None
    return observer
