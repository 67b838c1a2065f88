"""Deltas: the change from one full bundle revision to the next, and applying it on exactly that base.

`delta.json` (format "fundguard-kb-delta" 1):
```
{"format": "fundguard-kb-delta", "format_version": 1,
 "base_revision": 1, "base_sha256": "<sha256 of the base bundle's canonical bytes>",
 "revision": 2, "created_at": "...", "issuer": "...",
 "added": [POINT, ...], "changed": [POINT, ...], "withdrawn": [kp_id, ...],     # points matched by kp_id
 "rules": [...], "parameters": {...}, "source": {...}, "not_compiled": [...],   # each only when it changed
 "order": [kp_id, ...]}                                                         # only when not the natural order
```
Applied, the base's points keep their order (a changed point in its place, withdrawn ones removed) and the added
ones follow, unless `order` gives the new bundle's order. The result is the new bundle, equal to the one the delta
was built from. A delta applies only on its base: the same revision and the same bytes (`base_sha256`), so a
locally built bundle that happens to carry that revision number is not patched into something nobody published.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .documents import DELTA_FORMAT, DELTA_FORMAT_VERSION, check_bundle, document_sha256
from .errors import BundleRejected
from .manifest import DELTA
from .verification import VerifiedBundle

__all__ = ["V1_FIELDS", "apply_delta", "make_delta"]

V1_FIELDS = frozenset(
    {"format", "format_version", "revision", "created_at", "issuer", "source", "parameters", "rules", "points",
     "not_compiled"}
)  # fmt: skip
_REPLACED = ("rules", "parameters", "source", "not_compiled")  # carried whole when they changed (None: removed)
_OPTIONAL = ("source", "not_compiled")


def _merged(
    base: Sequence[Mapping[str, Any]],
    added: Sequence[Mapping[str, Any]],
    changed: Sequence[Mapping[str, Any]],
    withdrawn: Sequence[str],
) -> list[Mapping[str, Any]]:
    """The base points in their order with changed ones replaced and withdrawn ones removed, then the added."""
    replaced = {p["kp_id"]: p for p in changed}
    gone = set(withdrawn)
    return [replaced.get(p["kp_id"], p) for p in base if p["kp_id"] not in gone] + list(added)


def make_delta(base: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The delta document that turns full bundle `base` into full bundle `new` (both already checked)."""
    for doc, label in ((base, "base"), (new, "new")):
        extra = sorted(set(doc) - V1_FIELDS)
        if extra:
            raise BundleRejected(f"{label} bundle has field {extra[0]!r} outside format v1: ship a full bundle")
    if new["revision"] <= base["revision"]:
        raise BundleRejected(f"new revision {new['revision']} is not above the base revision {base['revision']}")
    old = {p["kp_id"]: p for p in base["points"]}
    current = {p["kp_id"] for p in new["points"]}
    added = [p for p in new["points"] if p["kp_id"] not in old]
    changed = [p for p in new["points"] if p["kp_id"] in old and p != old[p["kp_id"]]]
    withdrawn = [p["kp_id"] for p in base["points"] if p["kp_id"] not in current]
    delta: dict[str, Any] = {
        "format": DELTA_FORMAT,
        "format_version": DELTA_FORMAT_VERSION,
        "base_revision": base["revision"],
        "base_sha256": document_sha256(base),
        "revision": new["revision"],
        "created_at": new["created_at"],
        "issuer": new["issuer"],
        "added": added,
        "changed": changed,
        "withdrawn": withdrawn,
    }
    for key in _REPLACED:
        if new.get(key) != base.get(key):
            delta[key] = new.get(key)
    natural = [p["kp_id"] for p in _merged(base["points"], added, changed, withdrawn)]
    if natural != [p["kp_id"] for p in new["points"]]:
        delta["order"] = [p["kp_id"] for p in new["points"]]
    return delta


def _check_base(base: Mapping[str, Any], doc: Mapping[str, Any], base_sha256: str | None) -> None:
    running, wanted = base.get("revision"), doc["base_revision"]
    if running != wanted:
        raise BundleRejected(f"delta base revision {wanted} but the running KB is revision {running}")
    if base_sha256 != doc["base_sha256"] and document_sha256(base) != doc["base_sha256"]:
        raise BundleRejected(
            f"delta was built on another revision-{wanted} bundle than the running one (base sha256 differs)"
        )
    have = {p["kp_id"] for p in base["points"]}
    for point in doc["changed"]:
        if point["kp_id"] not in have:
            raise BundleRejected(f"delta changes {point['kp_id']}, which the revision-{wanted} bundle does not have")
    for kp_id in doc["withdrawn"]:
        if kp_id not in have:
            raise BundleRejected(f"delta withdraws {kp_id}, which the revision-{wanted} bundle does not have")
    for point in doc["added"]:
        if point["kp_id"] in have:
            raise BundleRejected(f"delta adds {point['kp_id']}, which the revision-{wanted} bundle already has")


def apply_delta(
    base_bundle: Mapping[str, Any], delta: VerifiedBundle, base_sha256: str | None = None, *, check_points: bool = True
) -> dict[str, Any]:
    """The full bundle at `delta.revision`; BundleRejected when `base_bundle` is not the delta's base.

    `base_sha256` is what the caller knows of the base's canonical bytes (e.g. the SHA-256 of the file it was read
    from): when it matches the delta's `base_sha256`, the base is not serialised again (~1.5 s for 100k points);
    when it does not, or is None, the canonical bytes are computed and compared. The result shares the unchanged
    point objects with `base_bundle` (treat both as read-only). `check_points=False`: the result's per-point quick
    check is left to the caller (see `verify`).
    """
    if delta.kind != DELTA:
        raise BundleRejected(f"a {delta.kind} bundle is not a delta")
    doc = delta.payload
    _check_base(base_bundle, doc, base_sha256)
    points = _merged(base_bundle["points"], doc["added"], doc["changed"], doc["withdrawn"])
    order = doc.get("order")
    if order is not None:
        by_id = {p["kp_id"]: p for p in points}
        if len(order) != len(by_id) or set(order) != set(by_id):
            raise BundleRejected("delta.json: order does not list exactly the points of the new revision")
        points = [by_id[kp_id] for kp_id in order]
    result = {key: value for key, value in base_bundle.items() if key != "points"}
    result.update(revision=doc["revision"], created_at=doc["created_at"], issuer=doc["issuer"], points=points)
    for key in _REPLACED:
        if key in doc:
            if doc[key] is None and key in _OPTIONAL:
                result.pop(key, None)
            else:
                result[key] = doc[key]
    check_bundle(result, f"bundle at revision {doc['revision']}", points=check_points)
    return result
