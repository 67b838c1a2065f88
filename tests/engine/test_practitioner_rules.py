"""The practitioner (`医保支付资格`) rules: each case of `practitioner_cases.json` is checked with a statuses
snapshot, and the FG-PRACT-* alerts must be exactly the expected (rule_id, violating rx_ids) set, in Chinese and in
English; every alert names the doctor code; a blocked line's whole amount is at risk, a code alert puts none.

A case: `lines` (`rx_id`, `dr` its drord_dr_codg, optional `cnt` (default 1), `date`, `current`), `dr_codg` of the
encounter, `visit` (outpatient, inpatient, emergency), `statuses` {code: [status, until or null]},
`check_code_format`, and `expected` `[rule_id, rx_ids]`.
"""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fundguard.agent.engine import CompiledKB, check
from fundguard.agent.engine.model import Alert, CheckRequest, Encounter, OrderLine, Patient, WorkflowImpact
from fundguard.agent.engine.practitioner_model import PractitionerFacts, Qualification, is_national_code
from fundguard.agent.engine.practitioner_rules import CODE_CLASS, RULES, SUSPENDED_CLASS

CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "practitioner_cases.json").read_text(encoding="utf-8")
)
SERVICE_DATE = date(2026, 3, 2)
PRICE = Decimal("12.50")
DRUG = "XA11DAW036A001010104127"
MED_TYPE = {"outpatient": "11", "inpatient": "21", "emergency": "13"}
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def _line(raw: dict[str, Any]) -> OrderLine:
    cnt = Decimal(raw.get("cnt", "1"))
    day = date.fromisoformat(raw["date"]) if "date" in raw else None
    return OrderLine(raw["rx_id"], DRUG, cnt, PRICE, cnt * PRICE, hilist_name=f"药品{raw['rx_id']}",
                     begn_date=day, drord_dr_codg=raw.get("dr", ""), current=raw.get("current", True))  # fmt: skip


def _facts(case: dict[str, Any]) -> PractitionerFacts:
    statuses = {
        code: Qualification(status, date.fromisoformat(until) if until else None)
        for code, (status, until) in case.get("statuses", {}).items()
    }
    return PractitionerFacts(statuses, check_code_format=case.get("check_code_format", False))


def _request(case: dict[str, Any], locale: str = "zh-CN") -> CheckRequest:
    lines = tuple(_line(raw) for raw in case["lines"])
    encounter = Encounter("E1", med_type=MED_TYPE[case.get("visit", "outpatient")], dr_codg=case.get("dr_codg", ""),
                          orders=lines)  # fmt: skip
    return CheckRequest("1", Patient("P1", "2", date(1980, 5, 1)), encounter, locale=locale)


def _pract(alerts: tuple[Alert, ...]) -> list[Alert]:
    return [a for a in alerts if a.rule_id.startswith("FG-PRACT-")]


def _violating(alert: Alert) -> tuple[str, ...]:
    return tuple(sorted(line.rx_id for line in alert.lines if line.vola_item_type == "1"))


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_practitioner_case(default_kb: CompiledKB, case: dict[str, Any], locale: str) -> None:
    """The case's FG-PRACT alerts; each names the doctor code in the request's language; SUSPENDED blocks with the
    line amount at risk, CODE informs with nothing at risk."""
    request = _request(case, locale)
    alerts = _pract(check(request, default_kb, SERVICE_DATE, "J", practitioners=_facts(case)).alerts)
    expected = sorted((rule_id, tuple(sorted(rx_ids))) for rule_id, rx_ids in case["expected"])
    assert expected == sorted((a.rule_id, _violating(a)) for a in alerts), case["name"]
    lines = {line.rx_id: line for line in request.encounter.orders}
    for alert in alerts:
        first = lines[_violating(alert)[0]]
        doctor = first.drord_dr_codg.strip() or request.encounter.dr_codg
        assert doctor in alert.vola_cont, alert.vola_cont
        assert "{" not in alert.vola_cont
        if alert.rule_id == "FG-PRACT-SUSPENDED":
            assert (WorkflowImpact.BLOCK, "1", first.sumamt) == (alert.workflow_impact, alert.sev_deg, alert.vola_amt)
            assert alert.vola_cont.startswith("[" if locale == "en" else "【")
        else:
            assert (WorkflowImpact.INFO, "3", Decimal(0)) == (alert.workflow_impact, alert.sev_deg, alert.vola_amt)


def test_the_cases_cover_both_rules() -> None:
    """Each rule is expected somewhere, and some case expects nothing of each kind."""
    rules = {e[0] for c in CASES for e in c["expected"]}
    assert {r.rule.rule_id for r in RULES} == rules
    assert any(not c["expected"] and c.get("statuses") for c in CASES)


def test_rule_table() -> None:
    """Two rules, own ids and classes: a suspended or terminated doctor blocks (clear violation), a non-national
    code is information."""
    table = {p.rule.rule_id: (p.rule.rule_class, p.rule.sev_deg, p.rule.workflow_impact) for p in RULES}
    expected = {
        "FG-PRACT-SUSPENDED": (SUSPENDED_CLASS, "1", WorkflowImpact.BLOCK),
        "FG-PRACT-CODE": (CODE_CLASS, "3", WorkflowImpact.INFO),
    }
    assert expected == table


def test_without_facts_or_with_the_default_facts_nothing_changes(default_kb: CompiledKB) -> None:
    """practitioners=None and the default PractitionerFacts (code format off) give the alerts of a plain check,
    even for a HIS-local doctor code."""
    request = _request({"lines": [{"rx_id": "1", "dr": "ys01"}], "dr_codg": "ys01"})
    plain = check(request, default_kb, SERVICE_DATE, "J")
    assert plain == check(request, default_kb, SERVICE_DATE, "J", practitioners=None)
    assert plain == check(request, default_kb, SERVICE_DATE, "J", practitioners=PractitionerFacts())


def test_texts_say_what_happened_and_what_to_do(default_kb: CompiledKB) -> None:
    """Suspended names the restoration date, terminated says so; an English text keeps to English apart from the
    drug and rule names; a CODE text names at most three items."""
    facts = PractitionerFacts({"D110101000001": Qualification("suspended", date(2026, 4, 1)),
                               "N440300000042": Qualification("terminated")}, check_code_format=True)  # fmt: skip
    lines = [{"rx_id": "1", "dr": "D110101000001"}, {"rx_id": "2", "dr": "N440300000042"}]
    lines += [{"rx_id": str(n), "dr": "ys01"} for n in range(3, 8)]
    zh = {a.rx_ids[0]: a.vola_cont for a in _pract(check(_request({"lines": lines}), default_kb, SERVICE_DATE, "J",
                                                                   practitioners=facts).alerts)}  # fmt: skip
    assert ("2026-04-01起恢复" in zh["1"], "已终止" in zh["2"]) == (True, True)
    assert ("药品5" in zh["3"], "药品6" in zh["3"], "…" in zh["3"]) == (True, False, True)
    en = _pract(check(_request({"lines": lines}, "en"), default_kb, SERVICE_DATE, "J", practitioners=facts).alerts)
    names = "|".join(p.rule.rule_name for p in RULES)
    for alert in en:
        assert not CJK.search(re.sub(rf"药品\d+|{names}", "", alert.vola_cont)), alert.vola_cont
    assert "restored from 2026-04-01" in next(a.vola_cont for a in en if a.rx_ids == ("1",))


@pytest.mark.parametrize(
    ("code", "national"),
    [("D110101000001", True), ("N000000000000", True), ("D11010100000", False), ("X110101000001", False),
     ("D11010100000a", False), ("", False), ("D１１０１０１００００01", False), ("d110101000001", False)],
)  # fmt: skip
def test_national_code_format(code: str, national: bool) -> None:
    """D or N, then exactly 12 ASCII digits."""
    assert national == is_national_code(code)


CODES = ("D110101000001", "N440300000042", "ys01", "", " D110101000001")
QUALIFICATIONS = st.builds(
    Qualification,
    st.sampled_from(("normal", "warned", "suspended", "terminated", "unknown")),
    st.one_of(st.none(), st.dates(date(2025, 1, 1), date(2027, 1, 1))),
)
LINES = st.lists(
    st.builds(
        OrderLine,
        st.sampled_from(("1", "2", "3")),
        st.just(DRUG),
        st.decimals(min_value=-3, max_value=12, places=1, allow_nan=False),
        st.just(PRICE),
        st.decimals(min_value=-10, max_value=100, places=2, allow_nan=False),
        begn_date=st.one_of(st.none(), st.dates(date(2025, 1, 1), date(2027, 1, 1))),
        drord_dr_codg=st.sampled_from(CODES),
        current=st.booleans(),
    ),
    max_size=5,
)


@settings(max_examples=200, deadline=None)
@given(
    lines=LINES,
    statuses=st.dictionaries(st.sampled_from(CODES), QUALIFICATIONS, max_size=3),
    fmt=st.booleans(),
    visit=st.tuples(st.sampled_from(tuple(MED_TYPE.values())), st.sampled_from(CODES)),
)
def test_any_snapshot_gives_defined_alerts(
    default_kb: CompiledKB, lines: list[OrderLine], statuses: dict[str, Qualification], fmt: bool,
    visit: tuple[str, str],
) -> None:  # fmt: skip
    """Whatever the lines, statuses, visit type and encounter doctor, the check returns; every SUSPENDED alert has
    one violating line (current, cnt > 0), never in an emergency; CODE alerts only with the format check on."""
    med_type, dr_codg = visit
    encounter = Encounter("E1", med_type=med_type, dr_codg=dr_codg, orders=tuple(lines))
    request = CheckRequest("1", Patient("P1", "2", date(1980, 5, 1)), encounter)
    facts = PractitionerFacts(statuses, fmt)
    alerts = _pract(check(request, default_kb, SERVICE_DATE, "J", practitioners=facts).alerts)
    for alert in alerts:
        violating = [ln for ln in alert.lines if ln.vola_item_type == "1"]
        assert all(any(o.rx_id == v.rx_id and o.current and o.cnt > 0 for o in lines) for v in violating)
        assert alert.vola_amt >= 0
        if alert.rule_id == "FG-PRACT-SUSPENDED":
            assert (1, False) == (len(violating), med_type == MED_TYPE["emergency"])
        else:
            assert fmt
