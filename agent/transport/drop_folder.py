"""The drop folder: the HIS writes national 3101/3102 request files into `inbox/`, the agent answers in `outbox/`.

Under `settings.dir` (created at start; keep it on one filesystem, as every step is a rename):
`inbox/` (the HIS writes), `outbox/NAME` (the national response envelope for inbox/NAME, as `fundguard check`
prints it), `done/` (answered requests), `rejected/` (requests that could not be checked, each with `NAME.error`:
one line "field: message"), and `.work/`, the agent's own. The file contents go through the national JSON adapter.

Writers: write under another name (`NAME.json.tmp`, `NAME.json.part`, any name starting with ".") and rename to
`NAME.json` when complete. Only `*.json` names are picked up, and only once size, mtime and inode are unchanged
across two looks `settle_seconds` apart, which tolerates writers that write in place. The watchdog observer wakes
the worker at once; a scan every `poll_seconds` catches what events miss (network shares), and the first scan picks
up what arrived while the agent was down. One worker thread answers files in name order.

Exactly once, whatever instant the process dies (kill -9, power cut): each step is a rename made durable (the file
and both directories fsynced) before the next one starts:
  1. claim    inbox/NAME → .work/NAME   (the inbox name is free at once: a re-sent NAME is a new request)
  2. stage    the response → .work/NAME.result   (written as a .tmp, fsynced, renamed)
  3. archive  .work/NAME → done/NAME   (the commit)
  4. publish  .work/NAME.result → outbox/NAME   (so the HIS waits for outbox/NAME, not for done/NAME)
A rejection writes rejected/NAME.error (via .work/NAME.error.tmp), then moves .work/NAME → rejected/NAME. At start
and before every pass the worker finishes what `.work/` holds: a claimed request is answered (a staged result is
reused, not checked again), a staged result whose request is archived is published, `.tmp` files are discarded. So
each request ends with one result or one rejection, and a published result is never published again, even when
the HIS has already taken it away.

Name reuse: done/ and rejected/ never overwrite: a later request with a used name is kept as `NAME~2.json`,
`NAME~3.json`, … (an `.error` without its request is an unfinished rejection, and is reused). outbox/NAME holds the
answer to the latest request named NAME: an earlier answer the HIS has not taken is replaced, with a warning.
A check that cannot run because no KB is loaded leaves the files waiting in the inbox.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import stat
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import structlog
from watchdog.observers.api import BaseObserver

from fundguard.adapters.his import nhsa_json
from fundguard.agent.config import DropSettings
from fundguard.agent.engine.errors import FundguardError
from fundguard.agent.log import ensure_logging
from fundguard.agent.service import CheckService

from .folder_watch import Settling, Signature, watch

__all__ = ["DEFAULT_MAX_FILE_BYTES", "DEFAULT_SETTLE_SECONDS", "Answer", "DropFolderListener", "Settling", "answer"]

_FOLDERS = ("inbox", "outbox", "done", "rejected", ".work")
DEFAULT_SETTLE_SECONDS = 0.1
DEFAULT_MAX_FILE_BYTES = 32 * 1024 * 1024  # as the HTTP gateway's body limit: a 3101 with long history is a few MB
RESULT, ERROR, TMP = ".result", ".error", ".tmp"

_log = structlog.get_logger("fundguard.agent.drop")


def _is_request_name(name: str) -> bool:
    """A name the agent picks up: `*.json` (any case), not a dotfile."""
    return not name.startswith(".") and name.lower().endswith(".json")


@dataclass(frozen=True, slots=True)
class Answer:
    """One file's answer: the national response (`body`, UTF-8 JSON), or why it is rejected: `error` ("field:
    message", as the national err_msg), the error's stable `code` and the `field` path ("" for the whole file)."""

    body: bytes = b""
    error: str = ""
    code: str = ""
    field: str = ""
    alerts: int = 0


def answer(raw: bytes, service: CheckService, clock: Callable[[], datetime], locale: str = "zh-CN") -> Answer:
    """Check one request file's bytes; never raises (an unexpected failure is an `internal` rejection)."""
    received = clock()
    try:
        doc = nhsa_json.load(raw)
        requests = nhsa_json.decode(doc, locale=locale)
        outcomes = [service.check(parsed) for parsed in requests]
        infno = nhsa_json.transaction(doc)
        response = nhsa_json.encode(outcomes, requests, infno, refmsg_time=received, respond_time=clock())
        body = json.dumps(response, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
    except FundguardError as exc:
        return Answer(error=str(exc), code=exc.code, field=exc.field)
    except Exception as exc:
        _log.error("drop.internal_error", error=type(exc).__name__, exc_info=True)
        return Answer(error=f"internal error ({type(exc).__name__}; see the agent log)", code="internal")
    return Answer(body=body, alerts=sum(len(o.result.alerts) for o in outcomes))


def _sync_dir(path: Path) -> None:
    """Make renames in `path` durable (no-op where directories cannot be opened, i.e. Windows)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_synced(path: Path, data: bytes) -> None:
    with path.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _slots(name: str) -> Iterator[str]:
    """NAME.json, NAME~2.json, NAME~3.json, …"""
    stem, _, ext = name.rpartition(".")
    yield name
    for n in itertools.count(2):
        yield f"{stem}~{n}.{ext}"


class DropFolderListener:
    """The drop folder listener: blocking `start()` (finishes what a crash left in `.work/`), `stop()`; counters
    `pending` (inbox files waiting at the last look), `done` and `rejected` (since start)."""

    name = "drop"

    def __init__(
        self,
        settings: DropSettings,
        service: CheckService,
        clock: Callable[[], datetime] = datetime.now,
        *,
        settle_seconds: float = DEFAULT_SETTLE_SECONDS,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        locale: str = "zh-CN",
    ) -> None:
        if settings.dir is None:
            raise ValueError("drop.dir is not set")
        ensure_logging()  # never through structlog's unmasked defaults
        self._root = settings.dir
        self._inbox, self._outbox, self._done, self._rejected, self._work = (settings.dir / f for f in _FOLDERS)
        self._poll = settings.poll_seconds
        self._settle = settle_seconds
        self._service = service
        self._clock = clock
        self._max_bytes = max_file_bytes
        self._locale = locale
        self._settling = Settling(settle_seconds)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._worker: threading.Thread | None = None
        self._observer: BaseObserver | None = None
        self._kb_missing_logged = False
        self.pending = self.done = self.rejected = 0

    @property
    def address(self) -> str:
        """The drop folder."""
        return str(self._root)

    def start(self) -> None:
        """Create the folders, finish what `.work/` holds, then watch and poll; raises OSError if it cannot."""
        if self._worker is not None:
            return
        for folder in (self._inbox, self._outbox, self._done, self._rejected, self._work):
            folder.mkdir(parents=True, exist_ok=True)
        if self._service.store.loaded:
            self._recover()
        self._stopping.clear()
        self._observer = watch(self._inbox, self._wake, "drop inbox")
        self._worker = threading.Thread(target=self._run, name="fundguard-drop", daemon=True)
        self._worker.start()
        _log.info("drop.started", address=self.address, poll_seconds=self._poll, events=self._observer is not None)

    def stop(self) -> None:
        """Finish the file in hand, stop watching and return; what is still in the inbox waits for the next start."""
        worker, observer = self._worker, self._observer
        if worker is None:
            return
        self._stopping.set()
        self._wake.set()
        if observer is not None:
            observer.stop()
            observer.join()
        worker.join()
        self._worker = self._observer = None
        with contextlib.suppress(OSError):  # the folder may be gone (network share): keep the last count
            self.pending = len(self._inbox_files())
        _log.info("drop.stopped", pending=self.pending, done=self.done, rejected=self.rejected)

    # ---- the worker ---------------------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            wait = self._poll
            try:
                wait = self._pass()
            except Exception as exc:  # the worker never dies: the folder may come back (network share)
                _log.error("drop.pass_failed", error=type(exc).__name__, reason=str(exc), exc_info=True)
            self._wake.wait(wait)

    def _pass(self) -> float:
        """One look at the folder; returns how long to wait before the next one."""
        if not self._service.store.loaded:
            if not self._kb_missing_logged:
                _log.warning("drop.waiting_for_kb")
            self._kb_missing_logged = True
            return self._poll
        self._kb_missing_logged = False
        self._recover()
        files = self._inbox_files()
        ready = self._settling.look(files)
        self.pending = len(files)
        for name in ready:
            if self._stopping.is_set():
                break
            try:
                self._handle(name)
            except OSError as exc:  # the folder, not the file, is at fault: .work/ lets the next pass finish it
                _log.error("drop.file_failed", file=name, reason=str(exc))
            self.pending -= 1
        return min(self._settle, self._poll) if len(ready) < len(files) else self._poll

    def _inbox_files(self) -> dict[str, Signature]:
        files = {}
        with os.scandir(self._inbox) as entries:
            for entry in entries:
                if not _is_request_name(entry.name):
                    continue
                try:
                    st = entry.stat(follow_symlinks=True)
                except OSError:  # gone meanwhile
                    continue
                if stat.S_ISREG(st.st_mode):
                    files[entry.name] = (st.st_size, st.st_mtime_ns, st.st_ino)
        return files

    # ---- one file: claim, stage, archive, publish (or reject) -----------------------------------------------------

    def _handle(self, name: str) -> None:
        if (self._work / name).exists() or (self._work / f"{name}{RESULT}").exists():
            return  # an earlier request of this name is not finished yet: _recover comes first
        try:
            (self._inbox / name).rename(self._work / name)
        except FileNotFoundError:
            return  # taken back by the HIS
        _sync_dir(self._work)
        _sync_dir(self._inbox)
        self._complete(name)

    def _complete(self, name: str) -> None:
        """Answer a claimed request (reusing a staged result), then archive and publish, or reject."""
        staged = self._work / f"{name}{RESULT}"
        if not staged.exists():
            got = self._answer_file(self._work / name)
            if not got.body:
                self._reject(name, got)
                return
            _write_synced(self._work / f"{name}{RESULT}{TMP}", got.body)
            (self._work / f"{name}{RESULT}{TMP}").rename(staged)
            _sync_dir(self._work)
            _log.info("drop.answered", file=name, alerts=got.alerts)
        slot = next(s for s in _slots(name) if not (self._done / s).exists())
        (self._work / name).rename(self._done / slot)
        _sync_dir(self._done)
        _sync_dir(self._work)
        if slot != name:
            _log.info("drop.name_reused", file=name, kept_as=slot, folder="done")
        self._publish(name)
        self.done += 1

    def _publish(self, name: str) -> None:
        target = self._outbox / name
        if target.exists():
            _log.warning("drop.result_replaced", file=name, reason="an earlier answer was not taken from outbox/")
        os.replace(self._work / f"{name}{RESULT}", target)
        _sync_dir(self._outbox)
        _sync_dir(self._work)

    def _reject(self, name: str, got: Answer) -> None:
        tmp = self._work / f"{name}{ERROR}{TMP}"
        _write_synced(tmp, f"{got.error}\n".encode())
        slot = next(s for s in _slots(name) if not (self._rejected / s).exists())
        os.replace(tmp, self._rejected / f"{slot}{ERROR}")
        _sync_dir(self._rejected)
        (self._work / name).rename(self._rejected / slot)
        _sync_dir(self._rejected)
        _sync_dir(self._work)
        self.rejected += 1
        _log.info("drop.rejected", file=name, kept_as=slot, code=got.code, field=got.field)

    def _answer_file(self, path: Path) -> Answer:
        try:
            size = path.stat().st_size
            if size > self._max_bytes:
                return Answer(error=f"file too large ({size} bytes; the limit is {self._max_bytes})", code="too_large")
            raw = path.read_bytes()
        except OSError as exc:
            return Answer(error=f"cannot read the file ({exc.strerror or exc})", code="unreadable")
        return answer(raw, self._service, self._clock, self._locale)

    def _recover(self) -> None:
        """Finish what `.work/` holds (after a crash, or a pass that failed on a full disk …)."""
        entries = sorted(os.listdir(self._work))
        for entry in entries:
            if entry.endswith(TMP):
                (self._work / entry).unlink(missing_ok=True)
        claimed = [e for e in entries if _is_request_name(e)]
        for name in claimed:
            _log.info("drop.recovering", file=name)
            self._complete(name)
        for entry in entries:
            name = entry.removesuffix(RESULT)
            if entry.endswith(RESULT) and name not in claimed:
                _log.info("drop.recovering", file=name, step="publish")
                self._publish(name)
