"""Drugs paid only for listed indications (药品限适应症).

A point carries the ICD-10 (医保版) prefixes of acceptable diagnoses and/or a condition the clinician must
confirm.
- prefixes given: a diagnosis of the encounter that starts with one of them (case-insensitive, dots ignored,
  so "K74.6" matches "K74.600") means no alert; otherwise the line violates with the rule's severity and
  workflow. An encounter without any diagnosis violates too, with its own text (the indication cannot be
  shown).
- no prefixes (the indication text is not mappable): a reason-required prompt (severity 3) asking the
  clinician to confirm `confirm`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import KbInvalid
from ..index import KbParameters
from ..model import WorkflowImpact
from ._base import Context, Family, Finding, Hit, line_amount

__all__ = ["FAMILY", "TEXTS"]

CONFIRM_SEV = "3"

TEXTS = {
    "indication.mismatch": {
        "zh-CN": "【{item}】医保限定支付范围：{scope}；本次就诊诊断（{diagnoses}）不符合限定支付适应症（{rule}）。",
        "en": "[{item}] is paid only for: {scope}; the encounter's diagnoses ({diagnoses_en}) do not match ({rule}).",
    },
    "indication.no_diagnosis": {
        "zh-CN": "【{item}】医保限定支付范围：{scope}；本次就诊未提供诊断，无法确认符合限定支付适应症（{rule}）。",
        "en": "[{item}] is paid only for: {scope}; the encounter has no diagnosis to show it ({rule}).",
    },
    "indication.confirm": {
        "zh-CN": "【{item}】医保限定支付：{confirm}。请确认患者符合后填写理由（{rule}）。",
        "en": "[{item}] is paid only when: {confirm}. Confirm the patient qualifies and give a reason ({rule}).",
    },
}


@dataclass(frozen=True, slots=True)
class IndicationParams:
    """Upper-case, dot-free ICD-10 prefixes (empty: confirm only) and the condition to confirm."""

    icd10: tuple[str, ...]
    confirm: str


def _key(code: str) -> str:
    """Comparable form of an ICD-10 code or prefix: upper case, no dots or spaces."""
    return code.upper().replace(".", "").replace(" ", "")


def _clause(text: str) -> str:
    """Published wording as one clause for a template: trimmed, no closing stop (the template adds it)."""
    return " ".join(text.split()).rstrip("。；;. ")


def compile_params(raw: Mapping[str, Any], _kb: KbParameters, where: str) -> IndicationParams:
    """`{"icd10": [prefix, ...], "confirm": str|null}`; confirm is required when icd10 is empty."""
    icd10 = raw.get("icd10") or []
    if not isinstance(icd10, list):
        raise KbInvalid("must be a list of ICD-10 prefixes", f"{where}.icd10")
    prefixes: list[str] = []
    for i, prefix in enumerate(icd10):
        key = _key(prefix) if isinstance(prefix, str) else ""
        if not key:
            raise KbInvalid("must be a non-empty ICD-10 prefix", f"{where}.icd10[{i}]")
        prefixes.append(key)
    confirm = raw.get("confirm") or ""
    if not isinstance(confirm, str):
        raise KbInvalid("must be a string or null", f"{where}.confirm")
    if not prefixes and not _clause(confirm):
        raise KbInvalid("required when icd10 is empty", f"{where}.confirm")
    return IndicationParams(tuple(dict.fromkeys(prefixes)), _clause(confirm))


def _scope(constraint: str) -> str:
    return _clause(constraint) or "见限定支付范围"


def check(ctx: Context, hits: Sequence[Hit]) -> list[Finding]:
    """Flag lines whose encounter has no matching diagnosis; prompt for unmappable indications."""
    keys: tuple[str, ...] | None = None  # the diagnoses as prefixes compare, once a point has ICD-10 prefixes
    out: list[Finding] = []
    for line, point in hits:
        params: IndicationParams = point.params
        item = line.hilist_name or point.item_name
        if not params.icd10:
            text = ctx.say("indication.confirm", item=item, confirm=params.confirm, rule=point.rule.rule_name)
            out.append(
                Finding(
                    point,
                    ((line, line_amount(line)),),
                    text,
                    sev_deg=CONFIRM_SEV,
                    workflow_impact=WorkflowImpact.REASON_REQUIRED,
                )
            )
            continue
        if keys is None:
            keys = tuple([_key(code) for code in ctx.diagnosis_codes])
        if any(key.startswith(params.icd10) for key in keys):
            continue
        shown = ctx.diagnosis_codes
        text = ctx.say(
            "indication.mismatch" if shown else "indication.no_diagnosis",
            item=item,
            scope=_scope(point.constraint),
            diagnoses="、".join(shown),
            diagnoses_en=", ".join(shown),
            rule=point.rule.rule_name,
        )
        out.append(Finding(point, ((line, line_amount(line)),), text))
    return out


FAMILY = Family("indication", compile_params, check)
