"""The compiled knowledge base's types (the only thing a check touches) and the compilation of a bundle's header.

`CompiledKB` holds the global parameters, the rule classes, the points by id and `ids_by_code`, the ids of the
points indexed under each national code (ids, not the points: a reload that changes a point but not its codes leaves
that index as it was). `compile_parameters` and `compile_rules` type the bundle's `parameters` and `rules` (raising
`KbInvalid` naming the field); the points are compiled by `compile.build_index`. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import KbInvalid
from .model import WorkflowImpact

__all__ = [
    "BUNDLE_FORMAT",
    "CompiledKB",
    "CompiledPoint",
    "KbParameters",
    "RuleMeta",
    "compile_parameters",
    "compile_rules",
    "merge_parameters",
    "required",
]

BUNDLE_FORMAT = "fundguard-kb-bundle"
SUPPORTED_FORMAT_VERSIONS = frozenset({1})


@dataclass(frozen=True, slots=True)
class RuleMeta:
    """One rule class of the national catalogue as the bundle configures it."""

    rule_class: str
    rule_id: str
    rule_name: str
    tier: str
    family: str
    sev_deg: str
    workflow_impact: WorkflowImpact


@dataclass(slots=True, eq=False)
class CompiledPoint:
    """A knowledge point ready to evaluate: `params` is the family's own compiled object; `raw` the bundle's JSON
    object it was compiled from (a reload reuses the point when the new bundle carries the same one).

    A plain slots class, not a frozen one (a frozen dataclass's `__init__` costs ~1.5 µs more per point, 150 ms for
    a 100k-point bundle); nothing mutates it after the compile. Equality is identity."""

    kp_id: str
    rule: RuleMeta
    family: str
    item_name: str
    constraint: str
    codes: tuple[str, ...]
    valid_from: date | None
    valid_to: date | None
    params: Any
    code_set: frozenset[str]
    always: bool  # no validity bounds: in force on every date
    raw: Any = None

    def applies_on(self, day: date) -> bool:
        """True when the point is in force on `day` (valid_to is exclusive)."""
        return (self.valid_from is None or self.valid_from <= day) and (self.valid_to is None or day < self.valid_to)


@dataclass(frozen=True, slots=True)
class KbParameters:
    """Global KB parameters (child age, HOSP_LV ranks, visit classes ...), typed once at load."""

    child_below_years: int
    working_age_min_years: int
    working_age_below_years: int
    hosp_lv_rank: Mapping[str, int]
    visit_class_by_med_type: Mapping[str, str]
    visit_class_by_med_mdtrt_type: Mapping[str, str]
    work_injury_insutypes: frozenset[str]
    maternity_insutypes: frozenset[str]
    maternity_med_types: frozenset[str]
    internet_med_types: frozenset[str]
    surgery_discount_ratio: Decimal
    herbal_list_types: frozenset[str]


@dataclass(frozen=True, slots=True)
class CompiledKB:
    """The active knowledge base: immutable, swapped whole by the KB manager."""

    revision: str
    created_at: str
    issuer: str
    params: KbParameters
    rules: Mapping[str, RuleMeta]
    points: Mapping[str, CompiledPoint]
    ids_by_code: Mapping[str, tuple[str, ...]]  # national code -> kp_ids of its points, in bundle order
    not_compiled: int

    @property
    def code_count(self) -> int:
        """How many distinct national codes the KB indexes."""
        return len(self.ids_by_code)

    def points_for(self, code: str) -> tuple[CompiledPoint, ...]:
        """The points indexed under national `code`, in bundle order (none: empty)."""
        ids = self.ids_by_code.get(code)
        if not ids:
            return ()
        points = self.points
        return tuple([points[kp_id] for kp_id in ids])


def required(obj: Mapping[str, Any], key: str, where: str) -> Any:
    """`obj[key]`; KbInvalid naming `where.key` when it is missing."""
    if type(obj) is dict:  # the parsed JSON: skip the (slow, per-point) Mapping ABC check
        if key in obj:
            return obj[key]
    elif isinstance(obj, Mapping) and key in obj:
        return obj[key]
    raise KbInvalid("missing", f"{where}.{key}" if where else key)


def merge_parameters(raw: Mapping[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Local overrides over the bundle's parameters: a mapping merges key by key (re-ranking one HOSP_LV code keeps
    the others); a scalar or list replaces the bundle's value."""
    merged = dict(raw)
    for key, value in (overrides or {}).items():
        current = merged.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            merged[key] = {**current, **value}
        else:
            merged[key] = value
    return merged


def compile_parameters(raw: Mapping[str, Any], overrides: Mapping[str, Any] | None) -> KbParameters:
    if not isinstance(raw, Mapping):
        raise KbInvalid("must be an object", "parameters")
    merged = merge_parameters(raw, overrides)
    try:
        return KbParameters(
            child_below_years=int(merged["child_below_years"]),
            working_age_min_years=int(merged["working_age_min_years"]),
            working_age_below_years=int(merged["working_age_below_years"]),
            hosp_lv_rank={str(k): int(v) for k, v in merged["hosp_lv_rank"].items()},
            visit_class_by_med_type={str(k): str(v) for k, v in merged["visit_class_by_med_type"].items()},
            visit_class_by_med_mdtrt_type={str(k): str(v) for k, v in merged["visit_class_by_med_mdtrt_type"].items()},
            work_injury_insutypes=frozenset(map(str, merged["work_injury_insutypes"])),
            maternity_insutypes=frozenset(map(str, merged["maternity_insutypes"])),
            maternity_med_types=frozenset(map(str, merged["maternity_med_types"])),
            internet_med_types=frozenset(map(str, merged["internet_med_types"])),
            surgery_discount_ratio=Decimal(str(merged["surgery_discount_ratio"])),
            herbal_list_types=frozenset(map(str, merged["herbal_list_types"])),
        )
    except KeyError as exc:
        raise KbInvalid("missing", f"parameters.{exc.args[0]}") from exc
    except (TypeError, ValueError, AttributeError, InvalidOperation) as exc:
        raise KbInvalid(f"bad value ({exc})", "parameters") from exc


def compile_rules(raw_rules: Any, families: Mapping[str, Any]) -> dict[str, RuleMeta]:
    if not isinstance(raw_rules, list):
        raise KbInvalid("must be a list", "rules")
    rules: dict[str, RuleMeta] = {}
    for i, r in enumerate(raw_rules):
        where = f"rules[{i}]"
        family = str(required(r, "family", where))
        if family not in families:
            raise KbInvalid(f"unknown rule family {family!r}", f"{where}.family")
        try:
            impact = WorkflowImpact(str(required(r, "workflow_impact", where)))
        except ValueError as exc:
            raise KbInvalid("must be block, reason-required or info", f"{where}.workflow_impact") from exc
        sev = str(required(r, "sev_deg", where))
        if sev not in {"1", "2", "3"}:
            raise KbInvalid("must be 1, 2 or 3", f"{where}.sev_deg")
        meta = RuleMeta(
            rule_class=str(required(r, "rule_class", where)),
            rule_id=str(required(r, "rule_id", where)),
            rule_name=str(required(r, "rule_name", where)),
            tier=str(r.get("tier", "")),
            family=family,
            sev_deg=sev,
            workflow_impact=impact,
        )
        rules[meta.rule_class] = meta
    return rules
