"""The traceability-code (`trace`) rules: each case of `trace_cases.json` is checked with a ledger snapshot, and the
FG-TRACE-* alerts must be exactly the expected (rule_id, violating rx_ids) set, in Chinese and in English; every
alert names its codes (or, for a missing code, the drug) and puts the violating lines' amount at risk.

A case: `lines` (`rx_id`, `drug` national code, `cnt`, `codes` scanned, optional `trdn` 拆零, `current`, `date`),
`codes` (the ledger's facts per scanned code: `product` — default the drug of the first line scanning it, null
when not catalogued —, `pack` units per box, `in_stock` (default true), `expiry`, `sold` [mdtrt_id, rx_id] of an
open sale, `used` 拆零 units), `nocode` (无码库 units left per drug), `policy` overrides, `visit`, and `expected`
`[rule_id, rx_ids, workflow_impact?]` (+ optional `related` rx_ids per rule). As at the edge, each scan goes through
`parse_code` first: a malformed one reaches the engine as a problem; a well-formed one the case does not list is
absent from the snapshot (unknown to the ledger).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fundguard.agent.engine import CompiledKB, check
from fundguard.agent.engine.model import Alert, CheckRequest, Encounter, OrderLine, Patient, WorkflowImpact
from fundguard.agent.engine.trace_model import CodeFacts, TraceFacts, TracePolicy
from fundguard.agent.engine.trace_rules import RULE_CLASS, RULES
from fundguard.agent.trace.codes import CodeProblem, parse_code

CASES: list[dict[str, Any]] = json.loads((Path(__file__).parent / "trace_cases.json").read_text(encoding="utf-8"))
SERVICE_DATE = date(2026, 3, 2)
PRICE = Decimal("12.50")
MED_TYPE = {"outpatient": "11", "inpatient": "21"}
CJK = re.compile(r"[\u4e00-\u9fff]")


def _line(raw: dict[str, Any]) -> OrderLine:
    cnt = Decimal(raw["cnt"])
    return OrderLine(
        raw["rx_id"], raw["drug"], cnt, PRICE, cnt * PRICE, hilist_name=f"药品{raw['rx_id']}",
        begn_date=date.fromisoformat(raw["date"]) if "date" in raw else None, current=raw.get("current", True),
        drug_trac_codg=tuple(raw["codes"]), trdn_flag=raw.get("trdn", False),
    )  # fmt: skip


def _facts(case: dict[str, Any]) -> TraceFacts:
    first_drug: dict[str, str] = {}
    for raw in case["lines"]:
        for code in raw["codes"]:
            first_drug.setdefault(code.strip(), raw["drug"])
    codes: dict[str, CodeFacts] = {}
    for code, drug in first_drug.items():
        parsed = parse_code(code)
        entry = case.get("codes", {}).get(code)
        if isinstance(parsed, CodeProblem):
            codes[code] = CodeFacts(code, problem=parsed.reason, problem_detail=parsed.detail)
        elif entry is not None:
            sold = entry.get("sold", ["", ""])
            expiry = date.fromisoformat(entry["expiry"]) if "expiry" in entry else parsed.expiry
            codes[code] = CodeFacts(
                code, kind=parsed.kind.value, product_key=parsed.product_key,
                product_hilist_code=entry.get("product", drug), pack_units=entry.get("pack"),
                in_stock=entry.get("in_stock", True), expiry=expiry, sold_mdtrt_id=sold[0], sold_rx_id=sold[1],
                units_used=Decimal(entry.get("used", "0")), key=parsed.key,
            )  # fmt: skip
    policy = dict(case.get("policy", {}))
    if "exempt_codes" in policy:
        policy["exempt_codes"] = frozenset(policy["exempt_codes"])
    if "exempt_prefixes" in policy:
        policy["exempt_prefixes"] = tuple(policy["exempt_prefixes"])
    nocode = {drug: Decimal(left) for drug, left in case.get("nocode", {}).items()}
    return TraceFacts(codes, nocode, TracePolicy(**policy))


def _request(case: dict[str, Any], locale: str) -> CheckRequest:
    lines = tuple(_line(raw) for raw in case["lines"])
    encounter = Encounter("E1", med_type=MED_TYPE[case.get("visit", "outpatient")], orders=lines)
    return CheckRequest("1", Patient("P1", "2", date(1980, 5, 1)), encounter, locale=locale)


def _trace_alerts(alerts: tuple[Alert, ...]) -> list[Alert]:
    return [a for a in alerts if a.rule_id.startswith("FG-TRACE-")]


def _roles(alert: Alert, role: str) -> tuple[str, ...]:
    return tuple(sorted(line.rx_id for line in alert.lines if line.vola_item_type == role))


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_trace_case(default_kb: CompiledKB, case: dict[str, Any], locale: str) -> None:
    """The case's FG-TRACE alerts, with the expected workflow impact and involved lines; each text names the codes
    (MISSING: the drug), in the request's language; the amount at risk is the violating lines' amount."""
    request = _request(case, locale)
    alerts = _trace_alerts(check(request, default_kb, SERVICE_DATE, "T", trace=_facts(case)).alerts)
    expected = sorted((e[0], tuple(sorted(e[1]))) for e in case["expected"])
    assert expected == sorted((a.rule_id, _roles(a, "1")) for a in alerts), case["name"]
    by_key = {(a.rule_id, _roles(a, "1")): a for a in alerts}
    for rule_id, rx_ids, *impact in case["expected"]:
        alert = by_key[(rule_id, tuple(sorted(rx_ids)))]
        if impact:
            assert impact[0] == alert.workflow_impact.value, rule_id
        if rule_id in case.get("related", {}):
            assert tuple(case["related"][rule_id]) == _roles(alert, "2")
    lines = {line.rx_id: line for line in request.encounter.orders}
    for alert in alerts:
        (line,) = (lines[rx] for rx in _roles(alert, "1"))
        names = [line.hilist_code] if alert.rule_id == "FG-TRACE-MISSING" else line.drug_trac_codg
        shown = [n.strip().replace("\x1d", "<GS>") for n in names if n.strip()]
        assert any(s in alert.vola_cont for s in shown), alert.vola_cont
        opener = "[" if locale == "en" else "【"
        assert (True, False, line.sumamt) == (alert.vola_cont.startswith(opener), "{" in alert.vola_cont,
                                              alert.vola_amt)  # fmt: skip


def test_the_cases_cover_every_rule_and_both_impacts_of_count() -> None:
    """Each of the seven rules is expected somewhere, COUNT both as reason-required (boxes) and block (拆零)."""
    rules = {e[0] for c in CASES for e in c["expected"]}
    count_impacts = {e[2] for c in CASES for e in c["expected"] if e[0] == "FG-TRACE-COUNT" and len(e) > 2}
    assert ({r.rule.rule_id for r in RULES}, {"reason-required", "block"}) == (rules, count_impacts)


def test_rule_table() -> None:
    """Seven rules of one class, each its own id; blocking ones are clear violations, UNKNOWN is information and
    COUNT (whole boxes) asks for a reason."""
    table = {p.rule.rule_id: (p.rule.sev_deg, p.rule.workflow_impact) for p in RULES}
    block = ("1", WorkflowImpact.BLOCK)
    expected = {
        "FG-TRACE-FORMAT": block, "FG-TRACE-PRODUCT": block, "FG-TRACE-RESOLD": block, "FG-TRACE-EXPIRED": block,
        "FG-TRACE-MISSING": block, "FG-TRACE-UNKNOWN": ("3", WorkflowImpact.INFO),
        "FG-TRACE-COUNT": ("2", WorkflowImpact.REASON_REQUIRED),
    }  # fmt: skip
    assert expected == table
    assert ({RULE_CLASS}, 7) == ({p.rule.rule_class for p in RULES}, len({p.kp_id for p in RULES}))


def _mixed_request() -> CheckRequest:
    """A male patient with an IUD (a sex-rule alert from the KB) and two lines whose codes the trace rules flag."""
    lines = (
        OrderLine("6374", "XG02BAZ061Z007010279543", Decimal(1), Decimal(300), Decimal(300), hilist_name="曼月乐"),
        OrderLine("2", "XA11DAW036A001010104127", Decimal(2), PRICE, 2 * PRICE, drug_trac_codg=("123",)),
        OrderLine("3", "XA11DAW036A001010104127", Decimal(1), PRICE, PRICE),
    )
    return CheckRequest("1", Patient("P1", "1", date(1980, 5, 1)), Encounter("E1", med_type="11", orders=lines))


def test_without_trace_facts_nothing_changes(default_kb: CompiledKB) -> None:
    """trace=None (or no argument) gives exactly the alerts of the same request without any codes."""
    request = _mixed_request()
    bare = replace(request, encounter=replace(request.encounter, orders=tuple(
        replace(o, drug_trac_codg=()) for o in request.encounter.orders)))  # fmt: skip
    plain = check(request, default_kb, SERVICE_DATE, "J")
    assert plain == check(request, default_kb, SERVICE_DATE, "J", trace=None)
    assert check(bare, default_kb, SERVICE_DATE, "J") == plain
    assert [] == _trace_alerts(plain.alerts)
    assert plain.alerts


def test_trace_facts_add_alerts_and_leave_the_others_alone(default_kb: CompiledKB) -> None:
    """With a snapshot the trace alerts join the KB's (the IUD, a 西药 without a code, is flagged too); the KB
    alerts keep their content."""
    request = _mixed_request()
    plain = check(request, default_kb, SERVICE_DATE, "J").alerts
    traced = check(request, default_kb, SERVICE_DATE, "J", trace=TraceFacts()).alerts
    trace = sorted((a.rule_id, a.rx_ids) for a in _trace_alerts(traced))
    expected = [("FG-TRACE-COUNT", ("2",)), ("FG-TRACE-MISSING", ("3",)), ("FG-TRACE-MISSING", ("6374",)),
                ("FG-TRACE-UNKNOWN", ("2",))]  # fmt: skip
    assert expected == trace
    others = [(a.rule_id, a.rx_ids, a.vola_cont, a.vola_amt) for a in traced if not a.rule_id.startswith("FG-TRACE")]
    assert [(a.rule_id, a.rx_ids, a.vola_cont, a.vola_amt) for a in plain] == others
    assert len({a.jr_id for a in traced}) == len(traced)


def test_english_texts_keep_to_english_apart_from_named_terms(default_kb: CompiledKB) -> None:
    """An English alert carries no Chinese beyond the drug name, the rule name (as every rule's English text does)
    and the bracketed national terms (无码不付 …)."""
    names = "|".join(p.rule.rule_name for p in RULES)
    for case in CASES:
        alerts = check(_request(case, "en"), default_kb, SERVICE_DATE, "T", trace=_facts(case)).alerts
        for alert in _trace_alerts(alerts):
            text = re.sub(rf"药品\d+|{names}|\((无码不付|无码库|入库)\)|, 回流药\)", "", alert.vola_cont)
            assert not CJK.search(text), alert.vola_cont


POOL = ("83857930000879766660", "83857930000879766677", "80217610000012345678", "123", "")
DRUGS = ("XA11DAW036A001010104127", "XA11GAW043A001010201815", "001102000000100", "")
FACTS = st.builds(
    CodeFacts,
    st.just(""),
    problem=st.sampled_from(("", "", "length", "novel_reason")),
    product_hilist_code=st.one_of(st.none(), st.sampled_from(DRUGS)),
    pack_units=st.one_of(st.none(), st.integers(0, 20)),
    in_stock=st.booleans(),
    expiry=st.one_of(st.none(), st.just(date(2026, 1, 1)), st.just(date(2027, 1, 1))),
    sold_mdtrt_id=st.sampled_from(("", "E1", "E0")),
    sold_rx_id=st.sampled_from(("", "1", "2")),
    units_used=st.decimals(min_value=-2, max_value=30, places=1, allow_nan=False),
    key=st.sampled_from(("", "K1")),
)
LINES = st.lists(
    st.builds(
        OrderLine,
        st.sampled_from(("1", "2", "3")),
        st.sampled_from(DRUGS),
        st.decimals(min_value=-3, max_value=12, places=1, allow_nan=False),
        st.just(PRICE),
        st.decimals(min_value=-10, max_value=100, places=2, allow_nan=False),
        current=st.booleans(),
        drug_trac_codg=st.lists(st.sampled_from(POOL), max_size=4).map(tuple),
        trdn_flag=st.booleans(),
    ),
    max_size=5,
)


@settings(max_examples=200, deadline=None)
@given(
    lines=LINES,
    facts=st.dictionaries(st.sampled_from(POOL[:4]), FACTS, max_size=4),
    nocode=st.dictionaries(st.sampled_from(DRUGS), st.decimals(min_value=0, max_value=10, places=0), max_size=2),
    inpatient=st.booleans(),
)
def test_any_snapshot_gives_defined_alerts(
    default_kb: CompiledKB, lines: list[OrderLine], facts: dict[str, CodeFacts], nocode: dict[str, Decimal],
    inpatient: bool,
) -> None:  # fmt: skip
    """Whatever the lines and the ledger's facts (inconsistent ones included), the check returns; every trace alert
    has exactly one violating line, a current one with cnt > 0, and a non-negative amount."""
    snapshot = TraceFacts({code: replace(f, code=code) for code, f in facts.items()}, nocode)
    encounter = Encounter("E1", med_type="21" if inpatient else "11", orders=tuple(lines))
    request = CheckRequest("1", Patient("P1", "2", date(1980, 5, 1)), encounter)
    for alert in _trace_alerts(check(request, default_kb, SERVICE_DATE, "T", trace=snapshot).alerts):
        violating = [ln for ln in alert.lines if ln.vola_item_type == "1"]
        assert 1 == len(violating)
        assert any(o.rx_id == violating[0].rx_id and o.current and o.cnt > 0 for o in lines)
        assert alert.vola_amt >= 0
