"""Alert texts of the history and institution rules (`history_rules`), Chinese and English."""

from __future__ import annotations

__all__ = ["NONLOCAL_KIND", "TEXTS"]

# out_setl_flag (异地结算标志) → what the encounter is, in words (zh, en)
NONLOCAL_KIND = {"3": ("省内异地就医", "a non-local encounter within the province"),
                 "4": ("跨省异地就医", "a cross-province encounter")}  # fmt: skip

TEXTS = {
    "history.split": {
        "zh-CN": "患者本次入院（{adm}）距上次出院（{dscg}，就诊{prev}）仅{gap}天，两次主诊断同属{head}类"
        "（本次{dx}，上次{prev_dx}），{days}天内同病种再次入院，疑似分解住院；如确属病情变化、新发疾病或转科等"
        "特殊情况，请填写理由（{rule}）。",
        "en": "This admission ({adm}) comes {gap} day(s) after the discharge of {dscg} (encounter {prev}) with a main "
        "diagnosis of the same category {head} (now {dx}, then {prev_dx}): a readmission for the same condition "
        "within {days} days, suspected split hospitalisation. If the condition changed or is new, give a reason "
        "({rule}).",
    },
    "history.readmission": {
        "zh-CN": "患者本次入院（{adm}）距上次出院（{dscg}，就诊{prev}）{gap}天，属出院{days}天内再住院，纳入非计划"
        "再入院监测；如为计划再入院，请在结算清单中标明再住院计划（{rule}）。",
        "en": "This admission ({adm}) comes {gap} day(s) after the discharge of {dscg} (encounter {prev}): a "
        "readmission within {days} days, counted for unplanned-readmission monitoring. If it was planned, mark the "
        "readmission plan in the settlement list ({rule}).",
    },
    "history.duplicate": {
        "zh-CN": "【{item}】既往就诊{prev}开具的同一药品可用至{prior_last}，本次医嘱自{first}起与其重叠{overlap}天，"
        "超过允许的{limit}天，疑似重复开药；请核实患者余药后调整，或填写理由（{rule}）。",
        "en": "[{item}] the same drug prescribed in encounter {prev} lasts until {prior_last}; this order, from "
        "{first}, overlaps it by {overlap} day(s), more than the {limit} allowed: suspected duplicate prescribing. "
        "Check the patient's remaining supply and adjust, or give a reason ({rule}).",
    },
    "history.frequent": {
        "zh-CN": "患者{window}天内（{since}至{day}）在本院就诊{count}次（含本次），超过{limit}次，属频繁就医，"
        "请关注就诊必要性（{rule}）。",
        "en": "The patient has had {count} visits here within {window} days ({since} to {day}, this one included), "
        "more than {limit}: frequent visits; consider whether each visit is needed ({rule}).",
    },
    "institution.guidance": {
        "zh-CN": "本院处于政策辅导期（医保服务协议{start}生效，辅导期至{until}前），期间不得开展异地就医直接结算；"
        "本次为{kind}（异地结算标志{flag}），医保基金不予直接结算。请告知患者按自费结算，回参保地按规定报销"
        "（{rule}）。",
        "en": "This hospital is in its policy guidance period (agreement in force from {start}, period ends before "
        "{until}) and may not settle non-local encounters directly; this is {kind_en} (out_setl_flag {flag}), so "
        "the fund does not settle it here. Settle it as self-paid; the patient claims at home ({rule}).",
    },
}
