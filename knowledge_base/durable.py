"""Replacing a file durably: the new bytes go to a temporary file beside it, are flushed to disk, then renamed over
the old one, so a reader (or a restart after a crash) sees either the old file or the whole new one, never half.

Used for what must survive a crash intact: KB bundles written by the importer and the tools, the agent's last-good
bundle, the practitioner statuses it enforces offline.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["replace_file", "stage_file"]


def stage_file(path: Path, data: bytes, mode: int | None = None) -> Path:
    """Write `data` to a temporary file beside `path` and flush it to disk; returns the temporary file, which
    `os.replace(staged, path)` then puts in place at once (or the caller deletes). Creates the parent folder.
    Raises OSError; a failed write leaves no temporary file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def replace_file(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write `data` to `path` atomically (temp file, fsync, rename); `mode` sets its permissions (mkstemp's 0600
    otherwise). Creates the parent folder. Raises OSError; a failed write leaves no temporary file behind."""
    staged = stage_file(path, data, mode)
    try:
        os.replace(staged, path)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
