"""Build small source points and source folders for importer tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fundguard.knowledge_base.importer._source import SourcePoint

KB = {"child_below_years": 18, "working_age_min_years": 16, "working_age_below_years": 60}

CATALOGUE = [
    {"seq": 67, "tier1": "医疗类", "tier2": "药品合理使用类", "name": "药品区分性别使用",
     "has_kp_detail": True, "gz_code_1_0": None, "new_in_2025": False},  # gz left out: see test_source
    {"seq": 13, "tier1": "政策类", "tier2": "药品政策限定类", "name": "药品限就医方式",
     "has_kp_detail": True, "gz_code_1_0": None, "new_in_2025": True},
]  # fmt: skip


def point(rule_class: str, constraint: str = "", item_name: str = "", **kw: Any) -> SourcePoint:
    """A source point with the given text (other fields get harmless defaults)."""
    fields: dict[str, Any] = {
        "kp_id": "KP-test",
        "rule_class": rule_class,
        "gz_code": None,
        "level1": None,
        "item_name": item_name,
        "codes": ("XG04CBA000A001010100001",),
        "constraint": constraint,
        "detect_logic": "",
        "batch": "batch_01",
        "published_at": None,
        "supersedes": None,
        "source_file": "test.xlsx",
        "source_row": 1,
    }
    fields.update(kw)
    return SourcePoint(**fields)


def record(kp_id: str, rule_class: str, item_name: str, constraint: str, **kw: Any) -> dict[str, Any]:
    """One knowledge_points.jsonl record."""
    base: dict[str, Any] = {
        "kp_id": kp_id, "rule_class": rule_class, "gz_code": None, "level1": None, "level2": None,
        "item_name": item_name, "codes": ["XG04CBA000A001010100001"], "constraint": constraint,
        "detect_logic": "与限定性别不符", "batch": "batch_01", "published_at": None, "supersedes": None,
        "source_file": "t.xlsx", "source_row": 1,
    }  # fmt: skip
    base.update(kw)
    return base


def write_source(
    folder: Path, records: list[dict[str, Any]], batches: list[dict[str, Any]] | None = None
) -> Path:
    """Write a three-file source folder holding `records`; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    (folder / "knowledge_points.jsonl").write_text(lines, encoding="utf-8")
    batches = batches or [
        {"batch_tag": "batch_01", "published_at": None},
        {"batch_tag": "updates_2026-01", "published_at": "2026-01-28"},
    ]
    (folder / "batches.json").write_text(json.dumps(batches), encoding="utf-8")
    (folder / "rule_catalog_2025.json").write_text(
        json.dumps(CATALOGUE, ensure_ascii=False), encoding="utf-8"
    )
    return folder


def write_overrides(
    path: Path, points: dict[str, Any] | None = None, parameters: dict[str, Any] | None = None
) -> Path:
    """Write an override table; returns its path."""
    table = {"format": "fundguard-kb-overrides", "format_version": 1,
             "parameters": parameters or {}, "points": points or {}}  # fmt: skip
    path.write_text(json.dumps(table, ensure_ascii=False), encoding="utf-8")
    return path
