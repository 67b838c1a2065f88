"""Hypothesis strategies for malformed JSON requests: mutations of a valid request, truncations and noise.

Shared by the adapters' fuzz tests: every JSON transport (national gateway, drop folder, CDS Hooks) must answer
each of these in its own error form, never crash.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

__all__ = ["JSON_VALUES", "malformed_bodies"]

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30) | st.floats(allow_nan=False) | st.text(max_size=20)
    | st.sampled_from(["", " ", "0", "1", "2", "-1", "NaN", "1e999", "2024-13-45", "abc", "20250614", "\u0000"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.extend(_paths(value, (*prefix, i)))
    return out


def _mutate(doc: Any, path: tuple[Any, ...], how: str, value: Any) -> Any:
    if not path:
        return value
    doc = copy.deepcopy(doc)
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    key = path[-1]
    if how == "delete":
        del parent[key]
    else:
        parent[key] = value
    return doc


@st.composite
def _mutated(draw: st.DrawFn, base: Callable[[], Any]) -> bytes:
    doc = base()
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        how = draw(st.sampled_from(["replace", "delete"])) if path else "replace"
        doc = _mutate(doc, path, how, draw(JSON_VALUES))
    return json.dumps(doc, ensure_ascii=draw(st.booleans())).encode("utf-8")


@st.composite
def _truncated(draw: st.DrawFn, base: Callable[[], Any]) -> bytes:
    raw = json.dumps(base(), ensure_ascii=False).encode("utf-8")
    cut = draw(st.integers(0, len(raw) - 1))
    return raw[:cut] + draw(st.binary(max_size=8))


def malformed_bodies(base: Callable[[], Any]) -> st.SearchStrategy[bytes]:
    """Bodies derived from the valid request `base()`: mutated values and deleted keys (re-serialized), truncated
    text with noise, and raw random bytes."""
    return st.one_of(_mutated(base), _truncated(base), st.binary(max_size=200))
