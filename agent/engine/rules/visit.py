"""Drugs paid only for some visit types (药品限就医方式), e.g. 住院患者方予支付, 限急诊或住院患者.

A point lists the allowed visit classes (inpatient, emergency, outpatient, pharmacy). The encounter's class
comes from its med_type, else its med_mdtrt_type, through the KB parameters (`Context.visit_class`); an
encounter whose class is unknown gives no alert.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import KbInvalid
from ..index import KbParameters
from ._base import Context, Family, Finding, Hit, line_amount

__all__ = ["FAMILY", "TEXTS"]

# visit class -> (Chinese, English); order = order of mention in texts
VISIT_NAMES = {
    "emergency": ("急诊", "emergency"),
    "inpatient": ("住院", "inpatient"),
    "outpatient": ("门诊", "outpatient"),
    "pharmacy": ("药店购药", "retail pharmacy"),
}

TEXTS = {
    "visit.not_allowed": {
        "zh-CN": "【{item}】限{allowed}患者使用，本次就诊为{actual}（{rule}）。",
        "en": "[{item}] is paid for {allowed_en} patients only; this encounter is {actual_en} ({rule}).",
    },
}


@dataclass(frozen=True, slots=True)
class VisitParams:
    """Visit classes the drug is paid for, with the precomputed wording of the list."""

    allowed: frozenset[str]
    allowed_zh: str
    allowed_en: str


def _name(cls: str, lang: int) -> str:
    return VISIT_NAMES[cls][lang] if cls in VISIT_NAMES else cls


def compile_params(raw: Mapping[str, Any], kb: KbParameters, where: str) -> VisitParams:
    """`{"allowed": ["inpatient", ...]}`: a non-empty list of visit classes the KB parameters know."""
    allowed = raw.get("allowed")
    if not isinstance(allowed, list) or not allowed or not all(isinstance(c, str) for c in allowed):
        raise KbInvalid("must be a non-empty list of visit classes", f"{where}.allowed")
    known = (
        set(VISIT_NAMES)
        | set(kb.visit_class_by_med_type.values())
        | set(kb.visit_class_by_med_mdtrt_type.values())
    )
    for i, cls in enumerate(allowed):
        if cls not in known:
            raise KbInvalid(f"unknown visit class {cls!r}", f"{where}.allowed[{i}]")
    ordered = sorted(set(allowed), key=lambda c: (list(VISIT_NAMES).index(c) if c in VISIT_NAMES else 99, c))
    return VisitParams(
        allowed=frozenset(ordered),
        allowed_zh="或".join(_name(c, 0) for c in ordered),
        allowed_en=" or ".join(_name(c, 1) for c in ordered),
    )


def check(ctx: Context, hits: Sequence[Hit]) -> list[Finding]:
    """Flag each line when the encounter's visit class is known and not allowed."""
    actual = ctx.visit_class
    if actual is None:
        return []
    actual_en = _name(actual, 1)
    out: list[Finding] = []
    for line, point in hits:
        params: VisitParams = point.params
        if actual in params.allowed:
            continue
        text = ctx.say(
            "visit.not_allowed",
            item=line.hilist_name or point.item_name,
            allowed=params.allowed_zh,
            allowed_en=params.allowed_en,
            actual=_name(actual, 0),
            actual_en=actual_en,
            rule=point.rule.rule_name,
        )
        out.append(Finding(point, ((line, line_amount(line)),), text))
    return out


FAMILY = Family("visit", compile_params, check)
