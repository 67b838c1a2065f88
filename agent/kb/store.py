"""Hold the active compiled KB: build a new one aside, swap one reference, keep the last good one on failure.

Reads are lock-free (`store.current` is one attribute read); loads are serialised. Issue-level features
(signatures, drop folder, polling) build on `activate()`.
"""

from __future__ import annotations

import contextlib
import gc
import json
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from fundguard.agent.engine import CompiledKB, KbInvalid, KbUnavailable, build_index

__all__ = ["KbStore", "collector_paused", "load_bundle_file", "read_bundle"]


def read_bundle(path: Path) -> dict[str, Any]:
    """Read a bundle JSON file; raises KbInvalid (not UTF-8 JSON, not an object) or OSError (unreadable)."""
    data = path.read_bytes()
    try:
        bundle = orjson.loads(data)  # from the bytes: a str would be re-encoded (+0.3 s for a 100k-point bundle)
    except json.JSONDecodeError as exc:  # orjson's error is a json.JSONDecodeError
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as bad:
            raise KbInvalid(f"not UTF-8 text ({bad.reason} at byte {bad.start})", str(path)) from exc
        raise KbInvalid(f"not JSON ({exc.msg} at line {exc.lineno})", str(path)) from exc
    if not isinstance(bundle, dict):
        raise KbInvalid("not a JSON object", str(path))
    return bundle


def load_bundle_file(path: Path, parameter_overrides: Mapping[str, Any] | None = None) -> CompiledKB:
    """Read a bundle JSON file and compile it; raises KbInvalid (bad content) or OSError (unreadable)."""
    return build_index(read_bundle(path), parameter_overrides)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a KB is built: the build allocates hundreds of thousands of
    long-lived objects, and the collections they would trigger (each walking the whole heap, GIL held) stall the
    checks running meanwhile and double the build time. Re-enabled afterwards (unless it was off already)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class KbStore:
    """The active KB and where it came from; `current` raises KbUnavailable until a load succeeded."""

    def __init__(self, parameter_overrides: Mapping[str, Any] | None = None) -> None:
        self._kb: CompiledKB | None = None
        self._source = ""
        self._lock = threading.Lock()
        self.parameter_overrides = dict(parameter_overrides or {})
        self.last_error = ""

    @property
    def current(self) -> CompiledKB:
        """The KB checks run on now."""
        kb = self._kb
        if kb is None:
            raise KbUnavailable("no knowledge base loaded")
        return kb

    @property
    def loaded(self) -> bool:
        """True once a KB is active."""
        return self._kb is not None

    @property
    def source(self) -> str:
        """Where the active KB was loaded from."""
        return self._source

    def activate(self, kb: CompiledKB, source: str) -> None:
        """Swap in an already compiled KB (one reference assignment)."""
        with self._lock:
            self._swap(kb, source)

    def _swap(self, kb: CompiledKB, source: str) -> None:
        self._kb = kb
        self._source = source
        self.last_error = ""
        # The KB is ~100k (up to millions of) long-lived objects: move them out of the collector's generations so
        # that collections during checks do not walk them (a replaced KB is still freed by reference counting: it
        # has no cycles). No full collection first: on a big KB it stops every check for a few hundred ms.
        gc.freeze()

    def load(self, path: Path) -> CompiledKB:
        """Compile the bundle at `path` aside and swap it in; on failure keep the current KB and re-raise."""
        with self._lock:
            try:
                with collector_paused():
                    kb = load_bundle_file(path, self.parameter_overrides)
            except (KbInvalid, OSError) as exc:
                self.last_error = str(exc)
                raise
            self._swap(kb, str(path))
            return kb
