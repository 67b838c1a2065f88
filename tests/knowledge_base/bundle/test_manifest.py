"""The manifest: canonical bytes that round-trip, the effective-date summary, and a parser that names the field
it refuses."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fundguard.knowledge_base.bundle import BundleRejected, Effective, Manifest
from fundguard.knowledge_base.bundle.manifest import effective_of, parse_manifest, superseded_by

MANIFEST = Manifest(
    kind="delta",
    revision=3,
    base_revision=2,
    created_at="2026-06-29",
    issuer="国家医保局",
    bundle_format_version=1,
    files={"delta.json": "ab" * 32},
    counts={"药品限适应症": 5, "药品儿童专用": 2},
    effective=Effective("2026-01-28", "2026-06-01", 4, 1),
    supersedes=("KP-1", "KP-2"),
    key_id="bureau-2026",
)


def test_the_bytes_are_canonical_json_and_parse_back() -> None:
    """Sorted keys, compact, UTF-8 (Chinese unescaped), no newline; parsing gives the same manifest."""
    raw = MANIFEST.to_bytes()
    doc = json.loads(raw)
    assert raw == json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    assert ("fundguard-kb-signed-bundle", 1, "国家医保局") == (doc["format"], doc["format_version"], doc["issuer"])
    assert MANIFEST == parse_manifest(raw)


def test_with_key_id_names_the_signer_and_nothing_else() -> None:
    """Only key_id changes."""
    renamed = MANIFEST.with_key_id("other")
    assert ("other", MANIFEST.to_json() | {"key_id": "other"}) == (renamed.key_id, renamed.to_json())


def test_effective_summarises_the_points_dates() -> None:
    """Earliest valid_from, latest valid_to, and how many points carry each bound."""
    points = [
        {"valid_from": None, "valid_to": None},
        {"valid_from": "2026-04-21", "valid_to": "2027-01-01"},
        {"valid_from": "2026-01-28", "valid_to": None},
        {"valid_from": None, "valid_to": "2026-01-28"},
    ]
    assert Effective("2026-01-28", "2027-01-01", 2, 2) == effective_of(points)
    assert Effective(None, None, 0, 0) == effective_of([{}])


def test_superseded_by_lists_the_named_points_once_sorted() -> None:
    """Each kp_id named in supersedes, once, sorted."""
    points = [{"supersedes": "KP-b"}, {"supersedes": None}, {"supersedes": "KP-a"}, {"supersedes": "KP-b"}]
    assert ("KP-a", "KP-b") == superseded_by(points)


def _spoiled(**changes: Any) -> bytes:
    doc = MANIFEST.to_json()
    for key, value in changes.items():
        if value is ...:
            del doc[key]
        else:
            doc[key] = value
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff", "manifest.json: not UTF-8"),
        (b"{", "manifest.json: not JSON"),
        (b"[]", "manifest.json: not a JSON object"),
        (_spoiled(format="zip"), "format must be"),
        (_spoiled(format_version=2), "format_version 2 is not supported"),
        (_spoiled(kind="partial"), "kind must be 'full' or 'delta'"),
        (_spoiled(base_revision=None), "base_revision must be an integer in a delta"),
        (_spoiled(kind="full"), "base_revision must be an integer in a delta, null in a full bundle"),
        (_spoiled(revision="3"), "revision must be an integer"),
        (_spoiled(revision=True), "revision must be an integer"),
        (_spoiled(created_at=...), "created_at must be a string"),
        (_spoiled(files={"delta.json": "xyz"}), "files['delta.json'] must be a SHA-256 hex string"),
        (_spoiled(counts={"a": "1"}), "counts['a'] must be a count of points"),
        (_spoiled(effective={"from": 1}), "effective must be an object"),
        (_spoiled(supersedes="KP-1"), "supersedes must be a list of kp_ids"),
        (_spoiled(key_id=7), "key_id must be a string or null"),
    ],
)
def test_a_malformed_manifest_is_refused_naming_the_field(raw: bytes, reason: str) -> None:
    """Each malformed manifest is a BundleRejected naming what is wrong."""
    with pytest.raises(BundleRejected) as refused:
        parse_manifest(raw)
    assert reason in refused.value.reason
