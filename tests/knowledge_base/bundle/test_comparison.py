"""diff: point by point, per rule class — added, changed (with the fields), withdrawn, superseded; rules and
parameters that differ. Between the batch-1..17 bundle and the one with the 2026-01 revision: exactly the 397
superseded points."""

from __future__ import annotations

import json
from typing import Any

from fundguard.knowledge_base.bundle import ClassDiff, diff

from .conftest import RealBundles

A: dict[str, Any] = {
    "revision": 1,
    "parameters": {"child_below_years": 18, "old": 1},
    "rules": [{"rule_class": "A", "sev_deg": "1"}, {"rule_class": "B", "sev_deg": "2"}],
    "points": [
        {"kp_id": "KP-1", "rule_class": "A", "valid_to": None},
        {"kp_id": "KP-2", "rule_class": "A", "codes": ["x"]},
        {"kp_id": "KP-3", "rule_class": "B"},
    ],
    "not_compiled": [{"kp_id": "KP-5", "rule_class": "B"}],
}
B: dict[str, Any] = {
    "revision": 2,
    "parameters": {"child_below_years": 14},
    "rules": [{"rule_class": "A", "sev_deg": "1"}, {"rule_class": "B", "sev_deg": "3"}],
    "points": [
        {"kp_id": "KP-1", "rule_class": "A", "valid_to": "2026-01-28"},
        {"kp_id": "KP-2", "rule_class": "A", "codes": ["x"]},
        {"kp_id": "KP-4", "rule_class": "A", "supersedes": "KP-1"},
        {"kp_id": "KP-6", "rule_class": "B", "supersedes": "KP-5"},
    ],
}


def test_each_kind_of_change_is_found_per_rule_class() -> None:
    """KP-1 changed and superseded, KP-4 added (A); KP-3 withdrawn, KP-6 added, not-compiled KP-5 superseded (B)."""
    result = diff(A, B)
    assert {
        "A": ClassDiff(added=("KP-4",), changed=("KP-1",), superseded=("KP-1",)),
        "B": ClassDiff(added=("KP-6",), withdrawn=("KP-3",), superseded=("KP-5",)),
    } == dict(result.classes)
    assert ({"KP-1": ("valid_to",)}, ("B",), ("child_below_years", "old")) == (
        dict(result.changed_fields),
        result.rules,
        result.parameters,
    )
    assert {"added": 2, "changed": 1, "withdrawn": 1, "superseded": 2} == result.totals()


def test_a_supersession_already_in_the_older_bundle_is_not_new() -> None:
    """Comparing a bundle with itself shows nothing, supersedes included."""
    result = diff(B, B)
    assert ({}, {"added": 0, "changed": 0, "withdrawn": 0, "superseded": 0}) == (dict(result.classes), result.totals())


def test_json_lists_ids_only_when_asked() -> None:
    """Counts per class always; kp_ids and changed fields with with_ids."""
    brief, full = diff(A, B).to_json(), diff(A, B).to_json(with_ids=True)
    assert ("ids" not in brief["classes"]["A"], "changed_fields" not in brief) == (True, True)
    assert (["KP-1"], {"KP-1": ["valid_to"]}) == (full["classes"]["A"]["ids"]["superseded"], full["changed_fields"])


def test_the_2026_01_revision_supersedes_exactly_397_points(real: RealBundles) -> None:
    """Batch-1..17 → with 2026-01: the superseded points are exactly those the new points name; each also changed
    (valid_to now set); 411 added; none withdrawn."""
    old, new = json.loads(real.old.read_bytes()), json.loads(real.new.read_bytes())
    result = diff(old, new)
    named = {p["supersedes"] for p in new["points"] if p["supersedes"]}
    assert (397, named) == (len(result.ids("superseded")), set(result.ids("superseded")))
    assert {"added": 411, "changed": 397, "withdrawn": 0, "superseded": 397} == result.totals()
    assert {("valid_to",)} == {result.changed_fields[kp] for kp in result.ids("changed")}
