"""Deltas: applied on their base they give exactly the new bundle (the real 2026-01 revision included); they apply
only on their base revision, and only on the very bundle they were built from."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from fundguard.agent.engine import build_index
from fundguard.knowledge_base.bundle import BundleRejected, VerifiedBundle, apply_delta, build_delta, verify
from fundguard.knowledge_base.bundle.delta import make_delta
from fundguard.knowledge_base.bundle.documents import canonical_bytes

from .conftest import RealBundles, Signer

BASE: dict[str, Any] = {
    "format": "fundguard-kb-bundle",
    "format_version": 1,
    "revision": 1,
    "created_at": "2026-01-01",
    "issuer": "test",
    "source": {"files": {}},
    "parameters": {"child_below_years": 18},
    "rules": [{"rule_class": "A"}],
    "points": [
        {"kp_id": "KP-1", "rule_class": "A", "v": 1},
        {"kp_id": "KP-2", "rule_class": "A", "v": 1},
        {"kp_id": "KP-3", "rule_class": "B", "v": 1},
    ],
    "not_compiled": [],
}


def _new(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(BASE) | {"revision": 2, "created_at": "2026-02-01"}
    return doc | changes


def _delta(base: dict[str, Any], new: dict[str, Any]) -> VerifiedBundle:
    doc = make_delta(base, new)
    return VerifiedBundle(manifest=None, kind="delta", revision=doc["revision"], base_revision=doc["base_revision"],
                          payload=doc)  # type: ignore[arg-type]  # fmt: skip


NEW_CASES = {
    "point-changed": _new(points=[BASE["points"][0], {"kp_id": "KP-2", "rule_class": "A", "v": 2}, BASE["points"][2]]),
    "point-withdrawn": _new(points=BASE["points"][:2]),
    "point-added": _new(points=[*BASE["points"], {"kp_id": "KP-4", "rule_class": "B", "v": 1}]),
    "reordered": _new(points=[BASE["points"][2], BASE["points"][0], BASE["points"][1]]),
    "added-in-the-middle": _new(points=[BASE["points"][0], {"kp_id": "KP-9", "rule_class": "A"}, *BASE["points"][1:]]),
    "rules-and-parameters": _new(rules=[{"rule_class": "A", "x": 1}], parameters={"child_below_years": 14}),
    "source-removed": {k: v for k, v in _new().items() if k != "source"},
    "issuer": _new(issuer="bureau"),
}


@pytest.mark.parametrize("new", NEW_CASES.values(), ids=NEW_CASES.keys())
def test_applying_a_delta_on_its_base_gives_the_new_bundle(new: dict[str, Any]) -> None:
    """Whatever changed (points, order, rules, parameters, header), base + delta == new, byte for byte."""
    assert canonical_bytes(new) == canonical_bytes(apply_delta(BASE, _delta(BASE, new)))


def test_a_delta_carries_only_what_changed() -> None:
    """Unchanged rules/parameters/source are not repeated; the natural order needs no order list."""
    doc = make_delta(BASE, NEW_CASES["point-changed"])
    assert ([], ["KP-2"], []) == (doc["added"], [p["kp_id"] for p in doc["changed"]], doc["withdrawn"])
    assert not {"rules", "parameters", "source", "not_compiled", "order"} & set(doc)
    assert ["KP-3", "KP-1", "KP-2"] == make_delta(BASE, NEW_CASES["reordered"])["order"]


def test_a_delta_applies_only_on_its_base_revision() -> None:
    """Another running revision: refused, naming both revisions."""
    delta = _delta(BASE, NEW_CASES["point-added"])
    with pytest.raises(BundleRejected, match="delta base revision 1 but the running KB is revision 2"):
        apply_delta(NEW_CASES["point-added"], delta)


def test_a_delta_applies_only_on_the_bundle_it_was_built_from() -> None:
    """Same revision number, other content: refused (base sha256 differs)."""
    other = copy.deepcopy(BASE)
    other["points"][0]["v"] = 99
    with pytest.raises(BundleRejected, match="built on another revision-1 bundle"):
        apply_delta(other, _delta(BASE, NEW_CASES["point-changed"]))


def test_a_full_bundle_is_not_applied_as_a_delta(signer: Signer, signed: bytes) -> None:
    """apply_delta takes deltas only."""
    with pytest.raises(BundleRejected, match="a full bundle is not a delta"):
        apply_delta(BASE, verify(signed, signer.trusted))


def test_a_delta_that_does_not_fit_its_base_is_refused() -> None:
    """Changing or withdrawing an absent point, or adding a present one, is refused naming the point."""
    good = make_delta(BASE, NEW_CASES["point-added"])
    for edit, reason in [
        ({"changed": [{"kp_id": "KP-7", "rule_class": "A"}]}, "delta changes KP-7"),
        ({"withdrawn": ["KP-7"]}, "delta withdraws KP-7"),
        ({"added": [BASE["points"][0]]}, "delta adds KP-1, which the revision-1 bundle already has"),
        ({"order": ["KP-1"]}, "order does not list exactly the points"),
    ]:
        spoiled = VerifiedBundle(None, "delta", 2, 1, good | edit)  # type: ignore[arg-type]
        with pytest.raises(BundleRejected, match=reason):
            apply_delta(BASE, spoiled)


def test_a_field_outside_format_v1_needs_a_full_bundle() -> None:
    """A delta only carries what it knows how to carry."""
    with pytest.raises(BundleRejected, match="new bundle has field 'extra' outside format v1"):
        make_delta(BASE, _new(extra=1))


def test_the_real_2026_01_revision_as_a_signed_delta(real: RealBundles, signer: Signer) -> None:
    """Batches 1–17 + the signed delta = the full import with the 2026-01 revision, which the engine compiles."""
    old, new = json.loads(real.old.read_bytes()), real.new.read_bytes()
    verified = verify(signer.sign(build_delta(real.old.read_bytes(), new)), signer.trusted)
    assert ("delta", 2, 1) == (verified.kind, verified.revision, verified.base_revision)
    assert (411, 397, 0) == tuple(len(verified.payload[k]) for k in ("added", "changed", "withdrawn"))
    result = apply_delta(old, verified)
    assert new == canonical_bytes(result)
    assert "2" == build_index(result).revision
