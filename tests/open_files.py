"""Counting this process's open files, for the tests that show a store's descriptors are fixed at start."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

__all__ = ["needs_proc", "open_files"]

needs_proc = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts descriptors in /proc/self/fd")


def open_files(root: Path) -> Counter[str]:
    """This process's descriptors on files under `root`, by file name."""
    found: Counter[str] = Counter()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # the listing's own descriptor, closed by now
            continue
        if target.startswith(f"{root}/"):
            found[Path(target).name] += 1
    return found
