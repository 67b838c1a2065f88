"""Second-line drugs (药品限二线使用): paid only after first-line treatment failed or was not tolerated.

A point lists ATC-like classes (`code[1:6]` of the 23-char national drug code) whose earlier use counts as
evidence of first-line treatment. Evidence is a line of this encounter sent as context (curr_drord_flag 0)
or any line of the patient's earlier encounters (request.history) with a western drug code (X…) in one of
those classes and a generic name (`code[6:10]`) other than the ordered drug's: then there is no alert.
Otherwise the clinician gets a reason-required prompt (severity 3) naming what to confirm; the failure
itself is never visible to the engine.
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

SEV = "3"
ATC_LEN = 5
ATC_END = 6  # drug code: kind letter, code[1:6] ATC-like class, code[6:10] generic name, then form/maker
GENERIC_END = 10
WESTERN = "X"  # only western drug codes carry an ATC class there (Z… codes hold the TCM efficacy class)

TEXTS = {
    "second_line.no_evidence": {
        "zh-CN": "【{item}】医保限定支付：{confirm}。"
        "未见一线药品使用记录，请确认一线治疗无效或不能耐受后填写理由（{rule}）。",
        "en": "[{item}] is paid as a second-line drug only ({confirm}). "
        "No first-line treatment is on record; "
        "confirm it failed or was not tolerated and give a reason ({rule}).",
    },
}


@dataclass(frozen=True, slots=True)
class SecondLineParams:
    """ATC classes counting as first-line evidence, and the condition to confirm without evidence."""

    evidence_atc: frozenset[str]
    confirm: str


def compile_params(raw: Mapping[str, Any], _kb: KbParameters, where: str) -> SecondLineParams:
    """`{"evidence_atc": ["L01EA", ...], "confirm": str}`; confirm may be empty (the constraint is shown)."""
    atc = raw.get("evidence_atc") or []
    if not isinstance(atc, list):
        raise KbInvalid("must be a list of ATC classes", f"{where}.evidence_atc")
    classes: set[str] = set()
    for i, cls in enumerate(atc):
        if not isinstance(cls, str) or len(cls.strip()) != ATC_LEN:
            raise KbInvalid("must be a 5-character ATC class (code[1:6])", f"{where}.evidence_atc[{i}]")
        classes.add(cls.strip().upper())
    confirm = raw.get("confirm") or ""
    if not isinstance(confirm, str):
        raise KbInvalid("must be a string", f"{where}.confirm")
    return SecondLineParams(frozenset(classes), " ".join(confirm.split()).rstrip("。；;. "))


def _used_generics(ctx: Context) -> dict[str, frozenset[str]]:
    """ATC class -> generic segments the patient already had (earlier lines of this encounter, history)."""
    out: dict[str, set[str]] = {}
    lines = [*ctx.earlier_lines, *(o for enc in ctx.request.history for o in enc.orders)]
    for o in lines:
        code = o.hilist_code
        if code.startswith(WESTERN) and len(code) >= GENERIC_END:
            out.setdefault(code[1:ATC_END].upper(), set()).add(code[ATC_END:GENERIC_END].upper())
    return {cls: frozenset(gens) for cls, gens in out.items()}


def check(ctx: Context, hits: Sequence[Hit]) -> list[Finding]:
    """Prompt for each second-line line without first-line evidence."""
    used: dict[str, frozenset[str]] | None = None
    out: list[Finding] = []
    for line, point in hits:
        params: SecondLineParams = point.params
        if params.evidence_atc:
            used = _used_generics(ctx) if used is None else used
            ordered = line.hilist_code[ATC_END:GENERIC_END].upper()
            if any(used.get(cls, frozenset()) - {ordered} for cls in params.evidence_atc):
                continue
        text = ctx.say(
            "second_line.no_evidence",
            item=line.hilist_name or point.item_name,
            confirm=params.confirm or " ".join(point.constraint.split()).rstrip("。；;. ") or "限二线用药",
            rule=point.rule.rule_name,
        )
        out.append(
            Finding(
                point,
                ((line, line_amount(line)),),
                text,
                sev_deg=SEV,
                workflow_impact=WorkflowImpact.REASON_REQUIRED,
            )
        )
    return out


FAMILY = Family("second_line", compile_params, check)
