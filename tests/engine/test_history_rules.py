"""The history and institution rules: each case of `history_cases.json` is a dated encounter sequence checked with a
history snapshot (`HistoryFacts`, as the agent's history cache hands it), and the FG-HIST-* / FG-INST-* alerts must
be exactly the expected (rule_id, rx_ids) set, in Chinese and in English.

A case: `service_date`; `current` (`id`, `med_type`, `adm`, `dx` main diagnosis, `out_setl_flag`, `lines`);
`history` (encounters in the snapshot, as from the store), `request_history` (carried by the request), `visits`
(dates of earlier encounters without lines); `institution` (`agreement_start`); `expected` `[rule_id, rx_ids]`.
A line: `rx_id`, `code` (default a western drug), `cnt` (default 1), `begn`, `stop`.
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

from fundguard.agent.engine import CompiledKB, check
from fundguard.agent.engine.history_model import (
    HistoryFacts,
    HistoryPolicy,
    InstitutionState,
    add_months,
    compile_history,
    main_diagnosis,
)
from fundguard.agent.engine.history_rules import RULES, prepare
from fundguard.agent.engine.model import Alert, CheckRequest, Diagnosis, Encounter, OrderLine, Patient, WorkflowImpact

CASES: list[dict[str, Any]] = json.loads((Path(__file__).parent / "history_cases.json").read_text(encoding="utf-8"))
DRUG = "XA11DAW036A001010104127"
TIANMA = "XN07XXT050B002010100239"  # 天麻素注射液: 支付不超过14天 (course scope)
PRICE = Decimal("10")
CJK = re.compile(r"[\u4e00-\u9fff]")


def _day(raw: str | None) -> date | None:
    return date.fromisoformat(raw) if raw else None


def _line(raw: dict[str, Any], current: bool) -> OrderLine:
    cnt = Decimal(raw.get("cnt", "1"))
    return OrderLine(raw["rx_id"], raw.get("code", DRUG), cnt, PRICE, cnt * PRICE, hilist_name=f"药品{raw['rx_id']}",
                     begn_date=_day(raw.get("begn")), stop_date=_day(raw.get("stop")), current=current)  # fmt: skip


def _encounter(raw: dict[str, Any], current: bool = False) -> Encounter:
    dx = raw.get("dx")
    return Encounter(
        raw["id"],
        med_type=raw.get("med_type", ""),
        out_setl_flag=raw.get("out_setl_flag", ""),
        adm_date=_day(raw.get("adm")),
        dscg_date=_day(raw.get("dscg")),
        diagnoses=(Diagnosis(dx, maindise_flag=True, inout_dise_type="1"),) if dx else (),
        orders=tuple(_line(line, current) for line in raw.get("lines", ())),
    )


def _case(case: dict[str, Any], locale: str = "zh-CN") -> tuple[CheckRequest, HistoryFacts]:
    stored = [_encounter(e) for e in case.get("history", ())]
    stored += [Encounter(f"V{n}", med_type="11", adm_date=_day(d)) for n, d in enumerate(case.get("visits", ()))]
    carried = tuple(_encounter(e) for e in case.get("request_history", ()))
    request = CheckRequest("1", Patient("P1", "1", date(1950, 1, 1)), _encounter(case["current"], True), carried,
                           locale=locale)  # fmt: skip
    start = _day(case.get("institution", {}).get("agreement_start"))
    facts = HistoryFacts(compile_history(stored) if stored else None, HistoryPolicy(), InstitutionState(start))
    return request, facts


def _mine(alerts: tuple[Alert, ...]) -> list[Alert]:
    return [a for a in alerts if a.rule_id.startswith(("FG-HIST-", "FG-INST-"))]


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_history_case(default_kb: CompiledKB, case: dict[str, Any], locale: str) -> None:
    """The case's history alerts, each with its rule's severity and workflow impact and a filled text in the
    request's language (Chinese texts are Chinese; no template field left)."""
    request, facts = _case(case, locale)
    alerts = _mine(check(request, default_kb, date.fromisoformat(case["service_date"]), "J", history=facts).alerts)
    expected = sorted((rule_id, tuple(sorted(rx_ids))) for rule_id, rx_ids in case["expected"])
    assert expected == sorted((a.rule_id, tuple(sorted(a.rx_ids))) for a in alerts), case["name"]
    table = {p.rule.rule_id: p.rule for p in RULES}
    for alert in alerts:
        rule = table[alert.rule_id]
        assert (rule.sev_deg, rule.workflow_impact) == (alert.sev_deg, alert.workflow_impact)
        assert "{" not in alert.vola_cont
        if locale == "en":  # English apart from the rule name and the drug name
            assert "患者" not in alert.vola_cont and alert.vola_cont[:1].isascii(), alert.vola_cont
        else:
            assert CJK.match(alert.vola_cont) or alert.vola_cont.startswith("【"), alert.vola_cont


def test_the_cases_cover_every_rule() -> None:
    """Each history and institution rule is expected in some case, and some case of each kind expects nothing."""
    assert {p.rule.rule_id for p in RULES} == {e[0] for c in CASES for e in c["expected"]}
    assert sum(1 for c in CASES if not c["expected"]) >= 5


def test_texts_name_dates_gap_and_diagnoses(default_kb: CompiledKB) -> None:
    """The 分解住院 text names the admission, the previous discharge, the gap, the category and both diagnoses; the
    政策辅导期 text names the period and says cross-province settlement is not allowed."""
    request, facts = _case(CASES[0])
    (split,) = _mine(check(request, default_kb, date(2026, 3, 20), "J", history=facts).alerts)
    for part in ("2026-03-20", "2026-03-10", "10天", "I63类", "I63.800", "I63.900", "分解住院"):
        assert part in split.vola_cont, split.vola_cont
    guidance_case = next(c for c in CASES if c["expected"] and c["expected"][0][0] == "FG-INST-GUIDANCE")
    request, facts = _case(guidance_case)
    (blocked,) = _mine(check(request, default_kb, date(2026, 3, 20), "J", history=facts).alerts)
    for part in ("政策辅导期", "2026-01-01", "2026-07-01", "跨省异地就医", "不得开展异地就医直接结算"):
        assert part in blocked.vola_cont, blocked.vola_cont
    assert (WorkflowImpact.BLOCK, Decimal("20.00")) == (blocked.workflow_impact, blocked.vola_amt)


def test_store_history_reaches_the_course_family(default_kb: CompiledKB) -> None:
    """A 14-day paid drug (天麻素注射液) given 10 days in a stay the snapshot holds (not the request) and 6 days now:
    the course family flags the current line from the 15th day (2 days over)."""
    first = Encounter("S1", med_type="21", adm_date=date(2026, 10, 1), dscg_date=date(2026, 10, 10),
                      orders=(OrderLine("T0", TIANMA, Decimal(10), PRICE, Decimal(100), begn_date=date(2026, 10, 1),
                                        stop_date=date(2026, 10, 10), current=False),))  # fmt: skip
    now = Encounter("S2", med_type="21", adm_date=date(2026, 10, 20),
                    orders=(OrderLine("T1", TIANMA, Decimal(6), PRICE, Decimal(60), begn_date=date(2026, 10, 20),
                                      stop_date=date(2026, 10, 25)),))  # fmt: skip
    request = CheckRequest("5", Patient("P1", "1", date(1950, 1, 1)), now)
    without = check(request, default_kb, date(2026, 10, 25), "J")
    assert [] == [a for a in without.alerts if a.rule_class == "药品限支付疗程"]
    facts = HistoryFacts(compile_history([first]))
    course = [a for a in check(request, default_kb, date(2026, 10, 25), "J", history=facts).alerts
              if a.rule_class == "药品限支付疗程"]  # fmt: skip
    assert [("T1",)] == [a.rx_ids for a in course]
    assert "已累计使用16天" in course[0].vola_cont and "2026-10-24起" in course[0].vola_cont
    assert Decimal("20.00") == course[0].vola_amt


def test_prepare_merges_and_fills_institution_defaults() -> None:
    """The request's own history wins for the same mdtrt_id, the store's others join it, the encounter under check
    is dropped from its history, and an empty medins_lv / medins_type takes the institution's level and type."""
    a, b, c = (Encounter(x, adm_date=date(2026, n, 1)) for n, x in enumerate("ABC", 1))
    stored = compile_history([replace(a, medins_lv="store"), b, c])
    carried = (Encounter("A", adm_date=date(2026, 1, 1), medins_lv="request"),)
    request = CheckRequest("1", Patient("P1", "1", date(1950, 1, 1)), Encounter("C"), carried)
    merged_request, merged = prepare(request, HistoryFacts(stored, institution=InstitutionState(level="05", type="A")))
    assert ["A", "B"] == [e.mdtrt_id for e in merged_request.history]
    assert "request" == merged_request.history[0].medins_lv
    assert merged is not None and frozenset({"A", "B"}) == merged.mdtrt_ids
    assert ("05", "A") == (merged_request.encounter.medins_lv, merged_request.encounter.medins_type)
    usual = CheckRequest("1", request.patient, Encounter("D", medins_lv="01"))
    same_request, same = prepare(usual, HistoryFacts(stored))
    assert same is stored and same_request.history is stored.encounters  # no per-check work in the usual case


def test_main_diagnosis_and_add_months() -> None:
    """The main diagnosis prefers the discharge main code, then a flagged main diagnosis (discharge first); months
    are calendar months (the 31st becomes the month's last day)."""
    enc = Encounter("E", diagnoses=(Diagnosis("J18.900"), Diagnosis("I10.x00", maindise_flag=True, inout_dise_type="1"),
                                    Diagnosis("I63.900", maindise_flag=True, inout_dise_type="2")))  # fmt: skip
    assert "I63.900" == main_diagnosis(enc)
    assert "K35.800" == main_diagnosis(replace(enc, dscg_main_dise_codg="k35.800"))
    assert "J18.900" == main_diagnosis(Encounter("E", diagnoses=(Diagnosis("J18.900"),)))
    assert date(2026, 7, 1) == add_months(date(2026, 1, 1), 6)
    assert date(2026, 2, 28) == add_months(date(2025, 8, 31), 6)
    assert date(2027, 1, 15) == add_months(date(2026, 7, 15), 6)


def test_without_history_facts_nothing_changes(default_kb: CompiledKB) -> None:
    """history=None gives exactly the alerts of a plain check (the history rules do not run)."""
    request, _ = _case(CASES[0])
    plain = check(request, default_kb, date(2026, 3, 20), "J")
    assert plain == check(request, default_kb, date(2026, 3, 20), "J", history=None)
    assert [] == _mine(plain.alerts)
