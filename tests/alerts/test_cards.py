"""Alert cards: every rule class of the default KB (and the built-in unmapped-code, traceability-code and
practitioner rules) renders in zh-CN and en from real engine alerts; summary cutting, locale fallback, the detail
layout and the text data's own checks."""

from __future__ import annotations

import copy
import json
import re
from datetime import date
from decimal import Decimal
from importlib import resources
from typing import Any

import pytest

from fundguard.agent.alerts import MAX_SUMMARY, render_card, summarize
from fundguard.agent.alerts._texts import TEXTS, parse_texts
from fundguard.agent.alerts.cards import REASON_CLASSES
from fundguard.agent.engine import CompiledKB, check
from fundguard.agent.engine.model import Alert, AlertLine, CheckRequest, Encounter, OrderLine, Patient, WorkflowImpact
from fundguard.agent.engine.practitioner_model import PractitionerFacts, Qualification
from fundguard.agent.engine.practitioner_rules import CODE_CLASS as PRACT_CODE_CLASS
from fundguard.agent.engine.practitioner_rules import SUSPENDED_CLASS as PRACT_CLASS
from fundguard.agent.engine.trace_model import CodeFacts, TraceFacts
from fundguard.agent.engine.trace_rules import RULE_CLASS as TRACE_CLASS
from fundguard.agent.engine.unmapped import RULE as UNMAPPED
from fundguard.agent.intake import parse_request
from fundguard.knowledge_base import default_bundle_path
from tests.engine.rules.casefile import CASES_DIR, DEFAULT_SERVICE_DATE

KB_CLASSES = sorted({r["rule_class"] for r in json.loads(default_bundle_path().read_text(encoding="utf-8"))["rules"]})
BUILT_IN_CLASSES = [UNMAPPED.rule_class, TRACE_CLASS, PRACT_CLASS, PRACT_CODE_CLASS]
ALL_CLASSES = [*KB_CLASSES, *BUILT_IN_CLASSES]
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
SEV = {"zh-CN": {"1": "明确违规", "2": "高度可疑", "3": "轻度可疑"},
       "en": {"1": "clear violation", "2": "highly suspicious", "3": "mildly suspicious"}}  # fmt: skip
IMPACT = {"zh-CN": {"block": "拦截", "reason-required": "需说明理由", "info": "提示"},
          "en": {"block": "blocked", "reason-required": "reason required", "info": "for information"}}  # fmt: skip
ROLE = {"zh-CN": {"1": "违规项", "2": "涉及项"}, "en": {"1": "violating", "2": "involved"}}


def _cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for path in sorted(CASES_DIR.glob("*.json")):
        cases.extend(json.loads(path.read_text(encoding="utf-8")))
    return cases


def real_alert(kb: CompiledKB, rule_class: str, locale: str) -> Alert:
    """An engine alert of `rule_class` with its text in `locale`: from the first engine case expecting that class,
    or, for the unmapped-code rule, from a line with a hospital code only; for the traceability-code rules, from a
    box code already sold to another encounter; for the practitioner rules, from an order by a suspended doctor with
    a HIS-local code."""
    if rule_class in (PRACT_CLASS, PRACT_CODE_CLASS):
        line = OrderLine("9", "XA11DAW036A001010104127", Decimal(1), Decimal("3.5"), Decimal("3.5"),
                         hilist_name="维生素B1片", drord_dr_codg="ys01")  # fmt: skip
        request = CheckRequest(
            "1", Patient("P1", "1", date(1960, 1, 1)), Encounter("E1", orders=(line,)), locale=locale
        )
        facts = PractitionerFacts({"ys01": Qualification("suspended", date(2026, 8, 1))}, check_code_format=True)
        return next(
            a
            for a in check(request, kb, date(2026, 7, 1), "J", practitioners=facts).alerts
            if a.rule_class == rule_class
        )
    if rule_class == TRACE_CLASS:
        code = "83857930000879766660"
        line = OrderLine("9", "XA11DAW036A001010104127", Decimal(1), Decimal("3.5"), Decimal("3.5"),
                         hilist_name="维生素B1片", drug_trac_codg=(code,))  # fmt: skip
        facts = CodeFacts(code, kind="domestic", product_key=code[:7], product_hilist_code=line.hilist_code,
                          in_stock=True, sold_mdtrt_id="E0", sold_rx_id="3")  # fmt: skip
        request = CheckRequest(
            "1", Patient("P1", "1", date(1960, 1, 1)), Encounter("E1", orders=(line,)), locale=locale
        )
        trace = TraceFacts({code: facts})
        return next(
            a for a in check(request, kb, date(2026, 7, 1), "J", trace=trace).alerts if a.rule_class == rule_class
        )
    if rule_class == UNMAPPED.rule_class:
        line = OrderLine("7", "", Decimal(2), Decimal("3.5"), Decimal(7), hilist_name="曼月乐", hosplist_code="H-404")
        request = CheckRequest(
            "1", Patient("P1", "1", date(1960, 1, 1)), Encounter("E1", orders=(line,)), locale=locale
        )
        return check(request, kb, date(2026, 7, 1), "J").alerts[0]
    for case in _cases():
        if any(e["rule_class"] == rule_class for e in case["expected"]):
            doc = copy.deepcopy(case["input"])
            doc["locale"] = locale
            parsed = parse_request(doc)
            alerts = check(parsed.request, kb, parsed.service_date or DEFAULT_SERVICE_DATE, "J").alerts
            return next(a for a in alerts if a.rule_class == rule_class)
    raise AssertionError(f"no engine case raises {rule_class}: add one to {CASES_DIR}")


def _row_labels(detail: str) -> list[str]:
    return [row[2:].split(":")[0] for row in detail.splitlines() if row.startswith("- ")]


def _alert(text: str = "限二级及以上医疗机构使用。", **kw: Any) -> Alert:
    fields: dict[str, Any] = {
        "jr_id": "J-1", "rule_id": "GZ10000101012000", "rule_name": "药品限医疗机构级别",
        "rule_class": "药品限医疗机构级别", "kp_id": "KP-1", "vola_cont": text, "sev_deg": "1",
        "workflow_impact": WorkflowImpact.BLOCK, "vola_amt": Decimal("27.2"), "rx_ids": ("6374",),
        "lines": (AlertLine("6374", "1", Decimal("27.2")), AlertLine("6371", "2", Decimal(0))),
    }  # fmt: skip
    fields.update(kw)
    return Alert(**fields)


# --- every rule class ----------------------------------------------------------------------------------------


def test_the_walk_covers_the_21_classes_of_the_default_kb_and_the_built_in_rules() -> None:
    """The classes walked below are the default KB's 21 plus 医保目录编码未对照, 药品追溯码, 医师医保支付资格 and
    医保医师代码."""
    built_in = ["医保目录编码未对照", "药品追溯码", "医师医保支付资格", "医保医师代码"]
    assert (21, built_in) == (len(KB_CLASSES), ALL_CLASSES[-4:])


@pytest.mark.parametrize("rule_class", ALL_CLASSES)
@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_every_rule_class_renders_a_card_in_both_languages(
    default_kb: CompiledKB, rule_class: str, locale: str
) -> None:
    """A real alert of each class renders: summary 1–140 characters, severity / impact / role labels and the
    override reasons in the card's language (no CJK in English labels), 2–4 reasons of the class's own, and a
    detail naming the rule id, knowledge point, every line and the amount."""
    alert = real_alert(default_kb, rule_class, locale)
    card = render_card(alert, "7", locale)
    expected = (alert.jr_id, alert.rule_id, alert.kp_id, alert.sev_deg, alert.workflow_impact, "7",
                SEV[locale][alert.sev_deg], IMPACT[locale][alert.workflow_impact.value],
                tuple((ln.rx_id, ROLE[locale][ln.vola_item_type]) for ln in alert.lines),
                f"{alert.vola_amt.quantize(Decimal('0.01'))}")  # fmt: skip
    actual = (card.jr_id, card.rule_id, card.kp_id, card.sev_deg, card.workflow_impact, card.kb_revision,
              card.sev_label, card.impact_label, card.lines, card.vola_amt)  # fmt: skip
    assert expected == actual
    assert 0 < len(card.summary) <= MAX_SUMMARY <= 140
    assert rule_class in REASON_CLASSES, f"{rule_class} has no override reasons in card_texts.json"
    codes = [reason.code for reason in card.override_reasons]
    assert (True, len(codes)) == (2 <= len(codes) <= 4, len(set(codes)))
    labels = [card.sev_label, card.impact_label, *(r.label for r in card.override_reasons),
              *(ln.role for ln in card.lines), *_row_labels(card.detail)]  # fmt: skip
    if locale == "en":
        assert [] == [label for label in labels if CJK.search(label)]
    else:
        assert [] == [label for label in labels if not CJK.search(label)]
    for part in (alert.vola_cont, f"({alert.rule_id})", alert.kp_id, card.vola_amt, *alert.rx_ids):
        assert part in card.detail


def test_engine_texts_follow_the_locale(default_kb: CompiledKB) -> None:
    """The English card of the unmapped rule carries the engine's English text; the Chinese one its Chinese text."""
    en = render_card(real_alert(default_kb, UNMAPPED.rule_class, "en"), "7", "en")
    zh = render_card(real_alert(default_kb, UNMAPPED.rule_class, "zh-CN"), "7", "zh-CN")
    assert (True, True) == (en.summary.startswith("[曼月乐] hospital code H-404"), zh.summary.startswith("【曼月乐】"))


# --- layout and locale ---------------------------------------------------------------------------------------


def test_english_detail_layout_with_constraint_and_evidence() -> None:
    """The detail: the alert text, then rule, knowledge point (with its constraint), severity, amount, lines and
    evidence, one row each."""
    card = render_card(_alert("Restricted to grade-2 hospitals.", vola_evid="限二级及以上"), "7", "en",
                       constraint="限二级及以上医疗机构")  # fmt: skip
    expected = (
        "Restricted to grade-2 hospitals.\n\n"
        "- Rule: 药品限医疗机构级别 (GZ10000101012000)\n"
        "- Knowledge point: KP-1 (限二级及以上医疗机构)\n"
        "- Severity: clear violation (blocked)\n"
        "- Amount at risk: 27.20\n"
        "- Orders: 6374 (violating), 6371 (involved)\n"
        "- Evidence: 限二级及以上"
    )
    assert expected == card.detail
    assert [("approved", "Approved by or filed with the insurer"),
            ("referral-continuation", "Continues a treatment set by a higher-level hospital (documented)"),
            ("informed-consent", "Patient informed and consents to pay out of pocket"),
            ] == list(card.override_reasons)  # fmt: skip


@pytest.mark.parametrize(("asked", "served"), [("fr", "zh-CN"), ("", "zh-CN"), ("zh-TW", "zh-CN"), ("en-US", "en")])
def test_unknown_locale_falls_back_to_chinese(asked: str, served: str) -> None:
    """A locale the texts do not have renders as zh-CN; any English tag renders as en."""
    assert render_card(_alert(), "7", served) == render_card(_alert(), "7", asked)


def test_class_without_reasons_of_its_own_gets_the_default_list() -> None:
    """An unknown rule class (a local rule) is offered the default reasons."""
    card = render_card(_alert(rule_class="某地自定义规则"), "7", "zh-CN")
    assert TEXTS.default_reasons == tuple(reason.code for reason in card.override_reasons)


def test_empty_alert_text_gives_the_rule_name_as_summary() -> None:
    """No alert text: the summary is the rule name and the detail starts with the rows."""
    card = render_card(_alert(""), "7", "zh-CN")
    assert ("药品限医疗机构级别", True) == (card.summary, card.detail.startswith("- 规则: "))


# --- summary -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("甲乙丙；丁戊。", "甲乙丙；丁戊。"),
        ("  one\n two  ", "one two"),
        ("药" * 139, "药" * 139),
        ("药" * 140, "药" * 138 + "…"),
        ("一二三。四五六；" + "七" * 200, "一二三。四五六…"),
        ("一二三，四五六，" + "七" * 200, "一二三，四五六…"),
        ("短句；" + "甲" * 100 + "，" + "乙" * 100, "短句；" + "甲" * 100 + "…"),
        ("甲" * 80 + "。" + "乙" * 30 + "，" + "丙" * 100, "甲" * 80 + "…"),
        ("x" * 100 + " (" + "规则" * 40 + ").", "x" * 100 + "…"),
        ("药" * 100 + "（" + "规则" * 40 + "）。", "药" * 100 + "…"),
        ("Alpha beta. Gamma; " + "x" * 200, "Alpha beta. Gamma…"),
        ("Dose 3.5 mg," + "x" * 200, "Dose 3.5 mg," + "x" * 126 + "…"),
        ("。" + "药" * 200, "。" + "药" * 137 + "…"),
    ],
)
def test_summary_is_cut_on_the_last_boundary_that_fits(text: str, expected: str) -> None:
    """A text within 139 characters stays whole (on one line); a longer one is cut at its last sentence end within
    138 characters (or its last clause end / opening parenthesis when the sentence would keep under 69), else at
    138, and gets an ellipsis. "3.5" and "," without a space are no boundaries, nor is a mark leaving nothing."""
    assert expected == summarize(text)
    assert len(summarize(text)) <= MAX_SUMMARY


# --- the text data -------------------------------------------------------------------------------------------


def _doc() -> dict[str, Any]:
    raw = resources.files("fundguard.agent.alerts").joinpath("card_texts.json").read_text(encoding="utf-8")
    doc: dict[str, Any] = json.loads(raw)
    return doc


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["override_reasons"]["by_rule_class"].update(X=["nope"]), "unknown reason 'nope'"),
        (lambda d: d["labels"]["en"]["detail"].pop("amount"), "labels.en has not the same keys"),
        (lambda d: d["reasons"]["approved"].pop("en"), "reasons.approved needs exactly the locales"),
        (lambda d: d["override_reasons"].update(default=[]), "override_reasons.default must be a list"),
        (lambda d: d["labels"].pop("zh-CN"), "labels.zh-CN is missing"),
    ],
)
def test_broken_text_data_is_refused_naming_the_place(change: Any, message: str) -> None:
    """A class naming an unknown reason, a locale missing a label, a reason missing a locale: ValueError."""
    doc = _doc()
    change(doc)
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_texts(doc)


def test_the_shipped_text_data_parses_to_what_was_loaded() -> None:
    """The file next to the module is the data the cards use."""
    assert TEXTS == parse_texts(_doc())
