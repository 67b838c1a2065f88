"""The agent's cache of practitioners' 医保支付资格 statuses, as the central platform last sent them.

Checks read it on every call, so `facts(check_code_format)` hands out a prepared `PractitionerFacts` without copying:
an update (`apply`) builds the new mapping aside, freezes it and swaps one reference (readers never lock). Only what
the engine can act on is kept: a practitioner back to "normal" is dropped, codes not listed are normal.

`apply(StatusesResponse, full=...)` merges the statuses changed since the cache's revision (a `full` answer — to a
request since revision 0 — replaces everything) and moves to the answer's revision. Each entry is validated once
here, at the edge; a bad one is skipped (logged, naming its field) and the rest applied. A revision lower than the
cache's means the central platform lost its history: the cache keeps enforcing what it knows but drops to revision
0, so the next request asks for everything and the full answer replaces it.

The cache is persisted as JSON in the data dir (temp file, fsync, rename) after every change, so a restarted agent
enforces offline what it last knew and resumes from that revision. An unreadable file is logged and ignored (the
next poll resynchronises from revision 0). A failed write is logged and counted; the in-memory state stays current.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any

import structlog

from fundguard.agent.engine.practitioner_model import NORMAL, STATUSES, SUSPENDED, PractitionerFacts, Qualification
from fundguard.knowledge_base.durable import replace_file
from fundguard.v1.central_pb2 import PractitionerStatus, StatusesResponse

__all__ = ["CACHE_FILE", "FILE_FORMAT", "Applied", "StatusCache"]

CACHE_FILE = "practitioner-statuses.json"
FILE_FORMAT = "fundguard-practitioner-statuses"
FILE_VERSION = 1
_DATE_LENGTH = 10  # "yyyy-MM-dd"

_log = structlog.get_logger("fundguard.agent.practitioners")


@dataclass(frozen=True, slots=True)
class Applied:
    """What one `apply` did: the revision now held, entries changed, entries skipped as invalid, whether it
    replaced everything (`full`) or asked for a resynchronisation (`resync`: the answer's revision went back)."""

    revision: int
    changed: int = 0
    skipped: int = 0
    full: bool = False
    resync: bool = False


def _snapshots(statuses: Mapping[str, Qualification]) -> tuple[PractitionerFacts, PractitionerFacts]:
    frozen = MappingProxyType(dict(statuses))
    return PractitionerFacts(frozen, check_code_format=False), PractitionerFacts(frozen, check_code_format=True)


class StatusCache:
    """Statuses by practitioner code plus the revision they bring the agent to; persisted at `path` (None: memory
    only). Thread-safe: one writer at a time, readers take the current snapshot."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._revision = 0
        self._facts = _snapshots({})
        self.save_failures = 0
        if path is not None:
            self._load(path)

    @property
    def path(self) -> Path | None:
        """Where the cache is persisted."""
        return self._path

    @property
    def revision(self) -> int:
        """The central revision the cache holds (0: nothing yet, or a full resynchronisation is due)."""
        return self._revision

    def __len__(self) -> int:
        return len(self._facts[0].statuses)

    def get(self, code: str) -> Qualification | None:
        """The qualification cached for `code` (None: normal, as far as the agent knows)."""
        return self._facts[0].statuses.get(code.strip())

    def facts(self, check_code_format: bool = False) -> PractitionerFacts:
        """The snapshot a check hands the engine (prepared at the last update: nothing is copied here)."""
        return self._facts[1 if check_code_format else 0]

    def apply(self, response: StatusesResponse, *, full: bool = False) -> Applied:
        """Apply an answer of `PractitionerStatuses`; `full` when it answered a request since revision 0."""
        with self._lock:
            if not full and response.revision < self._revision:
                _log.warning("practitioners.revision_went_back", held=self._revision, received=response.revision)
                self._revision = 0
                self._save()
                return Applied(0, resync=True)
            if not full and response.revision == self._revision and not response.statuses:
                return Applied(self._revision)  # a long poll that timed out: nothing new
            statuses = {} if full else dict(self._facts[0].statuses)
            changed = skipped = 0
            for n, entry in enumerate(response.statuses):
                decoded = _decode(entry, f"statuses[{n}]")
                if decoded is None:
                    skipped += 1
                    continue
                code, qualification = decoded
                before = statuses.get(code)
                if qualification is None:
                    statuses.pop(code, None)
                else:
                    statuses[code] = qualification
                changed += before != qualification
            self._facts = _snapshots(statuses)
            self._revision = response.revision
            self._save()
        _log.info("practitioners.updated", revision=response.revision, changed=changed, skipped=skipped, full=full,
                  held=len(statuses))  # fmt: skip
        return Applied(response.revision, changed, skipped, full)

    # -- persistence ------------------------------------------------------------------------------------------------

    def _save(self) -> None:
        if self._path is None:
            return
        doc = {
            "format": FILE_FORMAT,
            "version": FILE_VERSION,
            "revision": self._revision,
            "statuses": {code: {"status": q.status, "until": q.until.isoformat() if q.until else ""}
                         for code, q in sorted(self._facts[0].statuses.items())},
        }  # fmt: skip
        try:
            replace_file(self._path, (json.dumps(doc, ensure_ascii=False, indent=1) + "\n").encode("utf-8"))
        except OSError as exc:
            self.save_failures += 1
            _log.error("practitioners.save_failed", path=str(self._path), reason=exc.strerror or str(exc))

    def _load(self, path: Path) -> None:
        try:
            doc = json.loads(path.read_bytes())
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            _log.warning("practitioners.cache_unreadable", path=str(path), reason=str(exc))
            return
        try:
            revision, statuses = _parse_file(doc)
        except ValueError as exc:
            _log.warning("practitioners.cache_unreadable", path=str(path), reason=str(exc))
            return
        self._revision = revision
        self._facts = _snapshots(statuses)
        _log.info("practitioners.cache_loaded", path=str(path), revision=revision, held=len(statuses))


def _until(text: str) -> date | None:
    """A "yyyy-MM-dd" date; raises ValueError otherwise."""
    if len(text) != _DATE_LENGTH:
        raise ValueError(f"not a yyyy-MM-dd date: {text!r}")
    return date.fromisoformat(text)


def _decode(entry: PractitionerStatus, where: str) -> tuple[str, Qualification | None] | None:
    """(code, qualification or None for normal), or None when the entry is unusable (logged with its field). A
    suspension whose end date cannot be read is kept open-ended: the bureau said suspended."""
    code = entry.practitioner_code.strip()
    if not code:
        _log.warning("practitioners.invalid_status", field=f"{where}.practitioner_code", reason="empty")
        return None
    status = entry.status.strip().lower()
    if status not in STATUSES:
        _log.warning("practitioners.invalid_status", field=f"{where}.status", reason=f"unknown status {status!r}")
        return None
    if status == NORMAL:
        return code, None
    until: date | None = None
    if status == SUSPENDED and entry.until.strip():
        try:
            until = _until(entry.until.strip())
        except ValueError as exc:
            _log.warning("practitioners.invalid_status", field=f"{where}.until", reason=str(exc))
    return code, Qualification(status, until)


def _parse_file(doc: Any) -> tuple[int, dict[str, Qualification]]:
    """The revision and statuses of a persisted cache; raises ValueError naming the field."""
    if not isinstance(doc, dict) or doc.get("format") != FILE_FORMAT or doc.get("version") != FILE_VERSION:
        raise ValueError(f"format: not a {FILE_FORMAT} version {FILE_VERSION} file")
    revision = doc.get("revision")
    if type(revision) is not int or revision < 0:
        raise ValueError("revision: not a non-negative integer")
    raw = doc.get("statuses")
    if not isinstance(raw, dict):
        raise ValueError("statuses: not an object")
    statuses: dict[str, Qualification] = {}
    for code, entry in raw.items():
        where = f"statuses.{code}"
        if not isinstance(entry, dict) or entry.get("status") not in STATUSES - {NORMAL}:
            raise ValueError(f"{where}.status: not a stored status")
        until = entry.get("until", "")
        if not isinstance(until, str):
            raise ValueError(f"{where}.until: not a string")
        try:
            statuses[code] = Qualification(entry["status"], _until(until) if until else None)
        except ValueError as exc:
            raise ValueError(f"{where}.until: {exc}") from exc
    return revision, statuses
