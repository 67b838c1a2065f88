"""Compile a parsed KB bundle into the immutable indexes a check touches: `build_index(bundle, overrides, previous)`.

Every point is validated (a defect raises `KbInvalid` naming the field), its parameters compiled by its rule family,
and the point indexed under each of its national codes (`by_code`, in bundle order).

With `previous` (the KB running now) a reload compiles only what changed: when the new bundle's parameters and rule
classes compile to the same values, a point whose raw JSON equals the one `previous` compiled (the same object when
a delta was applied, an equal one in a full bundle) is reused as it is, and `by_code` is the previous index patched
for the codes of the points added, changed or withdrawn. The result is the same KB a full compile gives (same points
in the same order, same `by_code` tuples); only the time differs. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from .errors import KbInvalid
from .index import (
    BUNDLE_FORMAT,
    SUPPORTED_FORMAT_VERSIONS,
    CompiledKB,
    CompiledPoint,
    KbParameters,
    RuleMeta,
    compile_parameters,
    compile_rules,
    required,
)

__all__ = ["build_index"]

ByCode = dict[str, tuple[CompiledPoint, ...]]


def _date(value: Any, where: str, seen: dict[Any, date | None]) -> date | None:
    """A point's date bound; `seen` memoises the few distinct dates of a bundle (100k points, a few dozen dates)."""
    try:
        return seen[value]
    except (KeyError, TypeError):
        pass
    try:
        day = date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise KbInvalid(f"not a date: {value!r}", where) from exc
    if isinstance(value, str):
        seen[value] = day
    return day


def _point(
    rp: Any, i: int, rules: Mapping[str, RuleMeta], params: KbParameters, days: dict[Any, date | None]
) -> CompiledPoint:
    """Validate and compile raw point `rp` (the `i`th of the bundle)."""
    from .rules import FAMILIES  # noqa: PLC0415 -- late: the rule families import this package's types

    where = f"points[{i}]"
    rule_class = str(required(rp, "rule_class", where))
    rule = rules.get(rule_class)
    if rule is None:
        raise KbInvalid(f"rule class {rule_class!r} not in rules", f"{where}.rule_class")
    codes = required(rp, "codes", where)
    if not isinstance(codes, list) or not codes:
        raise KbInvalid("must be a non-empty list", f"{where}.codes")
    code_tuple = tuple(map(str, codes))
    valid_from, valid_to = rp.get("valid_from"), rp.get("valid_to")
    return CompiledPoint(
        str(required(rp, "kp_id", where)),
        rule,
        rule.family,
        str(rp.get("item_name") or ""),
        str(rp.get("constraint") or ""),
        code_tuple,
        _date(valid_from, f"{where}.valid_from", days),
        _date(valid_to, f"{where}.valid_to", days),
        FAMILIES[rule.family].compile_params(rp.get("params") or {}, params, f"{where}.params"),
        frozenset(code_tuple),
        not valid_from and not valid_to,
        rp,
    )


def _codes(point: CompiledPoint) -> Iterable[str]:
    """A point's codes once each, in its order."""
    codes = point.codes
    return codes if len(point.code_set) == len(codes) else dict.fromkeys(codes)


def _full_by_code(points: Iterable[CompiledPoint]) -> ByCode:
    by_code: ByCode = {}
    get = by_code.get
    for point in points:
        for code in _codes(point):
            known = get(code)
            by_code[code] = (point,) if known is None else (*known, point)
    return by_code


def _same_order(common_ids: list[str], old: Mapping[str, CompiledPoint]) -> bool:
    """Whether the points the new bundle shares with `old` (`common_ids`, in the new order) keep their old order."""
    if len(common_ids) == len(old):
        return common_ids == list(old)
    common = set(common_ids)
    return common_ids == [kp_id for kp_id in old if kp_id in common]


def _patched_by_code(
    previous: Mapping[str, tuple[CompiledPoint, ...]],
    points: Mapping[str, CompiledPoint],
    old: Mapping[str, CompiledPoint],
    fresh: list[CompiledPoint],
) -> ByCode:
    """`previous` re-indexed for the codes of the points changed, withdrawn or added (`fresh`: the new objects of
    the changed and added ones), in bundle order. The caller made sure the shared points kept their order, so a
    changed point takes its old place; only a code a point did not have before needs sorting by position."""
    by_code: ByCode = dict(previous)
    replaced: dict[CompiledPoint, CompiledPoint] = {}
    gained: dict[str, list[CompiledPoint]] = {}
    affected: set[str] = set()
    for point in fresh:
        before = old.get(point.kp_id)
        if before is not None:
            replaced[before] = point
            affected.update(before.codes)
        for code in _codes(point):
            if before is None or code not in before.code_set:
                gained.setdefault(code, []).append(point)
    withdrawn = {p for kp_id, p in old.items() if kp_id not in points}
    for point in withdrawn:
        affected.update(point.codes)
    affected.update(gained)
    position: dict[str, int] | None = None
    for code in affected:
        out: list[CompiledPoint] = []
        for p in by_code.get(code, ()):
            new = replaced.get(p)
            if new is None:
                if p not in withdrawn:
                    out.append(p)
            elif code in new.code_set:
                out.append(new)
        extra = gained.get(code)
        if extra:
            if out:
                if position is None:
                    position = {kp_id: n for n, kp_id in enumerate(points)}
                out += extra
                out.sort(key=lambda p: position[p.kp_id])
            else:
                out = extra
        if out:
            by_code[code] = tuple(out)
        else:
            by_code.pop(code, None)
    return by_code


def _duplicate(raw_points: list[Any]) -> KbInvalid:
    seen: set[str] = set()
    for i, rp in enumerate(raw_points):
        kp_id = str(rp["kp_id"])
        if kp_id in seen:
            return KbInvalid(f"{kp_id} appears twice", f"points[{i}].kp_id")
        seen.add(kp_id)
    return KbInvalid("duplicate kp_id", "points")  # not reached: the caller counted fewer ids than points


def build_index(
    bundle: Mapping[str, Any],
    parameter_overrides: Mapping[str, Any] | None = None,
    previous: CompiledKB | None = None,
) -> CompiledKB:
    """Validate and compile a parsed bundle; raises `KbInvalid` with the field path on any defect. With `previous`,
    unchanged points are reused (see the module doc); the result equals a full compile's."""
    from .rules import FAMILIES  # noqa: PLC0415

    if not isinstance(bundle, Mapping):
        raise KbInvalid("bundle must be a JSON object", "")
    if required(bundle, "format", "") != BUNDLE_FORMAT:
        raise KbInvalid(f"expected {BUNDLE_FORMAT!r}", "format")
    if required(bundle, "format_version", "") not in SUPPORTED_FORMAT_VERSIONS:
        raise KbInvalid(f"unsupported; this agent reads {sorted(SUPPORTED_FORMAT_VERSIONS)}", "format_version")
    params = compile_parameters(required(bundle, "parameters", ""), parameter_overrides)
    rules = compile_rules(required(bundle, "rules", ""), FAMILIES)
    raw_points = required(bundle, "points", "")
    if not isinstance(raw_points, list):
        raise KbInvalid("must be a list", "points")

    reuse = previous is not None and previous.params == params and previous.rules == rules
    old: Mapping[str, CompiledPoint] = previous.points if previous is not None and reuse else {}
    points: dict[str, CompiledPoint] = {}
    fresh: list[CompiledPoint] = []
    common_ids: list[str] = []  # the points `previous` has too (reused or changed), in the new bundle's order
    days: dict[Any, date | None] = {None: None, "": None}
    old_get = old.get
    for i, rp in enumerate(raw_points):
        if old:
            kept = old_get(rp.get("kp_id", "")) if type(rp) is dict else None
            if kept is not None:
                common_ids.append(kept.kp_id)
                if kept.raw is rp or kept.raw == rp:
                    points[kept.kp_id] = kept
                    continue
        point = _point(rp, i, rules, params, days)
        points[point.kp_id] = point
        fresh.append(point)
    if len(points) != len(raw_points):
        raise _duplicate(raw_points)

    if previous is not None and old and _same_order(common_ids, old):
        changes = fresh or len(common_ids) < len(old)
        by_code = _patched_by_code(previous.by_code, points, old, fresh) if changes else previous.by_code
    else:
        by_code = _full_by_code(points.values())
    not_compiled = bundle.get("not_compiled") or []
    return CompiledKB(
        revision=str(required(bundle, "revision", "")),
        created_at=str(bundle.get("created_at") or ""),
        issuer=str(bundle.get("issuer") or ""),
        params=params,
        rules=rules,
        points=points,
        by_code=by_code,
        not_compiled=len(not_compiled) if isinstance(not_compiled, list) else 0,
    )
