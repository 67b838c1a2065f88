"""Readiness: whether the agent can answer checks and keep what it must keep, re-evaluated while it runs.

`ReadinessProbe.evaluate()` says ready only when a knowledge base is loaded, every folder holding a store (the data
dir: decisions and issued alerts, last-good KB; the outbox; the trace ledger) takes a small write (created, fsynced,
removed: a read-only or vanished volume fails it), every existing store file is writable, and the data dir's disk has
at least `min_free_bytes` free. `HealthMonitor` (a listener, started with the agent) evaluates it at start and every
`interval` seconds and feeds the gRPC health service: SERVING only while ready, NOT_SERVING with the reasons logged
once per change; each time it also judges the agent's alarms (`alarms`: logged as they are raised and cleared, never
a readiness problem). `fundguard doctor` runs the same probe.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import structlog

from fundguard.agent.transport.health import AgentHealth

from .alarms import Alarms

__all__ = ["PROBE_NAME", "HealthMonitor", "Readiness", "ReadinessProbe", "probe_writable"]

PROBE_NAME = ".fundguard-probe"
_MB = 1024 * 1024

_log = structlog.get_logger("fundguard.agent.health")


@dataclass(frozen=True, slots=True)
class Readiness:
    """Ready, or the reasons why not (one line each)."""

    problems: tuple[str, ...] = ()

    @property
    def ready(self) -> bool:
        """No problem found."""
        return not self.problems


def probe_writable(folder: Path) -> str | None:
    """None when a small file can be created, written, fsynced and removed in `folder`, else why not."""
    probe = folder / f"{PROBE_NAME}-{os.getpid()}-{threading.get_ident()}"  # the doctor may probe beside the agent
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"ok")
            os.fsync(fd)
        finally:
            os.close(fd)
        probe.unlink()
    except OSError as exc:
        return f"{folder} is not writable ({exc.strerror or exc})"
    return None


class ReadinessProbe:
    """What readiness is judged on: `kb_loaded()`, the data dir, the store files and the free-space floor."""

    def __init__(
        self, kb_loaded: Callable[[], bool], data_dir: Path, stores: Iterable[Path] = (), min_free_bytes: int = 0
    ) -> None:
        self._kb_loaded = kb_loaded
        self._data_dir = data_dir
        self._stores = tuple(stores)
        self._min_free = min_free_bytes
        self._folders = tuple(dict.fromkeys([data_dir, *(path.parent for path in self._stores)]))

    def evaluate(self) -> Readiness:
        """Judge readiness now (a few small writes and stats)."""
        problems: list[str] = []
        if not self._kb_loaded():
            problems.append("no knowledge base loaded")
        for folder in self._folders:
            problem = probe_writable(folder)
            if problem is not None:
                problems.append(problem)
        for path in self._stores:
            if path.exists() and not os.access(path, os.W_OK):
                problems.append(f"{path} is not writable")
        if self._min_free:
            try:
                free = shutil.disk_usage(self._data_dir).free
            except OSError as exc:
                problems.append(f"cannot read the free space of {self._data_dir} ({exc.strerror or exc})")
            else:
                if free < self._min_free:
                    problems.append(
                        f"only {free // _MB} MB free on the disk of {self._data_dir} "
                        f"(below [health] min_free_mb = {self._min_free // _MB})"
                    )
        return Readiness(tuple(problems))


class HealthMonitor:
    """Keeps gRPC health in step with readiness: evaluated at `start()` and every `interval` seconds after."""

    name = "health"

    def __init__(
        self, probe: ReadinessProbe, health: AgentHealth, interval: float, alarms: Alarms | None = None
    ) -> None:
        self._probe = probe
        self._alarms = alarms
        self._health = health
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last: Readiness | None = None

    @property
    def address(self) -> str:
        """Not a network listener: how often it looks."""
        return f"every {self._interval:g} s"

    @property
    def last(self) -> Readiness | None:
        """The latest evaluation (None before the first)."""
        return self._last

    def evaluate(self) -> Readiness:
        """Evaluate now and update health; a change is logged with its reasons. The alarms are judged too."""
        if self._alarms is not None:
            self._alarms.evaluate()
        readiness = self._probe.evaluate()
        if self._last is None or readiness != self._last:
            if readiness.ready:
                _log.info("health.ready")
            else:
                _log.warning("health.not_ready", problems=list(readiness.problems))
        self._last = readiness
        self._health.update(kb_loaded=True, problems=readiness.problems)  # the probe judged the KB too
        return readiness

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.evaluate()
            except Exception:  # keep watching: a failed evaluation must not end the monitor
                _log.error("health.evaluation_failed", exc_info=True)

    def start(self) -> None:
        """First evaluation, then the periodic one on a daemon thread."""
        self.evaluate()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="fundguard-health", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop evaluating."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
