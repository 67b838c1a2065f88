"""The manifest of a bundle file: what it is, which revision, from whom, what it holds — the signed part.

`manifest.json` is canonical JSON (sorted keys, compact, UTF-8, no trailing newline) and the Ed25519 signature is
over its exact bytes. It names every other member with its SHA-256, so signing the manifest signs the file.

```
{"format": "fundguard-kb-signed-bundle", "format_version": 1, "kind": "full" | "delta",
 "revision": 2, "base_revision": null | 1, "created_at": "2026-06-29", "issuer": "...",
 "bundle_format_version": 1, "files": {"bundle.json": "<sha256 hex>"},
 "counts": {"<rule_class>": points, ...},                        # of the bundle at `revision`
 "effective": {"from": "2026-01-28", "to": "2026-01-28",         # min valid_from, max valid_to of its points
               "dated": 1206, "time_limited": 397},              # points with a valid_from / with a valid_to
 "supersedes": ["KP-...", ...], "key_id": null | "bureau-2026"}
```
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .documents import canonical_bytes, parse_object
from .errors import BundleRejected

__all__ = [
    "DELTA",
    "FULL",
    "MANIFEST_FORMAT",
    "MANIFEST_FORMAT_VERSION",
    "Effective",
    "Manifest",
    "effective_of",
    "parse_manifest",
    "superseded_by",
]

MANIFEST_FORMAT = "fundguard-kb-signed-bundle"
MANIFEST_FORMAT_VERSION = 1
FULL = "full"
DELTA = "delta"
_NAME = "manifest.json"
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class Effective:
    """When the points of a bundle apply: the earliest start and latest end, and how many points are dated."""

    valid_from: str | None
    valid_to: str | None
    dated: int
    time_limited: int

    def to_json(self) -> dict[str, Any]:
        """The manifest's `effective` object."""
        return {"from": self.valid_from, "to": self.valid_to, "dated": self.dated, "time_limited": self.time_limited}


@dataclass(frozen=True, slots=True)
class Manifest:
    """A parsed manifest (see the module doc); `key_id` is None until the file is signed."""

    kind: str
    revision: int
    base_revision: int | None
    created_at: str
    issuer: str
    bundle_format_version: int
    files: Mapping[str, str]
    counts: Mapping[str, int]
    effective: Effective
    supersedes: tuple[str, ...]
    key_id: str | None = None

    @property
    def payload_member(self) -> str:
        """The member holding the document: bundle.json (full) or delta.json (delta)."""
        return "bundle.json" if self.kind == FULL else "delta.json"

    def with_key_id(self, key_id: str) -> Manifest:
        """The same manifest naming the key that signs it."""
        return dataclasses.replace(self, key_id=key_id)

    def to_json(self) -> dict[str, Any]:
        """The manifest as a JSON object."""
        return {
            "format": MANIFEST_FORMAT,
            "format_version": MANIFEST_FORMAT_VERSION,
            "kind": self.kind,
            "revision": self.revision,
            "base_revision": self.base_revision,
            "created_at": self.created_at,
            "issuer": self.issuer,
            "bundle_format_version": self.bundle_format_version,
            "files": dict(sorted(self.files.items())),
            "counts": dict(sorted(self.counts.items())),
            "effective": self.effective.to_json(),
            "supersedes": list(self.supersedes),
            "key_id": self.key_id,
        }

    def to_bytes(self) -> bytes:
        """The exact bytes that are written as manifest.json and signed."""
        return canonical_bytes(self.to_json(), newline=False)


def effective_of(points: Iterable[Mapping[str, Any]]) -> Effective:
    """The `effective` summary of a bundle's points (README: a point is in force when valid_from <= d < valid_to)."""
    starts = [p["valid_from"] for p in points if isinstance(p.get("valid_from"), str)]
    ends = [p["valid_to"] for p in points if isinstance(p.get("valid_to"), str)]
    return Effective(min(starts, default=None), max(ends, default=None), len(starts), len(ends))


def superseded_by(points: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    """The kp_ids that `points` name in `supersedes`, sorted."""
    return tuple(sorted({p["supersedes"] for p in points if isinstance(p.get("supersedes"), str)}))


# -- parsing --------------------------------------------------------------------------------------------------------


def _field(
    doc: Mapping[str, Any], key: str, kind: type | tuple[type, ...], what: str, *, optional: bool = False
) -> Any:
    value = doc.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise BundleRejected(f"{_NAME}: {key} must be {what}")
    return value


def _str_map(doc: Mapping[str, Any], key: str, value_kind: type, what: str) -> dict[str, Any]:
    value = _field(doc, key, dict, what)
    for k, v in value.items():
        if not isinstance(v, value_kind) or isinstance(v, bool):
            raise BundleRejected(f"{_NAME}: {key}[{k!r}] must be {what}")
    return dict(value)


def _effective(doc: Mapping[str, Any]) -> Effective:
    value = _field(doc, "effective", dict, "an object with from, to, dated and time_limited")
    bounds = [value.get("from"), value.get("to")]
    counts = [value.get("dated"), value.get("time_limited")]
    if not all(b is None or isinstance(b, str) for b in bounds) or not all(
        isinstance(c, int) and not isinstance(c, bool) for c in counts
    ):
        raise BundleRejected(f"{_NAME}: effective must be an object with from, to, dated and time_limited")
    return Effective(bounds[0], bounds[1], counts[0], counts[1])


def parse_manifest(raw: bytes) -> Manifest:
    """The manifest in `raw`; BundleRejected naming the field when it is not a format-1 manifest."""
    doc = parse_object(raw, _NAME)
    if doc.get("format") != MANIFEST_FORMAT:
        raise BundleRejected(f"{_NAME}: format must be {MANIFEST_FORMAT!r}, not {doc.get('format')!r}")
    if doc.get("format_version") != MANIFEST_FORMAT_VERSION:
        raise BundleRejected(f"{_NAME}: format_version {doc.get('format_version')!r} is not supported (only 1)")
    kind = doc.get("kind")
    if kind not in (FULL, DELTA):
        raise BundleRejected(f"{_NAME}: kind must be 'full' or 'delta', not {kind!r}")
    base = _field(doc, "base_revision", int, "an integer in a delta, null in a full bundle", optional=True)
    if (kind == DELTA) != (base is not None):
        raise BundleRejected(f"{_NAME}: base_revision must be an integer in a delta, null in a full bundle")
    files = _str_map(doc, "files", str, "a SHA-256 hex string")
    for name, digest in files.items():
        if not _SHA256.fullmatch(digest):
            raise BundleRejected(f"{_NAME}: files[{name!r}] must be a SHA-256 hex string")
    supersedes = _field(doc, "supersedes", list, "a list of kp_ids")
    if not all(isinstance(s, str) for s in supersedes):
        raise BundleRejected(f"{_NAME}: supersedes must be a list of kp_ids")
    return Manifest(
        kind=kind,
        revision=_field(doc, "revision", int, "an integer"),
        base_revision=base,
        created_at=_field(doc, "created_at", str, "a string"),
        issuer=_field(doc, "issuer", str, "a string"),
        bundle_format_version=_field(doc, "bundle_format_version", int, "an integer"),
        files=files,
        counts=_str_map(doc, "counts", int, "a count of points"),
        effective=_effective(doc),
        supersedes=tuple(supersedes),
        key_id=_field(doc, "key_id", str, "a string or null", optional=True),
    )
