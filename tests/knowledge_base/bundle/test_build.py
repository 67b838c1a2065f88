"""Building unsigned bundle files: the importer's bundle.json goes in byte for byte with a manifest describing it
(revision, counts per rule class, effective dates, superseded points); the same input gives the same file; a delta
describes the bundle it produces."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from fundguard.knowledge_base.bundle import BundleRejected, build_delta, build_full, read_full
from fundguard.knowledge_base.bundle.archive import unpack
from fundguard.knowledge_base.bundle.manifest import parse_manifest

from .conftest import RealBundles


def test_a_full_bundle_holds_bundle_json_unchanged_and_describes_it(default_raw: bytes, unsigned: bytes) -> None:
    """bundle.json keeps its bytes; the manifest has its revision, hash, counts, dates and supersedes."""
    members = unpack(unsigned)
    manifest = parse_manifest(members["manifest.json"])
    doc = json.loads(default_raw)
    assert ({"bundle.json", "manifest.json"}, default_raw) == (set(members), members["bundle.json"])
    assert ("full", doc["revision"], None, None) == (
        manifest.kind,
        manifest.revision,
        manifest.base_revision,
        manifest.key_id,
    )
    assert {"bundle.json": hashlib.sha256(default_raw).hexdigest()} == manifest.files
    assert len(doc["points"]) == sum(manifest.counts.values())
    assert 21 == len(manifest.counts)
    assert (397, 397) == (len(manifest.supersedes), manifest.effective.time_limited)
    assert ("2026-01-28", "2026-01-28") == (manifest.effective.valid_from, manifest.effective.valid_to)


def test_the_same_bundle_gives_the_same_file(default_raw: bytes, unsigned: bytes) -> None:
    """Nothing in the file depends on the clock or on dict order."""
    assert unsigned == build_full(default_raw)
    assert unsigned == build_full(Path(_written(default_raw)))


def _written(data: bytes) -> Path:
    path = Path("bundle.json")  # the suite runs in the test's tmp dir
    path.write_bytes(data)
    return path


def test_the_issuer_can_name_the_publisher(default_raw: bytes) -> None:
    """--issuer goes into the manifest; bundle.json is still untouched."""
    members = unpack(build_full(default_raw, issuer="上海市医疗保障局"))
    assert ("上海市医疗保障局", default_raw) == (
        parse_manifest(members["manifest.json"]).issuer,
        members["bundle.json"],
    )


def test_a_bundle_that_fails_the_quick_check_is_not_built() -> None:
    """A bundle without points (or not a bundle at all) is refused naming the field."""
    with pytest.raises(BundleRejected, match=r"bundle\.json: format must be 'fundguard-kb-bundle'"):
        build_full(b'{"format": "x"}')
    with pytest.raises(BundleRejected, match="not JSON"):
        build_full(b"PK\x03\x04")


def test_read_full_takes_a_bundle_file_or_a_bundle_json(default_raw: bytes, unsigned: bytes) -> None:
    """Both give the same document."""
    assert read_full(default_raw) == read_full(unsigned) == json.loads(default_raw)


def test_read_full_refuses_a_delta(real: RealBundles) -> None:
    """A delta is not a full bundle."""
    delta = build_delta(real.old.read_bytes(), real.new.read_bytes())
    with pytest.raises(BundleRejected, match=r"^new: a delta \(revision 2 on 1\), not a full bundle$"):
        read_full(delta, "new")


def test_a_delta_describes_the_bundle_it_produces(real: RealBundles) -> None:
    """Kind delta on base 1; counts and dates are the new bundle's; supersedes lists the 397 newly superseded."""
    delta = build_delta(real.old.read_bytes(), build_full(real.new.read_bytes()))
    members = unpack(delta)
    manifest = parse_manifest(members["manifest.json"])
    new = json.loads(real.new.read_bytes())
    assert ("delta", 2, 1, {"delta.json", "manifest.json"}) == (
        manifest.kind,
        manifest.revision,
        manifest.base_revision,
        set(members),
    )
    assert (len(new["points"]), 397) == (sum(manifest.counts.values()), len(manifest.supersedes))
    assert sorted({p["supersedes"] for p in new["points"] if p["supersedes"]}) == list(manifest.supersedes)
    assert delta == build_delta(real.old.read_bytes(), real.new.read_bytes())


def test_a_delta_needs_a_newer_revision(real: RealBundles) -> None:
    """From a bundle to itself (or backwards) there is no delta."""
    with pytest.raises(BundleRejected, match="new revision 2 is not above the base revision 2"):
        build_delta(real.new.read_bytes(), real.new.read_bytes())
