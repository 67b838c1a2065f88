"""Compare two full bundles point by point: what was added, changed, withdrawn and superseded, per rule class.

Points are matched by `kp_id`. A point is *changed* when any of its fields differs (the fields are listed);
*superseded* when a point of the newer bundle names it in `supersedes` and no point of the older one already did.
A superseded point is usually also *changed* (its `valid_to` is set to the date of the point replacing it), and its
successor *added*. Rules (by rule class) and parameters (by name) that differ are listed too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["CHANGE_KINDS", "BundleDiff", "ClassDiff", "diff"]

CHANGE_KINDS = ("added", "changed", "withdrawn", "superseded")


@dataclass(frozen=True, slots=True)
class ClassDiff:
    """The kp_ids of one rule class, by kind of change, sorted."""

    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    withdrawn: tuple[str, ...] = ()
    superseded: tuple[str, ...] = ()

    def ids(self, kind: str) -> tuple[str, ...]:
        """The kp_ids of one kind of change ("added", "changed", "withdrawn" or "superseded")."""
        if kind not in CHANGE_KINDS:
            raise ValueError(f"kind must be one of {', '.join(CHANGE_KINDS)}, not {kind!r}")
        ids: tuple[str, ...] = getattr(self, kind)
        return ids

    def counts(self) -> dict[str, int]:
        """How many points of each kind of change."""
        return {kind: len(self.ids(kind)) for kind in CHANGE_KINDS}


@dataclass(frozen=True, slots=True)
class BundleDiff:
    """The changes from bundle `from_revision` to `to_revision` (see the module doc)."""

    from_revision: int
    to_revision: int
    classes: Mapping[str, ClassDiff]
    changed_fields: Mapping[str, tuple[str, ...]]
    rules: tuple[str, ...]
    parameters: tuple[str, ...]

    def ids(self, kind: str) -> tuple[str, ...]:
        """Every kp_id of one kind of change, all classes, sorted."""
        return tuple(sorted(kp for entry in self.classes.values() for kp in entry.ids(kind)))

    def totals(self) -> dict[str, int]:
        """How many points of each kind of change, all classes."""
        return {kind: sum(len(entry.ids(kind)) for entry in self.classes.values()) for kind in CHANGE_KINDS}

    def to_json(self, *, with_ids: bool = False) -> dict[str, Any]:
        """Counts per rule class and in total, and with `with_ids` the kp_ids (changed ones with their fields)."""
        classes: dict[str, Any] = {}
        for name, entry in self.classes.items():
            classes[name] = entry.counts()
            if with_ids:
                classes[name]["ids"] = {kind: list(entry.ids(kind)) for kind in CHANGE_KINDS}
        doc: dict[str, Any] = {
            "from_revision": self.from_revision,
            "to_revision": self.to_revision,
            "totals": self.totals(),
            "classes": classes,
            "rules_changed": list(self.rules),
            "parameters_changed": list(self.parameters),
        }
        if with_ids:
            doc["changed_fields"] = {kp: list(fields) for kp, fields in sorted(self.changed_fields.items())}
        return doc


def _by_id(points: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {p["kp_id"]: p for p in points}


def _differing(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[str, ...]:
    """The keys present in one mapping only, or with different values."""
    return tuple(sorted(k for k in set(old) | set(new) if k not in old or k not in new or old[k] != new[k]))


def diff(a: Mapping[str, Any], b: Mapping[str, Any]) -> BundleDiff:
    """The changes from full bundle `a` to full bundle `b` (both passed the quick structural check)."""
    old, new = _by_id(a["points"]), _by_id(b["points"])
    found: dict[str, dict[str, list[str]]] = {}

    def note(rule_class: str, kind: str, kp_id: str) -> None:
        found.setdefault(rule_class, {k: [] for k in CHANGE_KINDS})[kind].append(kp_id)

    changed_fields: dict[str, tuple[str, ...]] = {}
    for kp_id, point in new.items():
        if kp_id not in old:
            note(point["rule_class"], "added", kp_id)
        elif point != old[kp_id]:
            note(point["rule_class"], "changed", kp_id)
            changed_fields[kp_id] = _differing(old[kp_id], point)
    for kp_id, point in old.items():
        if kp_id not in new:
            note(point["rule_class"], "withdrawn", kp_id)
    before = {p["supersedes"] for p in a["points"] if isinstance(p.get("supersedes"), str)}
    not_compiled = _by_id(p for p in a.get("not_compiled") or [] if isinstance(p, Mapping) and "kp_id" in p)
    for point in b["points"]:
        target = point.get("supersedes")
        if isinstance(target, str) and target not in before:
            replaced = old.get(target) or not_compiled.get(target)
            if replaced is not None:
                before.add(target)
                note(str(replaced.get("rule_class", "")), "superseded", target)
    rules_a = {str(r.get("rule_class")): r for r in a.get("rules", []) if isinstance(r, Mapping)}
    rules_b = {str(r.get("rule_class")): r for r in b.get("rules", []) if isinstance(r, Mapping)}
    return BundleDiff(
        from_revision=a["revision"],
        to_revision=b["revision"],
        classes={
            name: ClassDiff(**{kind: tuple(sorted(ids)) for kind, ids in kinds.items()})
            for name, kinds in sorted(found.items())
        },
        changed_fields=changed_fields,
        rules=_differing(rules_a, rules_b),
        parameters=_differing(a.get("parameters", {}), b.get("parameters", {})),
    )
