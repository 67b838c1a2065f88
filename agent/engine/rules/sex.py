"""Sex-specific drugs and services (药品区分性别使用, 医疗服务项目区分性别使用).

A point names the sex the item is for ("1" male, "2" female, national gend codes). A patient whose gend is
1 or 2 and differs is a violation; 0 未知 / 9 未说明 give no alert (the published note excludes 性别不清 cases).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import KbInvalid
from ..index import KbParameters
from ._base import Context, Family, Finding, Hit, line_amount

__all__ = ["FAMILY", "TEXTS"]

SEX_NAMES = {"1": ("男性", "male"), "2": ("女性", "female")}

TEXTS = {
    "sex.mismatch": {
        "zh-CN": "【{item}】限{allowed}使用，参保人性别为{actual}（{rule}）。",
        "en": "[{item}] is for {allowed_en} patients only; the patient is {actual_en} ({rule}).",
    },
}


@dataclass(frozen=True, slots=True)
class SexParams:
    """The one sex an item is for."""

    sex: str


def compile_params(raw: Mapping[str, Any], _kb: KbParameters, where: str) -> SexParams:
    """`{"sex": "1"|"2"}`."""
    sex = str(raw.get("sex", ""))
    if sex not in SEX_NAMES:
        raise KbInvalid("sex must be '1' (male) or '2' (female)", f"{where}.sex")
    return SexParams(sex)


def check(ctx: Context, hits: Sequence[Hit]) -> list[Finding]:
    """Flag each line whose item is for the other sex."""
    gend = ctx.patient.gend
    if gend not in SEX_NAMES:
        return []
    out: list[Finding] = []
    for line, point in hits:
        allowed = point.params.sex
        if allowed == gend:
            continue
        text = ctx.say(
            "sex.mismatch",
            item=line.hilist_name or point.item_name,
            allowed=SEX_NAMES[allowed][0],
            allowed_en=SEX_NAMES[allowed][1],
            actual=SEX_NAMES[gend][0],
            actual_en=SEX_NAMES[gend][1],
            rule=point.rule.rule_name,
        )
        out.append(Finding(point, ((line, line_amount(line)),), text))
    return out


FAMILY = Family("sex", compile_params, check)
