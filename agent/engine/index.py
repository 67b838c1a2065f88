"""Compile a KB bundle (already parsed JSON) into immutable dict indexes: the only thing a check touches.

`build_index(bundle)` validates the bundle's shape (raising `KbInvalid` naming the field), compiles each point's
parameters with its rule family, and indexes every point under each of its national codes. It is pure: loading the
file, verifying signatures and swapping the active index live in `agent.kb`.
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
    "build_index",
    "merge_parameters",
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


@dataclass(frozen=True, slots=True)
class CompiledPoint:
    """A knowledge point ready to evaluate: `params` is the family's own compiled object."""

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

    def applies_on(self, day: date) -> bool:
        """True when the point is in force on `day` (valid_to is exclusive)."""
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day < self.valid_to
        )


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
    by_code: Mapping[str, tuple[CompiledPoint, ...]]
    not_compiled: int

    @property
    def code_count(self) -> int:
        """How many distinct national codes the KB indexes."""
        return len(self.by_code)


def _req(obj: Mapping[str, Any], key: str, where: str) -> Any:
    if type(obj) is dict:  # the parsed JSON: skip the (slow, per-point) Mapping ABC check
        if key in obj:
            return obj[key]
    elif isinstance(obj, Mapping) and key in obj:
        return obj[key]
    raise KbInvalid("missing", f"{where}.{key}" if where else key)


def _date(value: Any, where: str, seen: dict[Any, date | None]) -> date | None:
    """A point's date bound; `seen` memoises the few distinct dates of a bundle (100k points, a few dozen dates)."""
    try:
        return seen[value]
    except (KeyError, TypeError):
        pass
    if value in (None, ""):
        return None
    try:
        day = date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise KbInvalid(f"not a date: {value!r}", where) from exc
    if isinstance(value, str):
        seen[value] = day
    return day


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


def _params(raw: Mapping[str, Any], overrides: Mapping[str, Any] | None) -> KbParameters:
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
            visit_class_by_med_mdtrt_type={
                str(k): str(v) for k, v in merged["visit_class_by_med_mdtrt_type"].items()
            },
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


def _rules(raw_rules: Any, families: Mapping[str, Any]) -> dict[str, RuleMeta]:
    if not isinstance(raw_rules, list):
        raise KbInvalid("must be a list", "rules")
    rules: dict[str, RuleMeta] = {}
    for i, r in enumerate(raw_rules):
        where = f"rules[{i}]"
        family = str(_req(r, "family", where))
        if family not in families:
            raise KbInvalid(f"unknown rule family {family!r}", f"{where}.family")
        try:
            impact = WorkflowImpact(str(_req(r, "workflow_impact", where)))
        except ValueError as exc:
            raise KbInvalid("must be block, reason-required or info", f"{where}.workflow_impact") from exc
        sev = str(_req(r, "sev_deg", where))
        if sev not in {"1", "2", "3"}:
            raise KbInvalid("must be 1, 2 or 3", f"{where}.sev_deg")
        meta = RuleMeta(
            rule_class=str(_req(r, "rule_class", where)),
            rule_id=str(_req(r, "rule_id", where)),
            rule_name=str(_req(r, "rule_name", where)),
            tier=str(r.get("tier", "")),
            family=family,
            sev_deg=sev,
            workflow_impact=impact,
        )
        rules[meta.rule_class] = meta
    return rules


def build_index(bundle: Mapping[str, Any], parameter_overrides: Mapping[str, Any] | None = None) -> CompiledKB:
    """Validate and compile a parsed bundle; raises `KbInvalid` with the field path on any defect."""
    from .rules import FAMILIES  # noqa: PLC0415 -- late: the rule families import this module's types

    if not isinstance(bundle, Mapping):
        raise KbInvalid("bundle must be a JSON object", "")
    if _req(bundle, "format", "") != BUNDLE_FORMAT:
        raise KbInvalid(f"expected {BUNDLE_FORMAT!r}", "format")
    if _req(bundle, "format_version", "") not in SUPPORTED_FORMAT_VERSIONS:
        raise KbInvalid(f"unsupported; this agent reads {sorted(SUPPORTED_FORMAT_VERSIONS)}", "format_version")
    params = _params(_req(bundle, "parameters", ""), parameter_overrides)
    rules = _rules(_req(bundle, "rules", ""), FAMILIES)
    raw_points = _req(bundle, "points", "")
    if not isinstance(raw_points, list):
        raise KbInvalid("must be a list", "points")

    points: dict[str, CompiledPoint] = {}
    by_code: dict[str, tuple[CompiledPoint, ...]] = {}
    days: dict[Any, date | None] = {None: None, "": None}
    for i, rp in enumerate(raw_points):
        where = f"points[{i}]"
        rule_class = str(_req(rp, "rule_class", where))
        rule = rules.get(rule_class)
        if rule is None:
            raise KbInvalid(f"rule class {rule_class!r} not in rules", f"{where}.rule_class")
        codes = _req(rp, "codes", where)
        if not isinstance(codes, list) or not codes:
            raise KbInvalid("must be a non-empty list", f"{where}.codes")
        family = FAMILIES[rule.family]
        code_tuple = tuple(map(str, codes))
        point = CompiledPoint(
            kp_id=str(_req(rp, "kp_id", where)),
            rule=rule,
            family=rule.family,
            item_name=str(rp.get("item_name") or ""),
            constraint=str(rp.get("constraint") or ""),
            codes=code_tuple,
            valid_from=_date(rp.get("valid_from"), f"{where}.valid_from", days),
            valid_to=_date(rp.get("valid_to"), f"{where}.valid_to", days),
            params=family.compile_params(rp.get("params") or {}, params, f"{where}.params"),
            code_set=frozenset(code_tuple),
            always=not rp.get("valid_from") and not rp.get("valid_to"),
        )
        points[point.kp_id] = point
        for code in point.code_set if len(point.code_set) != len(code_tuple) else code_tuple:
            known = by_code.get(code)
            by_code[code] = (point,) if known is None else (*known, point)

    not_compiled = bundle.get("not_compiled") or []
    return CompiledKB(
        revision=str(_req(bundle, "revision", "")),
        created_at=str(bundle.get("created_at") or ""),
        issuer=str(bundle.get("issuer") or ""),
        params=params,
        rules=rules,
        points=points,
        by_code=by_code,
        not_compiled=len(not_compiled) if isinstance(not_compiled, list) else 0,
    )
