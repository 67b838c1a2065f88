"""The agent's SQLite store files, checked before the agent opens them: a damaged file stops the start with a message
naming it, what it holds and the way back.

A store file overwritten with garbage (a disk fault, a bad restore, a copy of something else) would otherwise fail
at the first SQLite call with "file is not a database" and no file name, or later with "database disk image is
malformed". The agent does not move such a file aside by itself: the outbox holds events the central platform has
not received and the decision store holds clinicians' decisions — evidence an operator must decide about, not have
silently replaced by an empty file. So the start fails (exit 1, systemd keeps restarting and failing, `fundguard
doctor` reports the same FAIL) with the command that recovers: move the file aside as `<file>.corrupt-<timestamp>`
(kept for a restore or forensics) and start again, which creates a fresh, empty store; or restore it from a backup.

The check at start is cheap (open read-only, read the schema, `PRAGMA quick_check(1)` on files up to
`QUICK_CHECK_MAX_BYTES`), so a large trace ledger does not delay the start; the doctor runs it too.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path

from fundguard.agent.config import Settings
from fundguard.agent.history.store import HISTORY_FILE
from fundguard.agent.trace.ledger import LEDGER_FILE
from fundguard.agent.uplink.outbox import OUTBOX_FILE

from .findings import Finding

__all__ = ["DECISIONS_FILE", "QUICK_CHECK_MAX_BYTES", "damage", "damaged_stores", "store_files", "store_findings"]

DECISIONS_FILE = "decisions.sqlite3"  # the agent's (app.DECISIONS_FILE), named here so the doctor need not load app

QUICK_CHECK_MAX_BYTES = 64 * 1024 * 1024  # larger files get the schema read only (a full check can take minutes)


def store_files(settings: Settings, decisions_file: str = DECISIONS_FILE) -> dict[Path, str]:
    """The store files the settings enable → what each holds (what a fresh, empty one would lack)."""
    data = settings.data.dir
    out = {data / decisions_file: "clinicians' decisions and the register of issued alerts"}
    if settings.uplink.enabled and settings.uplink.central is not None:
        out[settings.uplink.outbox or data / OUTBOX_FILE] = "events not yet received by the central platform"
    if settings.trace.enabled:
        out[settings.trace.ledger or data / LEDGER_FILE] = "the trace-code ledger (catalogue, inbound codes, sales)"
    if settings.history.enabled:
        out[settings.history.path or data / HISTORY_FILE] = "the patients' settled encounters (cross-visit rules)"
    return out


def damage(path: Path) -> str | None:
    """Why the SQLite file at `path` is unusable, or None (also when it does not exist yet: it will be created)."""
    if not path.exists():
        return None
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return str(exc)
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        if path.stat().st_size <= QUICK_CHECK_MAX_BYTES:
            verdict = db.execute("PRAGMA quick_check(1)").fetchone()[0]
            if verdict != "ok":
                return str(verdict)
    except sqlite3.Error as exc:
        return str(exc)
    finally:
        db.close()
    return None


def damaged_stores(files: Mapping[Path, str], now: datetime | None = None) -> list[str]:
    """One message per damaged file: what is wrong, what it holds, and the commands that recover."""
    stamp = (now or datetime.now()).strftime("%Y%m%dT%H%M%S")
    problems = []
    for path, holds in files.items():
        why = damage(path)
        if why is not None:
            problems.append(
                f"{path} is damaged ({why}); it holds {holds}. Restore it from a backup, or move it aside (with its "
                f"-wal and -shm files, if any) and start again with a fresh, empty one: "
                f"for f in {path} {path}-wal {path}-shm; do if [ -e $f ]; then mv $f $f.corrupt-{stamp}; fi; done"
            )
    return problems


def store_findings(settings: Settings) -> Iterator[Finding]:
    """The doctor's view: one FAIL per damaged store file (the agent will not start), else one OK line."""
    files = store_files(settings)
    problems = damaged_stores(files)
    for problem in problems:
        yield Finding.fail("stores", problem)
    if not problems:
        existing = sum(1 for path in files if path.exists())
        yield Finding.ok("stores", f"{existing} of {len(files)} store files exist, none damaged")
