"""The knowledge-base inbox: the air-gapped way in. An operator copies a signed bundle (`*.fgkb`) from a USB stick
into `[kb] inbox`; within about a second of the copy finishing it is offered to the activator.

A file is taken only once it has stopped changing for `settle` seconds, and only when it is a complete zip (its
end record is there): a copy that paused longer than that is left alone, not refused, until it changes. Activated
bundles move to `activated/`; refused ones to `rejected/` with `NAME.error` saying why (the running KB is untouched).
Dotfiles and other names are ignored, so a copy tool's temporary file waits for its rename.
"""

from __future__ import annotations

import io
import os
import stat
import threading
import zipfile
from pathlib import Path

import structlog
from watchdog.observers.api import BaseObserver

from fundguard.agent.transport.folder_watch import Settling, Signature, watch
from fundguard.knowledge_base.bundle import BundleRejected

from .activation import KbActivator

__all__ = ["BUNDLE_SUFFIX", "KbInbox"]

BUNDLE_SUFFIX = ".fgkb"
ACTIVATED, REJECTED = "activated", "rejected"

_log = structlog.get_logger("fundguard.agent.kb")


class KbInbox:
    """Watches `folder` (and looks every `poll` seconds) for bundles to activate."""

    name = "kb-inbox"

    def __init__(self, folder: Path, activator: KbActivator, poll: float = 1.0, settle: float = 0.3) -> None:
        self._folder = folder
        self._activator = activator
        self._poll = poll
        self._settle = settle
        self._settling = Settling(settle)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._worker: threading.Thread | None = None
        self._observer: BaseObserver | None = None
        self._incomplete: dict[str, Signature] = {}  # not a complete zip yet, as last seen
        self.activated = 0
        self.rejected = 0

    @property
    def address(self) -> str:
        """The folder watched."""
        return str(self._folder)

    def start(self) -> None:
        """Create the folders, then watch and poll; raises OSError when the folder cannot be made."""
        for sub in (self._folder, self._folder / ACTIVATED, self._folder / REJECTED):
            sub.mkdir(parents=True, exist_ok=True)
        self._stopping.clear()
        self._observer = watch(self._folder, self._wake, "kb inbox")
        self._worker = threading.Thread(target=self._run, name="fundguard-kb-inbox", daemon=True)
        self._worker.start()
        _log.info("kb.inbox_started", folder=str(self._folder))

    def stop(self) -> None:
        """Stop watching; a bundle being activated finishes first."""
        worker, observer = self._worker, self._observer
        self._stopping.set()
        self._wake.set()
        if observer is not None:
            observer.stop()
            observer.join()
        if worker is not None:
            worker.join()
        self._worker = self._observer = None

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            wait = self._poll
            try:
                files = self._files()
                ready = self._settling.look(files)
                for name in ready:
                    if self._incomplete.get(name) != files[name]:
                        self._take(name, files[name])
                if len(ready) < len(files):
                    wait = min(self._settle, self._poll)  # something is still being copied: look again soon
            except OSError as exc:  # the folder may come back (a remounted share)
                _log.error("kb.inbox_failed", reason=str(exc))
            self._wake.wait(wait)

    def _files(self) -> dict[str, Signature]:
        files: dict[str, Signature] = {}
        with os.scandir(self._folder) as entries:
            for entry in entries:
                if entry.name.startswith(".") or not entry.name.lower().endswith(BUNDLE_SUFFIX):
                    continue
                try:
                    st = entry.stat()
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    files[entry.name] = (st.st_size, st.st_mtime_ns, st.st_ino)
        return files

    def _take(self, name: str, sig: Signature) -> None:
        path = self._folder / name
        try:
            data = path.read_bytes()
        except OSError as exc:
            _log.warning("kb.inbox_unreadable", file=name, reason=str(exc))
            return
        if not zipfile.is_zipfile(io.BytesIO(data)):  # still being copied (or not a bundle): wait for a change
            if name not in self._incomplete:
                _log.info("kb.inbox_incomplete", file=name, size=len(data))
            self._incomplete[name] = sig
            return
        self._incomplete.pop(name, None)
        try:
            revision = self._activator.offer(data, f"inbox:{name}")
        except BundleRejected as exc:
            self.rejected += 1
            (self._folder / REJECTED / f"{name}.error").write_text(exc.reason + "\n", encoding="utf-8")
            os.replace(path, self._folder / REJECTED / name)
            return
        os.replace(path, self._folder / ACTIVATED / name)
        self.activated += 1  # after the move: a reader that sees the count finds the file where it says
        _log.info("kb.inbox_activated", file=name, revision=revision)
