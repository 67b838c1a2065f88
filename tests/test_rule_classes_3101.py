"""Every rule-family case, re-sent as a national 3101 request through `fundguard check`, gives the same verdict.

The JSON case files (tests/engine/rules/cases/*.json) hold violating and complying encounters built from real
national codes for all 21 rule classes. Here each case becomes one `patient_dtos[]` entry of a national 3101
envelope — one envelope per date of service, carried as `inf_time`; nodes renamed to fsi_encounter_dtos /
fsi_diagnose_dtos / fsi_order_dtos / fsi_operation_dtos; earlier encounters as extra fsi_encounter_dtos — the
CLI checks it on the embedded KB in a subprocess, and the violating rx_ids per rule class of each encounter must
equal the case's expectation exactly.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from .engine.rules.casefile import CASES_DIR, DEFAULT_SERVICE_DATE

NODES = {"diagnoses": "fsi_diagnose_dtos", "orders": "fsi_order_dtos", "operations": "fsi_operation_dtos"}
Verdict = set[tuple[str, tuple[str, ...]]]


def _national_encounter(enc: dict[str, Any], mdtrt_id: str) -> dict[str, Any]:
    out = {k: v for k, v in enc.items() if k not in NODES}
    out["mdtrt_id"] = mdtrt_id
    for proto, national in NODES.items():
        out[national] = [dict(item) for item in enc.get(proto, [])]
    return out


def _patient(n: int, case: dict[str, Any]) -> dict[str, Any]:
    req = case["input"]
    current = f"C{n:04d}"
    encounters = [_national_encounter(req["encounter"], current)]
    encounters += [_national_encounter(h, f"C{n:04d}-H{k}") for k, h in enumerate(req.get("history", []))]
    return {**req["patient"], "patn_id": f"P{n:04d}", "curr_mdtrt_id": current, "fsi_encounter_dtos": encounters}


def _cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for path in sorted(CASES_DIR.glob("*.json")):
        cases += json.loads(path.read_text(encoding="utf-8"))
    return cases


@pytest.fixture(scope="module")
def national_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], dict[str, Verdict]]:
    """All cases in one 3101 envelope, checked once by the CLI; verdicts grouped by encounter."""
    cases = _cases()
    # one envelope per date of service (the envelope's inf_time is the national request's date of service)
    by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for n, c in enumerate(cases):
        by_day[c["input"].get("service_date") or DEFAULT_SERVICE_DATE.isoformat()].append(_patient(n, c))
    envelopes = [
        {"infno": "3101", "inf_time": f"{day} 10:00:00", "input": {"data": {"patient_dtos": patients}}}
        for day, patients in sorted(by_day.items())
    ]
    folder = Path(tmp_path_factory.mktemp("n3101"))
    verdicts: dict[str, Verdict] = defaultdict(set)
    for k, envelope in enumerate(envelopes):
        request = folder / f"cases-3101-{k}.json"
        request.write_text(json.dumps(envelope, ensure_ascii=False), encoding="utf-8")
        proc = subprocess.run(
            [sys.executable, "-m", "fundguard.agent.cli", "check", str(request)],
            capture_output=True, text=True, timeout=120, check=False,
        )
        assert 0 == proc.returncode, proc.stderr
        for result in json.loads(proc.stdout)["output"]["result"]:
            details = result["judge_result_detail_dtos"]
            violating = tuple(sorted(d["rx_id"] for d in details if d["vola_item_type"] == "1"))
            verdicts[result["mdtrt_id"]].add((result["rule_class"], violating))
    return cases, verdicts


def test_all_21_rule_classes_are_exercised(national_run: tuple[list[dict[str, Any]], dict[str, Verdict]]) -> None:
    """The national run flags at least one line of each of the 21 published rule classes."""
    _, verdicts = national_run
    flagged = {rule_class for found in verdicts.values() for rule_class, _ in found}
    assert 21 == len(flagged), sorted(flagged)


def test_every_case_gives_its_expected_verdict_via_3101(
    national_run: tuple[list[dict[str, Any]], dict[str, Verdict]],
) -> None:
    """Per encounter, the CLI's violating rx_ids per rule class equal the case file's (empty for compliant ones)."""
    cases, verdicts = national_run
    mismatches = []
    for n, case in enumerate(cases):
        expected = {(e["rule_class"], tuple(sorted(e["rx_ids"]))) for e in case["expected"]}
        actual = verdicts.get(f"C{n:04d}", set())
        if expected != actual:
            mismatches.append(f"{case['name']}: expected {sorted(expected)}, got {sorted(actual)}")
    assert [] == mismatches
