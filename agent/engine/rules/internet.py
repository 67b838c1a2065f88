"""Drugs outside the internet-hospital payment scope (超互联网医院药品支付范围).

Narcotic, psychotropic and other specially controlled drugs may not be prescribed in 互联网诊疗: every such
line of an internet-hospital encounter (`Context.is_internet`: the encounter's internet flag, or a med_type
the KB parameters list as internet) violates. The point has no parameters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import KbInvalid
from ..index import KbParameters
from ._base import Context, Family, Finding, Hit, line_amount

__all__ = ["FAMILY", "TEXTS"]

TEXTS = {
    "internet.out_of_scope": {
        "zh-CN": "【{item}】属麻醉药品、精神药品等特殊管理药品，互联网诊疗不得开具，不予支付（{rule}）。",
        "en": "[{item}] is a specially controlled drug (narcotic or psychotropic) and may not be "
        "prescribed or paid in an internet-hospital encounter ({rule}).",
    },
}


@dataclass(frozen=True, slots=True)
class InternetParams:
    """No parameters: the point's codes are the whole rule."""


def compile_params(raw: Mapping[str, Any], _kb: KbParameters, where: str) -> InternetParams:
    """`{}`; any keys are ignored, but the params must be an object."""
    if not isinstance(raw, Mapping):
        raise KbInvalid("must be an object", where)
    return InternetParams()


def check(ctx: Context, hits: Sequence[Hit]) -> list[Finding]:
    """Flag every line when the encounter is an internet-hospital one."""
    if not ctx.is_internet:
        return []
    return [
        Finding(
            point,
            ((line, line_amount(line)),),
            ctx.say(
                "internet.out_of_scope", item=line.hilist_name or point.item_name, rule=point.rule.rule_name
            ),
        )
        for line, point in hits
    ]


FAMILY = Family("internet", compile_params, check)
