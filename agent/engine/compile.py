"""Compile a parsed KB bundle into the immutable indexes a check touches: `build_index(bundle, overrides, previous)`.

Every point is validated (a defect raises `KbInvalid` naming the field), its parameters compiled by its rule family,
and its id indexed under each of its national codes (`ids_by_code`, in bundle order).

With `previous` (the KB running now) a reload compiles only what changed: when the new bundle's parameters and rule
classes compile to the same values, a point whose raw JSON equals the one `previous` compiled (the same object when
a delta was applied, an equal one in a full bundle) is reused as it is, and `ids_by_code` is the previous index
patched for the codes points gained or lost (added and withdrawn points included). The result is the same KB a full
compile gives (same points in the same order, same index); only the time differs. Pure: no I/O, no clock.
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

IdsByCode = dict[str, tuple[str, ...]]


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
    kp_id, rule_class = required(rp, "kp_id", where), required(rp, "rule_class", where)
    if type(kp_id) is not str or not kp_id:
        raise KbInvalid("must be a non-empty string", f"{where}.kp_id")
    if type(rule_class) is not str:
        raise KbInvalid("must be a string", f"{where}.rule_class")
    rule = rules.get(rule_class)
    if rule is None:
        raise KbInvalid(f"rule class {rule_class!r} not in rules", f"{where}.rule_class")
    codes = required(rp, "codes", where)
    if not isinstance(codes, list) or not codes:
        raise KbInvalid("must be a non-empty list", f"{where}.codes")
    code_tuple = tuple(map(str, codes))
    valid_from, valid_to = rp.get("valid_from"), rp.get("valid_to")
    return CompiledPoint(
        kp_id,
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


def _full_index(points: Iterable[CompiledPoint]) -> IdsByCode:
    ids_by_code: IdsByCode = {}
    get = ids_by_code.get
    for point in points:
        kp_id = point.kp_id
        for code in _codes(point):
            known = get(code)
            ids_by_code[code] = (kp_id,) if known is None else (*known, kp_id)
    return ids_by_code


def _same_order(common_ids: list[str], old: Mapping[str, CompiledPoint]) -> bool:
    """Whether the points the new bundle shares with `old` (`common_ids`, in the new order) keep their old order."""
    if len(common_ids) == len(old):
        return common_ids == list(old)
    common = set(common_ids)
    return common_ids == [kp_id for kp_id in old if kp_id in common]


def _patched_index(
    previous: Mapping[str, tuple[str, ...]],
    points: Mapping[str, CompiledPoint],
    old: Mapping[str, CompiledPoint],
    fresh: list[CompiledPoint],
    withdrawn: bool,
) -> IdsByCode:
    """`previous` with the codes whose points changed re-indexed, in bundle order. A changed point that kept its
    codes needs nothing (the index holds ids, and the caller made sure the shared points kept their order); only the
    codes a point lost or gained, and those of withdrawn and added points, are touched."""
    ids_by_code: IdsByCode = dict(previous)
    lost: dict[str, set[str]] = {}
    gained: dict[str, list[str]] = {}
    for point in fresh:
        kp_id, before = point.kp_id, old.get(point.kp_id)
        if before is not None and before.code_set == point.code_set:
            continue
        for code in _codes(point):
            if before is None or code not in before.code_set:
                gained.setdefault(code, []).append(kp_id)
        if before is not None:
            for code in before.code_set - point.code_set:
                lost.setdefault(code, set()).add(kp_id)
    if withdrawn:
        for kp_id, point in old.items():
            if kp_id not in points:
                for code in point.code_set:
                    lost.setdefault(code, set()).add(kp_id)
    position: dict[str, int] | None = None
    for code in lost.keys() | gained.keys():
        gone = lost.get(code)
        ids = [kp_id for kp_id in ids_by_code.get(code, ()) if gone is None or kp_id not in gone]
        extra = gained.get(code)
        if extra:
            if ids:
                if position is None:
                    position = {kp_id: n for n, kp_id in enumerate(points)}
                ids += extra
                ids.sort(key=position.__getitem__)
            else:
                ids = extra
        if ids:
            ids_by_code[code] = tuple(ids)
        else:
            ids_by_code.pop(code, None)
    return ids_by_code


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
        withdrawn = len(common_ids) < len(old)
        unchanged = not fresh and not withdrawn
        ids_by_code: Mapping[str, tuple[str, ...]] = (
            previous.ids_by_code if unchanged else _patched_index(previous.ids_by_code, points, old, fresh, withdrawn)
        )
    else:
        ids_by_code = _full_index(points.values())
    not_compiled = bundle.get("not_compiled") or []
    return CompiledKB(
        revision=str(required(bundle, "revision", "")),
        created_at=str(bundle.get("created_at") or ""),
        issuer=str(bundle.get("issuer") or ""),
        params=params,
        rules=rules,
        points=points,
        ids_by_code=ids_by_code,
        not_compiled=len(not_compiled) if isinstance(not_compiled, list) else 0,
    )
