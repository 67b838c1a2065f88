"""The quick structural checks of bundle.json and delta.json: the shape the tools rely on, refused naming the
member and the field (the engine's build_index does the deep validation)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from fundguard.knowledge_base.bundle import BundleRejected
from fundguard.knowledge_base.bundle.documents import canonical_bytes, check_bundle, check_delta, parse_object

BUNDLE: dict[str, Any] = {
    "format": "fundguard-kb-bundle",
    "format_version": 1,
    "revision": 1,
    "created_at": "2026-06-29",
    "issuer": "test",
    "parameters": {},
    "rules": [],
    "points": [{"kp_id": "KP-1", "rule_class": "药品限适应症"}],
}
DELTA: dict[str, Any] = {
    "format": "fundguard-kb-delta",
    "format_version": 1,
    "base_revision": 1,
    "base_sha256": "0" * 64,
    "revision": 2,
    "created_at": "2026-06-29",
    "issuer": "test",
    "added": [{"kp_id": "KP-2", "rule_class": "药品限适应症"}],
    "changed": [],
    "withdrawn": ["KP-1"],
}


def test_canonical_bytes_match_the_importers_serialisation() -> None:
    """Sorted keys, compact separators, UTF-8, newline by default."""
    assert b'{"a":"\xe8\x8d\xaf","b":1}\n' == canonical_bytes({"b": 1, "a": "药"})
    assert b"[]" == canonical_bytes([], newline=False)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff{}", "bundle.json: not UTF-8"),
        (b"{", "bundle.json: not JSON"),
        (b"[1]", "bundle.json: not a JSON object"),
        (b"[" * 100_000, "bundle.json: nested too deeply"),
    ],
    ids=["not-utf8", "not-json", "not-object", "nesting-bomb"],
)
def test_a_document_that_is_not_a_json_object_is_refused(raw: bytes, reason: str) -> None:
    """Unreadable input is a BundleRejected naming the member, never another exception."""
    with pytest.raises(BundleRejected) as refused:
        parse_object(raw, "bundle.json")
    assert reason in refused.value.reason


def test_good_documents_pass() -> None:
    """The reference shapes pass their checks."""
    check_bundle(BUNDLE)
    check_delta(DELTA)
    assert BUNDLE == parse_object(canonical_bytes(BUNDLE), "bundle.json")


def _with(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    target = out
    for key in path[:-1]:
        target = target[key]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return out


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        (("format",), "other", "bundle.json: format must be 'fundguard-kb-bundle'"),
        (("format_version",), 2, "format_version 2 is not supported"),
        (("revision",), -1, "revision must be a non-negative integer"),
        (("revision",), "1", "revision must be a non-negative integer"),
        (("issuer",), ..., "issuer must be a string"),
        (("rules",), {}, "rules must be a JSON list"),
        (("parameters",), [], "parameters must be a JSON object"),
        (("points",), {}, "points must be a JSON list"),
        (("points", 0), "KP-1", "points[0] is not a JSON object"),
        (("points", 0, "kp_id"), "", "points[0].kp_id must be a non-empty string"),
        (("points", 0, "rule_class"), None, "points[0].rule_class must be a non-empty string"),
    ],
)
def test_a_malformed_bundle_is_refused_naming_the_field(path: tuple[Any, ...], value: Any, reason: str) -> None:
    """Each malformed bundle names the field."""
    with pytest.raises(BundleRejected) as refused:
        check_bundle(_with(BUNDLE, path, value))
    assert reason in refused.value.reason


def test_a_duplicate_kp_id_is_refused() -> None:
    """Points are matched by kp_id, so ids must be unique."""
    doc = _with(BUNDLE, ("points",), [{"kp_id": "KP-1", "rule_class": "x"}, {"kp_id": "KP-1", "rule_class": "x"}])
    with pytest.raises(BundleRejected, match=r"points\[1\]\.kp_id KP-1 appears twice"):
        check_bundle(doc)


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        (("format",), "fundguard-kb-bundle", "delta.json: format must be 'fundguard-kb-delta'"),
        (("revision",), 1, "revision 1 is not above base_revision 1"),
        (("base_sha256",), ..., "base_sha256 must be a string"),
        (("withdrawn",), [1], "withdrawn must be a list of kp_id strings"),
        (("changed",), [{"kp_id": "KP-2", "rule_class": "x"}], "changed[0].kp_id KP-2 appears twice"),
        (("withdrawn",), ["KP-2"], "a withdrawn kp_id is also added or changed"),
        (("rules",), None, "rules must be a JSON list"),
        (("order",), "KP-2", "order must be a list of kp_id strings"),
    ],
)
def test_a_malformed_delta_is_refused_naming_the_field(path: tuple[Any, ...], value: Any, reason: str) -> None:
    """Each malformed delta names the field."""
    with pytest.raises(BundleRejected) as refused:
        check_delta(_with(DELTA, path, value))
    assert reason in refused.value.reason


def test_a_delta_may_remove_the_optional_source_and_not_compiled() -> None:
    """None for source / not_compiled means removed, and passes."""
    check_delta(DELTA | {"source": None, "not_compiled": None})
