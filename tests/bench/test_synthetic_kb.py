"""The synthetic KB generator: deterministic, exact size, real proportions and code shapes, compiles, and the real
encounters still get exactly their alerts on it; dated points apply only in their window."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from bench.encounters import build_encounters
from bench.synthetic_kb import main, synthetic_bundle
from fundguard.adapters.his import nhsa_json
from fundguard.agent.engine import CompiledKB, build_index, check
from fundguard.agent.engine.model import CheckResult
from fundguard.agent.intake import parse_request
from tests.samples import male_iud_3101

N = 5_000
SEX_DRUG = "药品区分性别使用"
SHAPES = {
    "X": re.compile(r"X[A-Z]\d\d[A-Z]{3}\d{3}[A-Z]\d{12}"),  # 23 chars: class (ATC), generic, form, spec ... maker
    "Z": re.compile(r"Z[A-Z]\d\d[A-Z]{3}\d{13}"),  # 20 chars
    "0": re.compile(r"00\d{13}"),  # service item
    "T": re.compile(r"T\d{9}"),  # herbal slice
    "C": re.compile(r"C\d{26}"),  # consumable
}


@pytest.fixture(scope="module")
def bundle(default_bundle: dict[str, Any]) -> dict[str, Any]:
    """A 5,000-point synthetic bundle (seed 0) scaled from the default KB."""
    return synthetic_bundle(N, base=default_bundle)


@pytest.fixture(scope="module")
def kb(bundle: dict[str, Any]) -> CompiledKB:
    """The 5,000-point bundle compiled."""
    return build_index(bundle)


def _synthetic(bundle: dict[str, Any], default_bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return bundle["points"][len(default_bundle["points"]) :]


def _request(code: str, day: date) -> dict[str, Any]:
    """A man's inpatient encounter with one current line of `code` on `day`."""
    return {
        "trig_scen": "4",
        "service_date": day.isoformat(),
        "patient": {"patn_id": "P-0001", "gend": "1", "brdy": "1951-08-27"},
        "encounter": {
            "mdtrt_id": "E-0001", "med_type": "21", "insutype": "390", "medins_lv": "01",
            "orders": [{"rx_id": "1", "hilist_code": code, "hilist_name": "合成药品", "cnt": "1", "pric": "10"}],
        },
    }  # fmt: skip


def _check(request: dict[str, Any], kb: CompiledKB) -> CheckResult:
    parsed = parse_request(request)
    assert parsed.service_date is not None
    return check(parsed.request, kb, parsed.service_date, "T")


def test_same_seed_gives_the_same_bundle(default_bundle: dict[str, Any]) -> None:
    """Two runs with one seed are equal; another seed gives other synthetic points."""
    first = synthetic_bundle(4_500, 7, base=default_bundle)
    assert first == synthetic_bundle(4_500, 7, base=default_bundle)
    assert _synthetic(first, default_bundle) != _synthetic(
        synthetic_bundle(4_500, 8, base=default_bundle), default_bundle
    )


@pytest.mark.parametrize("extra", [0, 1, 1_102])
def test_bundle_has_exactly_the_requested_points(default_bundle: dict[str, Any], extra: int) -> None:
    """n_points points, each kp_id once, the real points first and unchanged."""
    real = default_bundle["points"]
    points = synthetic_bundle(len(real) + extra, base=default_bundle)["points"]
    assert len(real) + extra == len(points)
    assert len(points) == len({p["kp_id"] for p in points})
    assert real == points[: len(real)]


def test_below_the_real_point_count_is_refused(default_bundle: dict[str, Any]) -> None:
    """A size below the real KB's is a ValueError naming n_points."""
    with pytest.raises(ValueError, match="n_points"):
        synthetic_bundle(100, base=default_bundle)


def test_every_rule_class_in_the_real_proportions(bundle: dict[str, Any], default_bundle: dict[str, Any]) -> None:
    """Each rule class holds its real share of the points (within one), so every family is present."""
    real = Counter(p["rule_class"] for p in default_bundle["points"])
    scaled = Counter(p["rule_class"] for p in bundle["points"])
    assert set(real) == set(scaled)
    for rule_class, n in real.items():
        assert abs(scaled[rule_class] - n * N / sum(real.values())) < 1, rule_class
    assert {r["family"] for r in default_bundle["rules"]} == {p["family"] for p in _synthetic(bundle, default_bundle)}


def test_synthetic_codes_are_new_and_shaped_like_national_codes(
    bundle: dict[str, Any], default_bundle: dict[str, Any]
) -> None:
    """Every code of a synthetic point is a real-shaped code no real point lists; consumables appear in pairs."""
    real_codes = {c for p in default_bundle["points"] for c in p["codes"]}
    synthetic = _synthetic(bundle, default_bundle)
    codes = {c for p in synthetic for c in p["codes"]}
    assert not codes & real_codes
    bad = [c for c in codes if not SHAPES[c[0]].fullmatch(c)]
    assert [] == bad
    kinds = Counter(c[0] for c in codes)
    assert set(SHAPES) == set(kinds)
    assert all(p["family"] == "pair" for p in synthetic if any(c[0] == "C" for c in p["codes"]))
    assert all(re.fullmatch(r"KP-[0-9a-f]{16}", p["kp_id"]) for p in synthetic)


def test_pair_params_name_the_pair_codes(bundle: dict[str, Any]) -> None:
    """A pair point's items A and B are its two codes."""
    pairs = [p for p in bundle["points"] if p["family"] == "pair"]
    assert [(p["codes"][0], p["codes"][1]) for p in pairs] == [(p["params"]["a"], p["params"]["b"]) for p in pairs]


def test_superseding_points_close_the_ones_they_replace(bundle: dict[str, Any], default_bundle: dict[str, Any]) -> None:
    """Synthetic revisions exist; each superseded point ends the day its successor (same rule class) starts."""
    by_id = {p["kp_id"]: p for p in bundle["points"]}
    successors = [p for p in _synthetic(bundle, default_bundle) if p["supersedes"]]
    assert successors
    for new in successors:
        old = by_id[new["supersedes"]]
        assert (old["rule_class"], new["valid_from"]) == (new["rule_class"], old["valid_to"])
        assert new["valid_from"] is not None


def test_build_index_accepts_the_5k_bundle(kb: CompiledKB, bundle: dict[str, Any]) -> None:
    """The 5,000-point bundle compiles, every point and code indexed."""
    assert N == len(kb.points)
    assert len({c for p in bundle["points"] for c in p["codes"]}) == kb.code_count


def test_real_3101_request_gets_the_same_alerts(kb: CompiledKB, default_kb: CompiledKB) -> None:
    """The IS request (male patient, IUD) gets exactly its alerts of the default KB on the synthetic KB."""
    (parsed,) = nhsa_json.decode(male_iud_3101())
    day = parsed.service_date or date(2025, 6, 14)
    expected = check(parsed.request, default_kb, day, "T").alerts
    assert expected
    assert expected == check(parsed.request, kb, day, "T").alerts


def test_bench_encounter_gets_the_same_alerts(kb: CompiledKB, default_kb: CompiledKB) -> None:
    """The bench's 50-line encounter on real codes (every family) alerts alike on both KBs."""
    _, fifty = build_encounters(default_kb)
    expected = _check(fifty.request, default_kb).alerts
    assert len(expected) > 10
    assert expected == _check(fifty.request, kb).alerts


def test_a_revised_point_applies_only_in_its_window(bundle: dict[str, Any], default_bundle: dict[str, Any]) -> None:
    """A synthetic female-only drug revised on day D: before D the old point alerts, from D on the new one."""
    by_id = {p["kp_id"]: p for p in bundle["points"]}
    new = next(
        p
        for p in _synthetic(bundle, default_bundle)
        if p["rule_class"] == SEX_DRUG and p["supersedes"] and p["params"]["sex"] == "2"
        and set(p["codes"]) & set(by_id[p["supersedes"]]["codes"])
    )  # fmt: skip
    old = by_id[new["supersedes"]]
    code = sorted(set(new["codes"]) & set(old["codes"]))[0]
    revised = date.fromisoformat(new["valid_from"])
    kb = build_index(bundle)

    def kp_ids(day: date) -> list[str]:
        return [a.kp_id for a in _check(_request(code, day), kb).alerts if a.rule_class == SEX_DRUG]

    assert [old["kp_id"]] == kp_ids(revised - timedelta(days=1))
    assert [new["kp_id"]] == kp_ids(revised)
    assert [new["kp_id"]] == kp_ids(revised + timedelta(days=200))


def test_cli_writes_the_bundle(tmp_path: Path, default_bundle: dict[str, Any]) -> None:
    """`python -m bench.synthetic_kb N OUT --seed S` writes what synthetic_bundle(N, S) returns."""
    out = tmp_path / "kb" / "synthetic.json"
    assert 0 == main(["4000", str(out), "--seed", "3"])
    assert synthetic_bundle(4000, 3, base=default_bundle) == json.loads(out.read_text(encoding="utf-8"))


def test_cli_refuses_a_size_below_the_real_kb(tmp_path: Path) -> None:
    """A too small N exits with a usage error (status 2) and writes nothing."""
    out = tmp_path / "small.json"
    with pytest.raises(SystemExit) as exc:
        main(["10", str(out)])
    assert 2 == exc.value.code
    assert not out.exists()
