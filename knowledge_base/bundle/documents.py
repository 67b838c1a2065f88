"""The two documents a bundle file can carry, parsed and given a quick structural check.

`bundle.json` is the importer's bundle (format v1, knowledge_base/README.md); `delta.json` is the change from one
revision to the next (see `delta.py`). The checks here are shallow on purpose (the top-level shape, each point's
`kp_id` and `rule_class`, unique ids): the engine's `build_index` validates every field when it compiles the KB.
Failures are `BundleRejected` naming the member and the field.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

import orjson

from .errors import BundleRejected

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_FORMAT_VERSION",
    "DELTA_FORMAT",
    "DELTA_FORMAT_VERSION",
    "canonical_bytes",
    "check_bundle",
    "check_delta",
    "document_sha256",
    "parse_object",
    "rule_classes",
]

BUNDLE_FORMAT = "fundguard-kb-bundle"
BUNDLE_FORMAT_VERSION = 1
DELTA_FORMAT = "fundguard-kb-delta"
DELTA_FORMAT_VERSION = 1


def canonical_bytes(doc: Any, *, newline: bool = True) -> bytes:
    """Canonical JSON: sorted keys, compact, UTF-8 (as the importer's `bundle_bytes`, newline included)."""
    text = json.dumps(doc, ensure_ascii=False, sort_keys=True, indent=None, separators=(",", ":"))
    return (text + "\n" if newline else text).encode("utf-8")


def document_sha256(doc: Mapping[str, Any]) -> str:
    """SHA-256 hex of a document's canonical bytes (identifies the exact bundle a delta was built on)."""
    return hashlib.sha256(canonical_bytes(doc)).hexdigest()


def parse_object(raw: bytes, name: str) -> dict[str, Any]:
    """`raw` as a JSON object; BundleRejected naming `name` when it is not UTF-8 JSON or not an object."""
    try:
        # orjson parses (and UTF-8-validates) the bytes as they are: decoding to str first costs a 100k-point bundle
        # ~85 ms, and orjson re-encoding that str to UTF-8 another ~200 ms
        doc = orjson.loads(raw)
    except json.JSONDecodeError as exc:  # orjson's errors are json.JSONDecodeError too
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            raise BundleRejected(f"{name}: not UTF-8 ({bad.reason} at byte {bad.start})") from None
        if "depth limit" in exc.msg:
            raise BundleRejected(f"{name}: nested too deeply") from None
        raise BundleRejected(f"{name}: not JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:  # json's; orjson reports its depth limit as a JSONDecodeError
        raise BundleRejected(f"{name}: nested too deeply") from None
    if not isinstance(doc, dict):
        raise BundleRejected(f"{name}: not a JSON object")
    return doc


def _int(doc: Mapping[str, Any], key: str, name: str) -> int:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BundleRejected(f"{name}: {key} must be a non-negative integer")
    return value


_KIND_NAMES: dict[type, str] = {str: "a string", list: "a JSON list", dict: "a JSON object"}


def _typed(doc: Mapping[str, Any], key: str, kind: type, name: str) -> None:
    if not isinstance(doc.get(key), kind):
        raise BundleRejected(f"{name}: {key} must be {_KIND_NAMES[kind]}")


def _format(doc: Mapping[str, Any], expected: str, version: int, name: str) -> None:
    if doc.get("format") != expected:
        raise BundleRejected(f"{name}: format must be {expected!r}, not {doc.get('format')!r}")
    if _int(doc, "format_version", name) != version:
        raise BundleRejected(f"{name}: format_version {doc['format_version']} is not supported (only {version})")


def _points(points: Any, name: str, key: str, seen: set[str] | None = None) -> None:
    if not isinstance(points, list):
        raise BundleRejected(f"{name}: {key} must be a JSON list")
    ids = set() if seen is None else seen
    for i, point in enumerate(points):  # 100k points: the happy path only type-checks (messages built on failure)
        kp_id = point.get("kp_id") if type(point) is dict else None
        rule_class = point.get("rule_class") if type(point) is dict else None
        if type(kp_id) is not str or not kp_id or type(rule_class) is not str or not rule_class or kp_id in ids:
            _point_problem(point, ids, f"{name}: {key}[{i}]")
        ids.add(kp_id)


def _point_problem(point: Any, ids: set[str], where: str) -> NoReturn:
    if not isinstance(point, dict):
        raise BundleRejected(f"{where} is not a JSON object")
    kp_id, rule_class = point.get("kp_id"), point.get("rule_class")
    if not isinstance(kp_id, str) or not kp_id:
        raise BundleRejected(f"{where}.kp_id must be a non-empty string")
    if not isinstance(rule_class, str) or not rule_class:
        raise BundleRejected(f"{where}.rule_class must be a non-empty string")
    raise BundleRejected(f"{where}.kp_id {kp_id} appears twice")


def _ids(values: Any, name: str, key: str) -> None:
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise BundleRejected(f"{name}: {key} must be a list of kp_id strings")


def check_bundle(doc: Mapping[str, Any], name: str = "bundle.json", *, points: bool = True) -> None:
    """Quick check of a full bundle: format v1, revision, header strings, rules, parameters and points (each
    point's kp_id and rule_class, unique ids; `points=False` leaves that pass to a caller that validates every
    point anyway, the agent's compile, and checks only that `points` is a list)."""
    _format(doc, BUNDLE_FORMAT, BUNDLE_FORMAT_VERSION, name)
    _int(doc, "revision", name)
    for key in ("created_at", "issuer"):
        _typed(doc, key, str, name)
    _typed(doc, "rules", list, name)
    _typed(doc, "parameters", dict, name)
    if points:
        _points(doc.get("points"), name, "points")
    else:
        _typed(doc, "points", list, name)


def check_delta(doc: Mapping[str, Any], name: str = "delta.json") -> None:
    """Quick check of a delta: format v1, base and new revision, the point lists, what it replaces."""
    _format(doc, DELTA_FORMAT, DELTA_FORMAT_VERSION, name)
    if _int(doc, "revision", name) <= _int(doc, "base_revision", name):
        raise BundleRejected(f"{name}: revision {doc['revision']} is not above base_revision {doc['base_revision']}")
    for key in ("created_at", "issuer", "base_sha256"):
        _typed(doc, key, str, name)
    seen: set[str] = set()
    _points(doc.get("added"), name, "added", seen)
    _points(doc.get("changed"), name, "changed", seen)
    _ids(doc.get("withdrawn"), name, "withdrawn")
    if seen.intersection(doc["withdrawn"]):
        raise BundleRejected(f"{name}: a withdrawn kp_id is also added or changed")
    if doc.get("order") is not None:
        _ids(doc["order"], name, "order")
    for key, kind in (("rules", list), ("parameters", dict), ("source", dict), ("not_compiled", list)):
        if key in doc and not (doc[key] is None and key in ("source", "not_compiled")):  # None: removed
            _typed(doc, key, kind, name)


def rule_classes(points: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Points per rule class, sorted by class name."""
    counts: dict[str, int] = {}
    for point in points:
        counts[point["rule_class"]] = counts.get(point["rule_class"], 0) + 1
    return dict(sorted(counts.items()))
