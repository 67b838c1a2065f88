"""Drugs paid only at institutions of a minimum level (药品限医疗机构级别), e.g. 限二级及以上医疗机构.

The institution's rank comes from the encounter's medins_lv through the KB parameter `hosp_lv_rank` (3 三级,
2 二级, 1 一级, 0 未定级). A rank below the point's `min_rank` violates (未定级 included); a medins_lv the
parameters do not map gives no alert.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import KbInvalid
from ..index import KbParameters
from ._base import Context, Family, Finding, Hit, line_amount

__all__ = ["FAMILY", "TEXTS"]

TOP_RANK = 3
RANK_NAMES = {
    3: ("三级", "level 3"),
    2: ("二级", "level 2"),
    1: ("一级", "level 1"),
    0: ("未定级", "unrated"),
}

TEXTS = {
    "level.below_min": {
        "zh-CN": "【{item}】限{required}及以上医疗机构使用，本机构为{actual}（{rule}）。",
        "en": "[{item}] is paid only at {required_en} institutions or above; "
        "this institution is {actual_en} ({rule}).",
    },
}


@dataclass(frozen=True, slots=True)
class LevelParams:
    """Minimum institution rank (1–3)."""

    min_rank: int


def compile_params(raw: Mapping[str, Any], _kb: KbParameters, where: str) -> LevelParams:
    """`{"min_rank": 1|2|3}`."""
    rank = raw.get("min_rank")
    if isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= TOP_RANK:
        raise KbInvalid("min_rank must be 1, 2 or 3", f"{where}.min_rank")
    return LevelParams(rank)


def _names(rank: int) -> tuple[str, str]:
    return RANK_NAMES.get(rank, (f"{rank}级", f"level {rank}"))


def check(ctx: Context, hits: Sequence[Hit]) -> list[Finding]:
    """Flag each line when the institution's known rank is below the point's minimum."""
    actual = ctx.level_rank
    if actual is None:
        return []
    actual_zh, actual_en = _names(actual)
    out: list[Finding] = []
    for line, point in hits:
        required: int = point.params.min_rank
        if actual >= required:
            continue
        required_zh, required_en = _names(required)
        text = ctx.say(
            "level.below_min",
            item=line.hilist_name or point.item_name,
            required=required_zh,
            required_en=required_en,
            actual=actual_zh,
            actual_en=actual_en,
            rule=point.rule.rule_name,
        )
        out.append(Finding(point, ((line, line_amount(line)),), text))
    return out


FAMILY = Family("level", compile_params, check)
