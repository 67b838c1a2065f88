"""A small stand-in bundle (one sex-family point: the female-only IUD XG02BAZ061Z007010279543) for tests that need a
KB file they can vary (revision, parameters, broken copies); the transport and app tests serve the embedded
default bundle itself.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["IUD_CODE", "SMALL_BUNDLE", "write_small_bundle"]

IUD_CODE = "XG02BAZ061Z007010279543"

SMALL_BUNDLE = {
    "format": "fundguard-kb-bundle",
    "format_version": 1,
    "revision": 7,
    "created_at": "2026-01-01",
    "issuer": "fundguard tests",
    "parameters": {
        "child_below_years": 18,
        "working_age_min_years": 16,
        "working_age_below_years": 60,
        "hosp_lv_rank": {"01": 3, "02": 3, "03": 3, "04": 3, "05": 2, "06": 2, "07": 2, "08": 1, "09": 1,
                         "10": 1, "11": 0},
        "visit_class_by_med_type": {"11": "outpatient", "13": "emergency", "21": "inpatient"},
        "visit_class_by_med_mdtrt_type": {"1": "outpatient", "3": "inpatient"},
        "work_injury_insutypes": ["410"],
        "maternity_insutypes": ["510"],
        "maternity_med_types": ["51", "52", "53"],
        "internet_med_types": [],
        "surgery_discount_ratio": "0.5",
        "herbal_list_types": ["102"],
    },
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
