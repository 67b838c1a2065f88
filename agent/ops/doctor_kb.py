"""`fundguard doctor`'s knowledge-base checks: the embedded default, the operator's bundle file, the last-good
bundle (its SHA-256 against its meta file: a flipped byte is caught), the trusted keys, and the signed bundles
waiting in (or refused from) the inbox, each verified as the agent would."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fundguard.agent.config import Settings
from fundguard.agent.engine import KbInvalid, build_index
from fundguard.agent.kb.activation import LAST_GOOD_FILE
from fundguard.agent.kb.saving import META_FILE  # {revision, sha256, source}, beside the last-good bundle
from fundguard.agent.kb.sources import KB_STATE_DIR
from fundguard.agent.kb.store import read_bundle
from fundguard.knowledge_base import default_bundle_path
from fundguard.knowledge_base.bundle import BundleRejected, load_trusted_keys, verify

from .findings import Finding

__all__ = ["META_FILE", "kb_findings"]

REJECTED_DIR = "rejected"


def _revision(doc: Mapping[str, Any]) -> int:
    return int(doc["revision"])


def _embedded() -> tuple[Finding, int | None]:
    path = default_bundle_path()
    try:
        revision = _revision(read_bundle(path))
    except (OSError, KbInvalid, KeyError, ValueError, TypeError) as exc:
        return Finding.fail("kb embedded", f"{path}: unusable ({exc}); reinstall fundguard"), None
    return Finding.ok("kb embedded", f"revision {revision} ({path.name})"), revision


def _configured(settings: Settings) -> Finding:
    path = settings.kb.path
    try:
        kb = build_index(read_bundle(path), settings.kb.parameters)
    except OSError as exc:
        return Finding.fail("kb bundle", f"kb.path {path}: cannot read it ({exc.strerror or exc})")
    except KbInvalid as exc:
        return Finding.fail("kb bundle", f"kb.path {path}: not a valid bundle ({exc})")
    return Finding.ok("kb bundle", f"kb.path {path}: revision {kb.revision}, {len(kb.points)} points, compiles")


def _last_good(settings: Settings, embedded: int | None) -> Finding:
    folder = settings.data.dir / KB_STATE_DIR
    bundle, meta = folder / LAST_GOOD_FILE, folder / META_FILE
    if not bundle.exists():
        return Finding.ok("kb last-good", "none saved yet (the agent starts on the embedded default)")
    try:
        data = bundle.read_bytes()
        expected = json.loads(meta.read_bytes())["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return Finding.fail(
            "kb last-good", f"{meta}: unreadable ({exc}); the agent will fall back to the embedded default"
        )
    if hashlib.sha256(data).hexdigest() != expected:
        return Finding.fail(
            "kb last-good",
            f"{bundle} is corrupt: its SHA-256 does not match {meta.name} (altered or damaged on disk); the agent "
            "will fall back to the embedded default — copy the signed bundle into the inbox again",
        )
    try:
        revision = _revision(json.loads(data))
    except (ValueError, KeyError, TypeError) as exc:
        return Finding.fail("kb last-good", f"{bundle}: no usable revision ({exc})")
    if embedded is not None and revision < embedded:
        return Finding.ok("kb last-good", f"revision {revision}, older than the embedded {embedded} (which runs)")
    return Finding.ok("kb last-good", f"revision {revision}, intact (runs at start)")


def _trusted(settings: Settings) -> tuple[Finding, dict[str, Ed25519PublicKey]]:
    path = settings.kb.trusted_keys
    if path is None:
        return Finding.ok("kb keys", "no trusted keys configured: only the bundle file or the embedded default run"), {}
    try:
        keys = load_trusted_keys(path)
    except (OSError, ValueError) as exc:
        return Finding.fail("kb keys", f"kb.trusted_keys {path}: {exc}"), {}
    if not keys:
        return Finding.fail(
            "kb keys", f"kb.trusted_keys {path}: no *.pub key in it (every bundle would be refused)"
        ), {}
    return Finding.ok("kb keys", f"{len(keys)} trusted key(s): {', '.join(sorted(keys))}"), keys


def _inbox(inbox: Path, keys: Mapping[str, Ed25519PublicKey]) -> Iterator[Finding]:
    waiting = sorted(inbox.glob("*.fgkb")) if inbox.is_dir() else []
    for file in waiting:
        try:
            verified = verify(file.read_bytes(), keys)
        except OSError as exc:
            yield Finding.fail("kb inbox", f"{file.name}: cannot read it ({exc.strerror or exc})")
        except BundleRejected as exc:
            yield Finding.fail("kb inbox", f"{file.name}: would be refused: {exc.reason}")
        else:
            yield Finding.ok("kb inbox", f"{file.name}: signature and hashes verify (revision {verified.revision})")
    refused = sorted((inbox / REJECTED_DIR).glob("*.error"), key=lambda p: p.stat().st_mtime)
    if refused:
        last = refused[-1]
        reason = last.read_text(encoding="utf-8", errors="replace").strip().splitlines()[:1]
        yield Finding.warn("kb inbox", f"{len(refused)} bundle(s) refused earlier; last {last.stem}: "
                                       f"{reason[0] if reason else '(no reason)'}")  # fmt: skip
    if not waiting and not refused:
        yield Finding.ok("kb inbox", f"{inbox}: nothing waiting")


def kb_findings(settings: Settings) -> Iterator[Finding]:
    """Every knowledge-base finding, in order."""
    embedded, revision = _embedded()
    yield embedded
    if settings.kb.explicit:
        yield _configured(settings)
    yield _last_good(settings, revision)
    keys_finding, keys = _trusted(settings)
    yield keys_finding
    if settings.kb.inbox is not None:
        yield from _inbox(settings.kb.inbox, keys)
