"""The reviewed override table (`knowledge_base/overrides.json`): parameters the published text cannot give.

Shape:
```
{"format": "fundguard-kb-overrides", "format_version": 1,
 "parameters": {"child_below_years": {"value": 18, "why": "..."}},
 "points": {"KP-…": {"rule_class": "…", "item_name": "…", "params": {...}, "why": "..."}}}
```
- a `parameters` entry replaces one global KB parameter (the importer derives points from the result, so
  a new child age flows into every 儿童 band);
- a `points` entry sets params of one point: merged over what the text gave (so `{"min_rank": 3}` alone
  corrects one key), or the whole params when the text gave none. `rule_class` and `item_name` must match
  the source, so an entry can never silently land on another point after a republication.
Every entry carries a non-empty `why`: the table is reviewed data, and the review report lists each use.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ._source import SourcePoint

__all__ = [
    "OVERRIDES_FORMAT",
    "OverrideError",
    "Overrides",
    "PointOverride",
    "default_overrides_path",
    "load_overrides",
    "parse_overrides",
]

OVERRIDES_FORMAT = "fundguard-kb-overrides"


class OverrideError(ValueError):
    """The override table is malformed or refers to a point that is not in the source."""


@dataclass(frozen=True, slots=True)
class PointOverride:
    """Reviewed params of one point and why."""

    kp_id: str
    rule_class: str
    item_name: str
    params: Mapping[str, Any]
    why: str


@dataclass(frozen=True, slots=True)
class Overrides:
    """Global parameter replacements (value, why) and per-point params."""

    parameters: Mapping[str, tuple[Any, str]]
    points: Mapping[str, PointOverride]

    def check_against(self, points: tuple[SourcePoint, ...]) -> None:
        """Raise `OverrideError` unless every entry names an existing point with the same class and name."""
        by_id = {p.kp_id: p for p in points}
        for entry in self.points.values():
            point = by_id.get(entry.kp_id)
            if point is None:
                raise OverrideError(f"overrides.points.{entry.kp_id}: no such kp_id in the source")
            if (entry.rule_class, entry.item_name) != (point.rule_class, point.item_name):
                raise OverrideError(
                    f"overrides.points.{entry.kp_id}: names {entry.rule_class}/{entry.item_name}, "
                    f"the source has {point.rule_class}/{point.item_name}"
                )


def default_overrides_path() -> Path:
    """The override table shipped with the package (knowledge_base/overrides.json)."""
    return Path(str(resources.files("fundguard.knowledge_base").joinpath("overrides.json")))


def _why(entry: Mapping[str, Any], where: str) -> str:
    why = entry.get("why")
    if not isinstance(why, str) or not why.strip():
        raise OverrideError(f"{where}.why: every override needs a non-empty reason")
    return why.strip()


def _str(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        raise OverrideError(f"{where}.{key}: must be a non-empty string")
    return value


def parse_overrides(data: Any) -> Overrides:
    """Validate a parsed override table."""
    if not isinstance(data, dict) or data.get("format") != OVERRIDES_FORMAT:
        raise OverrideError(f"format: expected {OVERRIDES_FORMAT!r}")
    if data.get("format_version") != 1:
        raise OverrideError("format_version: this importer reads 1")
    raw_params = data.get("parameters") or {}
    raw_points = data.get("points") or {}
    if not isinstance(raw_params, dict) or not isinstance(raw_points, dict):
        raise OverrideError("parameters and points must be objects")
    parameters: dict[str, tuple[Any, str]] = {}
    for name, entry in raw_params.items():
        where = f"parameters.{name}"
        if not isinstance(entry, dict) or "value" not in entry:
            raise OverrideError(f"{where}: must be {{'value': ..., 'why': ...}}")
        parameters[name] = (entry["value"], _why(entry, where))
    points: dict[str, PointOverride] = {}
    for kp_id, entry in raw_points.items():
        where = f"points.{kp_id}"
        if not isinstance(entry, dict) or not isinstance(entry.get("params"), dict):
            raise OverrideError(f"{where}.params: must be an object")
        points[kp_id] = PointOverride(
            kp_id=kp_id,
            rule_class=_str(entry, "rule_class", where),
            item_name=_str(entry, "item_name", where),
            params=entry["params"],
            why=_why(entry, where),
        )
    return Overrides(parameters, points)


def load_overrides(path: Path | None = None) -> Overrides:
    """Read and validate the override table (the shipped one by default)."""
    path = path or default_overrides_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise OverrideError(f"{path}: {exc}") from exc
    return parse_overrides(data)
