"""Traceability-code parsing: domestic 20-digit codes and GS1 element strings (raw, human-readable, behind a scanner
prefix) are taken apart; every malformed scan gets its reason key and an English detail; no text makes it raise.

The cases live in `codes_cases.json`: `{name, raw, expected: {kind, key, product_key, serial, expiry, batch}}` for a
well-formed code, `{name, raw, problem: {reason, detail_contains}}` for a malformed one.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fundguard.agent.trace.codes import MAX_CODE_LENGTH, CodeKind, CodeProblem, TraceCode, parse_code

CASES: list[dict[str, Any]] = json.loads((Path(__file__).parent / "codes_cases.json").read_text(encoding="utf-8"))
REASONS = {"empty", "chars", "length", "prefix", "gs1", "gs1_gtin", "gs1_serial"}


@pytest.mark.parametrize("case", [c for c in CASES if "expected" in c], ids=lambda c: c["name"])
def test_well_formed_code_is_taken_apart(case: dict[str, Any]) -> None:
    """Kind, ledger key, product key, serial, expiry and batch are as the case says; raw is the stripped scan."""
    want = case["expected"]
    expiry = date.fromisoformat(want["expiry"]) if want["expiry"] else None
    expected = TraceCode(
        case["raw"].strip(), CodeKind(want["kind"]), want["key"], want["product_key"], want["serial"], expiry,
        want["batch"],
    )  # fmt: skip
    assert expected == parse_code(case["raw"])


@pytest.mark.parametrize("case", [c for c in CASES if "problem" in c], ids=lambda c: c["name"])
def test_malformed_code_gets_its_reason(case: dict[str, Any]) -> None:
    """The reason key is the case's; the detail names the specifics."""
    got = parse_code(case["raw"])
    assert isinstance(got, CodeProblem), got
    want = case["problem"]
    assert (case["raw"].strip(), want["reason"], True) == (got.raw, got.reason, want["detail_contains"] in got.detail)


def test_the_case_file_covers_every_reason_and_form() -> None:
    """At least 20 cases; each reason key, both kinds, the human-readable form, each GS1 scanner prefix and an
    expiry written with day 00 appear."""
    reasons = {c["problem"]["reason"] for c in CASES if "problem" in c}
    kinds = {c["expected"]["kind"] for c in CASES if "expected" in c}
    gs1_raw = [c["raw"] for c in CASES if c.get("expected", {}).get("kind") == "gs1"]
    forms = {p for p in ("(01)", "]d2", "]Q3", "]C1", "\x1d") if any(p in raw for raw in gs1_raw)}
    day00 = any("(17)" in raw and raw.split("(17)")[1][4:6] == "00" for raw in gs1_raw)
    assert (True, REASONS, {"domestic", "gs1"}, 5, True) == (len(CASES) >= 20, reasons, kinds, len(forms), day00)


def test_two_forms_of_one_gs1_code_share_the_ledger_key() -> None:
    """The human-readable and the raw scan of one box are one code to the ledger."""
    hri = parse_code("(01)06901234567892(21)7PK39X2QH5(17)270531")
    raw = parse_code("]d20106901234567892217PK39X2QH5\x1d17270531")
    assert isinstance(hri, TraceCode) and isinstance(raw, TraceCode)
    assert (hri.key, hri.expiry) == (raw.key, raw.expiry)
    assert hri.raw != raw.raw


@settings(max_examples=10_000, deadline=None, derandomize=True, database=None)  # fuzz: 10,000 cases in CI
@given(
    st.one_of(
        st.text(max_size=60),
        st.text(alphabet="0123456789()]dQC\x1d ", max_size=60),
        st.builds(lambda tail: "(01)06901234567892(21)" + tail, st.text(max_size=40)),
        st.builds(lambda tail: "0106901234567892" + tail, st.text(alphabet="0123456789\x1dAB", max_size=40)),
    )
)
def test_any_text_gives_a_code_or_a_known_problem(text: str) -> None:
    """parse_code never raises; a problem has a known reason and a detail; a domestic key is 20 ASCII digits
    starting with 8; a GS1 key is "01" + its 14-digit GTIN + "21" + its serial."""
    got = parse_code(text)
    assert text.strip() == got.raw
    if isinstance(got, CodeProblem):
        assert (True, True) == (got.reason in REASONS, bool(got.detail))
    elif got.kind is CodeKind.DOMESTIC:
        assert (20, True, "8") == (len(got.key), got.key.isascii() and got.key.isdigit(), got.key[0])
        assert got.key == got.product_key + got.serial
    else:
        assert (14, f"01{got.product_key}21{got.serial}") == (len(got.product_key), got.key)


def test_an_overlong_scan_is_refused_before_parsing() -> None:
    """Anything longer than the C100 field is a length problem, whatever it holds."""
    got = parse_code("(01)06901234567892(21)" + "A" * MAX_CODE_LENGTH)
    assert isinstance(got, CodeProblem)
    assert "length" == got.reason
