"""A small stand-in bundle (one sex-family point: the female-only IUD XG02BAZ061Z007010279543) for tests that need a
KB file they can vary (revision, parameters, broken copies); the transport and app tests serve the embedded
default bundle itself.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from fundguard.knowledge_base.importer.build import DEFAULT_PARAMETERS

__all__ = ["IUD_CODE", "SMALL_BUNDLE", "write_small_bundle"]

IUD_CODE = "XG02BAZ061Z007010279543"

SMALL_BUNDLE = {
    "format": "fundguard-kb-bundle",
    "format_version": 1,
    "revision": 7,
    "created_at": "2026-01-01",
    "issuer": "fundguard tests",
    "parameters": copy.deepcopy(DEFAULT_PARAMETERS),
    "rules": [
        {"rule_class": "药品区分性别使用", "rule_id": "GZ10000301004000", "rule_name": "药品区分性别使用",
         "tier": "医疗类", "family": "sex", "sev_deg": "1", "workflow_impact": "block"},
    ],
    "points": [
        {"kp_id": "KP-e93841e8e9a68cc2", "rule_class": "药品区分性别使用", "family": "sex",
         "item_name": "左炔诺孕酮宫内节育系统", "codes": [IUD_CODE], "constraint": "限女性使用",
         "valid_from": None, "valid_to": None, "params": {"sex": "2"}},
    ],
    "not_compiled": [],
}


def write_small_bundle(directory: Path) -> Path:
    """Write the small bundle into `directory` and return its path."""
    path = directory / "bundle.json"
    path.write_text(json.dumps(SMALL_BUNDLE, ensure_ascii=False), encoding="utf-8")
    return path
