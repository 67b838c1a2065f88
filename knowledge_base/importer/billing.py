"""Derive the parameters of billing-structure rules: duplicate pairs, surgery groups and herbal slices.

- 医疗服务项目重复收费: the point's two codes are item A and item B, billed together within one encounter
  (the engine narrows outpatient encounters to the same day).
- 手术项目未按规定折价收费: the constraint is the surgery group (胃肠手术组 …); the discount ratio is the KB
  parameter surgery_discount_ratio.
- 中药饮片单方使用不予支付 → mode "single"; 中药饮片单复方均不予支付 → mode "never".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._source import SourcePoint, fold
from ._types import Derivation

__all__ = ["derive_herbal", "derive_pair", "derive_surgery"]

PAIR_CODES = 2
HERBAL_MODES = {"中药饮片单方使用不予支付": "single", "中药饮片单复方均不予支付": "never"}


def derive_pair(point: SourcePoint, _kb: Mapping[str, Any]) -> Derivation:
    """`{"a", "b", "window": "encounter"}` from the point's two codes."""
    if len(point.codes) != PAIR_CODES:
        return Derivation.missing(f"a pair needs exactly two codes, the row has {len(point.codes)}")
    a, b = point.codes
    if a == b:
        return Derivation.missing(f"item A and item B are the same code {a}")
    return Derivation.of({"a": a, "b": b, "window": "encounter"})


def derive_surgery(point: SourcePoint, _kb: Mapping[str, Any]) -> Derivation:
    """`{"group": "…手术组"}` from the constraint."""
    group = fold(point.constraint).strip()
    if not group.endswith("手术组"):
        return Derivation.missing(f"constraint is not a surgery group: {point.constraint!r}")
    return Derivation.of({"group": group})


def derive_herbal(point: SourcePoint, _kb: Mapping[str, Any]) -> Derivation:
    """`{"mode": "single" | "never"}` from the rule class."""
    mode = HERBAL_MODES.get(point.rule_class)
    if mode is None:
        return Derivation.missing(f"rule class {point.rule_class} is not an herbal-slice rule")
    return Derivation.of({"mode": mode})
