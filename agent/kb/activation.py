"""The one activation path of a knowledge-base bundle, whatever brought it (drop folder, HTTP poller, start-up).

`KbActivator.offer(data, source)`: verify the signed bundle (signature by a trusted key, every file's SHA-256:
`fundguard.knowledge_base.bundle.verify`) → a delta is applied on the running bundle, only on its base revision →
the revision must be newer than the running one (a downgrade or a replay is refused) → compile the indexes aside
(`build_index`, reusing the running KB's unchanged points) while the bundle is written as last-good → put the
last-good file in place (atomic rename, SHA-256 beside it) → swap them in (one reference: checks in flight finish on
the old KB, the next ones run on the new), so a kill after the swap restarts on that revision. Any
failure leaves the running KB untouched, is logged with its reason and counted in `status()`; `last_times` says
where the last activation's time went.

At start (`start`): the configured bundle file when the operator names one; else the last-good bundle on disk when it
is intact and not older than the embedded default; else the embedded default. Never nothing.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import structlog

from fundguard.agent.engine import CompiledKB, KbInvalid, build_index
from fundguard.knowledge_base.bundle import BundleRejected, apply_delta, verify

from .saving import LAST_GOOD_FILE, META_FILE, StagedSave
from .status import KbStatus, store_status
from .store import KbStore, collector_paused, read_bundle

__all__ = ["LAST_GOOD_FILE", "ActivationTimes", "KbActivator"]


_log = structlog.get_logger("fundguard.agent.kb")


@dataclass(frozen=True, slots=True)
class ActivationTimes:
    """Where the last activation's time went (ms): verifying the bundle file (unzip, signature, hashes, parse),
    compiling aside, and waiting for its last-good file (written during the compile) to be in place before the swap:
    the part of the save the compile did not hide."""

    verify_ms: float
    compile_ms: float
    persist_ms: float

    @property
    def to_swap_ms(self) -> float:
        """From the offer to the swap: the activation as the checks see it."""
        return self.verify_ms + self.compile_ms + self.persist_ms


class KbActivator:
    """Activates bundles into `store`, trusting `trusted` keys; keeps last-good under `state_dir`."""

    def __init__(
        self,
        store: KbStore,
        trusted: Mapping[str, Any],
        state_dir: Path,
        clock: Callable[[], datetime] = datetime.now,
    ) -> None:
        self._store = store
        self._trusted = dict(trusted)
        self._dir = state_dir
        self._clock = clock
        self._lock = threading.Lock()
        self._doc: Mapping[str, Any] | None = None  # the running bundle (a delta applies to it)
        self._activated_at = ""
        self._activations = 0
        self._rejections = 0
        self._last_error = ""
        self._last_error_at = ""
        self._offered_at = 0.0
        self._doc_sha256: str | None = None  # of the running bundle's bytes as read or saved, when known
        self.last_times = ActivationTimes(0.0, 0.0, 0.0)  # of the last activation

    # -- start-up -------------------------------------------------------------------------------------------------

    def start(self, embedded: Path, configured: Path | None = None) -> None:
        """Load the start-up KB (see the module doc); raises KbInvalid / OSError only when nothing can be loaded."""
        with self._lock:
            if configured is not None:
                self._install(read_bundle(configured), f"file:{configured}", persist=False)
                return
            default = read_bundle(embedded)
            saved, saved_sha256 = self._last_good()
            if saved is not None and int(saved["revision"]) >= int(default["revision"]):
                try:
                    where = f"last-good:{self._dir / LAST_GOOD_FILE}"
                    self._install(saved, where, persist=False, sha256=saved_sha256)
                    return
                except KbInvalid as exc:
                    self._reject(f"last-good bundle does not compile: {exc}", "start-up")
            self._install(default, f"embedded:{embedded}", persist=False)

    def _last_good(self) -> tuple[Mapping[str, Any] | None, str]:
        """The persisted last-good bundle and its file's SHA-256 when present and intact (the SHA-256 matches its
        meta file), else None (logged)."""
        bundle, meta = self._dir / LAST_GOOD_FILE, self._dir / META_FILE
        if not bundle.exists():
            return None, ""
        try:
            data = bundle.read_bytes()
            expected = json.loads(meta.read_bytes())["sha256"]
            if hashlib.sha256(data).hexdigest() != expected:
                raise ValueError("sha256 does not match its meta file")
            doc: Mapping[str, Any] = orjson.loads(data)
            int(doc["revision"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self._reject(f"last-good bundle unusable ({exc}); starting on the embedded default", "start-up")
            return None, ""
        return doc, expected

    # -- activation -----------------------------------------------------------------------------------------------

    def offer(self, data: bytes, source: str) -> str:
        """Verify and activate a signed bundle; returns the revision now running. Raises BundleRejected (logged and
        counted) when it is not activated; the running KB is untouched then."""
        with self._lock, collector_paused():  # parsing and compiling allocate millions of long-lived objects
            try:
                self._offered_at = time.perf_counter()
                verified = verify(data, self._trusted, check_points=False)  # build_index checks every point
                raw: bytes | None = None
                sha256 = None
                if verified.kind == "delta":
                    if self._doc is None:
                        raise BundleRejected("a delta needs a running full bundle")
                    doc = apply_delta(dict(self._doc), verified, self._doc_sha256, check_points=False)
                else:
                    doc, raw = verified.payload, verified.document or None
                    sha256 = verified.manifest.files[verified.manifest.payload_member]
                running = int(self._store.current.revision) if self._store.loaded else 0
                new = int(doc["revision"])
                if new <= running:
                    word = "already running" if new == running else "older than the running revision"
                    raise BundleRejected(f"revision {new} is {word} ({running}): a KB is never downgraded")
                self._install(doc, source, persist=True, raw=raw, sha256=sha256)
            except BundleRejected as exc:
                self._reject(exc.reason, source)
                raise
            except KbInvalid as exc:
                reason = f"bundle does not compile: {exc}"
                self._reject(reason, source)
                raise BundleRejected(reason) from exc
            return self._store.current.revision

    def _install(
        self,
        doc: Mapping[str, Any],
        source: str,
        *,
        persist: bool,
        raw: bytes | None = None,
        sha256: str | None = None,
    ) -> CompiledKB:
        """Compile `doc` aside while it is written as last-good (`raw`: its bytes as signed, else serialised;
        `sha256`: of those bytes, when known), put the last-good file in place, then swap. A bundle that does not
        compile leaves the previous last-good; a failed save leaves the new KB running and says so (logged)."""
        started = time.perf_counter()
        previous = self._store.current if self._store.loaded else None  # its unchanged points are reused
        save = StagedSave(self._dir, doc, raw, sha256) if persist else None  # the write overlaps the compile
        try:
            with collector_paused():  # (nested in offer's: harmless)
                kb = build_index(doc, self._store.parameter_overrides, previous)  # aside: the running KB serves
        except BaseException:
            if save is not None:
                save.discard()
            raise
        compiled = time.perf_counter()
        if save is not None:
            try:
                sha256 = save.commit(kb.revision, source)
            except OSError as exc:
                self._last_error = f"revision {kb.revision} runs but was not saved as last-good: {exc}"
                self._last_error_at = self._clock().isoformat(timespec="seconds")
                _log.error("kb.persist_failed", revision=kb.revision, reason=str(exc))
        saved = time.perf_counter()
        self._store.activate(kb, source)
        self._doc, self._doc_sha256 = doc, sha256
        self._activations += 1
        self._activated_at = self._clock().isoformat(timespec="seconds")
        offered = self._offered_at if persist else started  # at start-up: no verification (trusted local files)
        self.last_times = ActivationTimes(
            round((started - offered) * 1000, 1),
            round((compiled - started) * 1000, 1),
            round((saved - compiled) * 1000, 1),
        )
        _log.info("kb.activated", revision=kb.revision, source=source, points=len(kb.points),
                  verify_ms=self.last_times.verify_ms, compile_ms=self.last_times.compile_ms,
                  save_wait_ms=self.last_times.persist_ms)  # fmt: skip
        return kb

    def _reject(self, reason: str, source: str) -> None:
        self._rejections += 1
        self._last_error = reason
        self._last_error_at = self._clock().isoformat(timespec="seconds")
        _log.warning("kb.rejected", reason=reason, source=source)

    # -- status ---------------------------------------------------------------------------------------------------

    def status(self) -> KbStatus:
        """The running revision, where from and when, activations and rejections, the last error, points per class."""
        return store_status(
            self._store,
            activated_at=self._activated_at,
            activations=self._activations,
            rejections=self._rejections,
            last_error=self._last_error,
            last_error_at=self._last_error_at,
        )
