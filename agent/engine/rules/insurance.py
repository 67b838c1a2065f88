"""Drugs payable under one insurance scheme only (药品限工伤保险, 药品限生育保险).

Which national codes mean which scheme is KB data (parameters): work injury needs the encounter's `insutype`
in `work_injury_insutypes`; maternity needs `insutype` in `maternity_insutypes` or `med_type` in
`maternity_med_types` (生育门诊/住院, 计划生育手术). An encounter whose insutype is not given (and, for
maternity, whose med_type does not show a maternity visit) gives no alert: the scheme is unknown, not wrong.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import KbInvalid
from ..index import KbParameters
from ._base import Context, Family, Finding, Hit, line_amount

__all__ = ["FAMILY", "TEXTS"]

SCHEMES = {
    "work_injury": ("工伤保险", "work-injury insurance"),
    "maternity": ("生育保险", "maternity insurance"),
}

# national INSUTYPE dictionary, for the alert text only (which codes count as a scheme is KB data)
INSUTYPE_NAMES = {
    "310": "职工基本医疗保险",
    "320": "公务员医疗补助",
    "330": "大额医疗费用补助",
    "340": "离休人员医疗保障",
    "390": "城乡居民基本医疗保险",
    "392": "城乡居民大病医疗保险",
    "410": "长期照护保险",
    "510": "生育保险",
}

TEXTS = {
    "insurance.wrong_scheme": {
        "zh-CN": "【{item}】限{scheme}支付，本次就诊险种为{insutype}，非{scheme}（{rule}）。",
        "en": "[{item}] is payable under {scheme_en} only; "
        "this encounter's insurance type is {code} ({rule}).",
    },
}


@dataclass(frozen=True, slots=True)
class InsuranceParams:
    """The one scheme the drug is paid under."""

    scheme: str


def compile_params(raw: Mapping[str, Any], _kb: KbParameters, where: str) -> InsuranceParams:
    """`{"scheme": "work_injury"|"maternity"}`."""
    scheme = str(raw.get("scheme", ""))
    if scheme not in SCHEMES:
        raise KbInvalid("scheme must be 'work_injury' or 'maternity'", f"{where}.scheme")
    return InsuranceParams(scheme)


def _covered(ctx: Context) -> dict[str, bool | None]:
    """Per scheme: True covered, False not covered, None unknown (no insutype given)."""
    enc, kb = ctx.encounter, ctx.params
    known = bool(enc.insutype)
    maternity = enc.insutype in kb.maternity_insutypes or enc.med_type in kb.maternity_med_types
    return {
        "work_injury": (enc.insutype in kb.work_injury_insutypes) if known else None,
        "maternity": True if maternity else (False if known else None),
    }


def check(ctx: Context, hits: Sequence[Hit]) -> list[Finding]:
    """Flag each line whose encounter is not under the drug's scheme."""
    covered = _covered(ctx)
    code = ctx.encounter.insutype
    insutype = f"{code}（{INSUTYPE_NAMES[code]}）" if code in INSUTYPE_NAMES else code
    out: list[Finding] = []
    for line, point in hits:
        scheme = point.params.scheme
        if covered[scheme] is not False:
            continue
        text = ctx.say(
            "insurance.wrong_scheme",
            item=line.hilist_name or point.item_name,
            scheme=SCHEMES[scheme][0],
            scheme_en=SCHEMES[scheme][1],
            insutype=insutype,
            code=code,
            rule=point.rule.rule_name,
        )
        out.append(Finding(point, ((line, line_amount(line)),), text))
    return out


FAMILY = Family("insurance", compile_params, check)
