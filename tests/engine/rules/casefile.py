"""Run a rule family's JSON case file against the embedded default KB.

A case file (`cases/<family>.json`) is a list of
`{"name", "input": <CheckRequest in proto-JSON shape, national field names>, "expected": [EXPECTED, ...]}`
with EXPECTED = `{"rule_class", "rx_ids": [violating rx_id, ...], "kp_id"?, "workflow_impact"?, "sev_deg"?,
"vola_amt"?}`. The alerts of the check must match the expected list exactly (no more, no fewer): an empty list
means the encounter complies. `input.service_date` fixes the date of service (default 2026-11-01).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from fundguard.agent.engine import CompiledKB, check
from fundguard.agent.intake import parse_request

CASES_DIR = Path(__file__).parent / "cases"
DEFAULT_SERVICE_DATE = date(2026, 11, 1)


def load_cases(family: str) -> list[dict[str, Any]]:
    """The cases of one family, in file order."""
    cases: list[dict[str, Any]] = json.loads((CASES_DIR / f"{family}.json").read_text(encoding="utf-8"))
    return cases


def case_id(case: dict[str, Any]) -> str:
    """pytest id of a case."""
    return str(case["name"])


def run_case(case: dict[str, Any], kb: CompiledKB) -> None:
    """Check the case's input and compare the alerts with `expected` (exact set)."""
    parsed = parse_request(case["input"])
    result = check(parsed.request, kb, parsed.service_date or DEFAULT_SERVICE_DATE, "T")
    actual = []
    for a in result.alerts:
        violating = tuple(sorted(line.rx_id for line in a.lines if line.vola_item_type == "1"))
        actual.append(
            {
                "rule_class": a.rule_class,
                "rx_ids": violating,
                "kp_id": a.kp_id,
                "workflow_impact": a.workflow_impact.value,
                "sev_deg": a.sev_deg,
                "vola_amt": str(a.vola_amt),
            }
        )
    expected = case["expected"]
    keys = ("rule_class", "rx_ids")
    want = sorted((e["rule_class"], tuple(sorted(e["rx_ids"]))) for e in expected)
    got = sorted((a["rule_class"], a["rx_ids"]) for a in actual)
    assert want == got, f"{case['name']}: expected {want}, got {actual}"
    for e in expected:
        match = [a for a in actual if all(a[k] == (tuple(sorted(e[k])) if k == "rx_ids" else e[k]) for k in keys)]
        for extra in ("kp_id", "workflow_impact", "sev_deg", "vola_amt"):
            if extra in e:
                assert any(a[extra] == e[extra] for a in match), f"{case['name']}: {extra} {e[extra]!r} not in {match}"
