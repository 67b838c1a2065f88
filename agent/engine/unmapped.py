"""The one built-in rule that needs no knowledge point: a line whose hospital code maps to no national code.

The edge maps `hosplist_code` → `hilist_code` through the hospital's code map (`agent.codes`); a current line left
without a national code cannot be judged against the KB and, under 医保目录对照 rules, cannot be paid. Rather than
pass silently, it gets an alert of its own: reason-required, 高度可疑, naming the hospital code and what to do.
"""

from __future__ import annotations

from collections.abc import Sequence

from .index import CompiledPoint, RuleMeta
from .model import OrderLine, WorkflowImpact
from .rules import Context, Finding
from .rules._base import line_amount
from .texts import register

__all__ = ["POINT", "RULE", "TEXTS", "findings"]

RULE = RuleMeta(
    rule_class="医保目录编码未对照",
    rule_id="FG-CODE-UNMAPPED",
    rule_name="医院目录编码未对照医保目录",
    tier="local",
    family="code_mapping",
    sev_deg="2",
    workflow_impact=WorkflowImpact.REASON_REQUIRED,
)
POINT = CompiledPoint(
    kp_id="FG-CODE-UNMAPPED",
    rule=RULE,
    family="code_mapping",
    item_name="",
    constraint="医院目录编码须对照医保目录编码后方可审核与结算",
    codes=(),
    valid_from=None,
    valid_to=None,
    params=None,
    code_set=frozenset(),
    always=True,
)
TEXTS = {
    "code_mapping.unmapped": {
        "zh-CN": "【{item}】医院目录编码{code}未对照医保目录编码，无法按医保规则审核，医保可能不予支付；"
        "请确认项目，并由信息科维护编码对照（{rule}）。",
        "en": "[{item}] hospital code {code} maps to no national (医保目录) code, so it cannot be checked and may "
        "not be paid; confirm the item and have IT add the mapping ({rule}).",
    }
}
register(TEXTS)


def findings(ctx: Context, lines: Sequence[OrderLine]) -> list[Finding]:
    """One finding per current line without a national code (whole line amount at risk)."""
    return [
        Finding(
            POINT,
            ((line, line_amount(line)),),
            ctx.say(
                "code_mapping.unmapped",
                item=line.hilist_name or line.hosplist_code,
                code=line.hosplist_code or "(空)",
                rule=RULE.rule_name,
            ),
        )
        for line in lines
    ]
