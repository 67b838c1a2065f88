"""What a rule family is, and the per-check context every family reads.

A family module exposes `FAMILY = Family(name, compile_params, check)`:
- `compile_params(raw, kb_params, where)` turns a point's bundle params into a typed object at KB load
  (raise `KbInvalid(msg, where)` on bad data);
- `check(ctx, hits)` gets every (current line, point in force) pair of that family and returns findings.
The engine turns findings into alerts (jr_id, rule meta, amounts). Nothing here does I/O or reads a clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Generic, TypeVar, overload

from ..index import CompiledKB, CompiledPoint, KbParameters
from ..model import CheckRequest, Encounter, OrderLine, WorkflowImpact
from ..texts import render, resolve_locale

__all__ = [
    "MAX_SPAN_DAYS",
    "Context",
    "Family",
    "Finding",
    "Hit",
    "age_in",
    "line_amount",
    "once_per_point",
    "unit_price",
]

Hit = tuple[OrderLine, CompiledPoint]

# a line whose stop date lies further out is taken to cover this many days (bounds per-day work on bad data)
MAX_SPAN_DAYS = 1000


@dataclass(slots=True)
class Finding:
    """A family's verdict on one point: violating lines with their amounts, plus lines merely involved."""

    point: CompiledPoint
    violating: tuple[tuple[OrderLine, Decimal], ...]
    text: str
    related: tuple[OrderLine, ...] = ()
    sev_deg: str | None = None
    workflow_impact: WorkflowImpact | None = None


CompileParams = Callable[[Mapping[str, Any], KbParameters, str], Any]
CheckFn = Callable[["Context", Sequence[Hit]], list[Finding]]


@dataclass(frozen=True, slots=True)
class Family:
    """A rule family: one module, one name, compile + check."""

    name: str
    compile_params: CompileParams
    check: CheckFn


def once_per_point(findings: Callable[[Context, CompiledPoint], list[Finding]]) -> CheckFn:
    """A family `check` that judges each distinct point once, for families that look across all of a point's
    lines (pair, frequency, course, interval): the engine hands one hit per (line, point)."""

    def check(ctx: Context, hits: Sequence[Hit]) -> list[Finding]:
        out: list[Finding] = []
        seen: set[str] = set()
        for _, point in hits:
            if point.kp_id not in seen:
                seen.add(point.kp_id)
                out.extend(findings(ctx, point))
        return out

    check.__doc__ = findings.__doc__
    return check


def line_amount(line: OrderLine) -> Decimal:
    """The line's total: sumamt when given, else cnt × pric."""
    return line.sumamt if line.sumamt else line.cnt * line.pric


def unit_price(line: OrderLine) -> Decimal:
    """The line's unit price: pric when given, else sumamt / cnt (0 when neither can tell)."""
    if line.pric:
        return line.pric
    return line.sumamt / line.cnt if line.sumamt and line.cnt else Decimal(0)


def _span(first: date, stop: date | None) -> tuple[date, date]:
    if stop is None or stop <= first:
        return first, first
    return first, min(stop, first + timedelta(days=MAX_SPAN_DAYS - 1))


def age_in(birth: date, on: date, unit: str) -> int:
    """Completed years, months or days of age on `on`."""
    if unit == "day":
        return (on - birth).days
    months = (on.year - birth.year) * 12 + (on.month - birth.month) - (1 if on.day < birth.day else 0)
    return months if unit == "month" else months // 12


T = TypeVar("T")


class lazy(Generic[T]):
    """`functools.cached_property` without the lock Python 3.11 takes on every first access (a check runs on one
    thread; the lock cost ~1.5 µs per property per check)."""

    def __init__(self, fn: Callable[[Any], T]) -> None:
        self.fn = fn
        self.name = fn.__name__
        self.__doc__ = fn.__doc__

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> lazy[T]: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...
    def __get__(self, obj: object | None, owner: type | None = None) -> T | lazy[T]:
        if obj is None:
            return self
        value = self.fn(obj)
        obj.__dict__[self.name] = value
        return value


class Context:
    """Everything families need about one request, computed lazily and at most once."""

    def __init__(self, request: CheckRequest, kb: CompiledKB, service_date: date) -> None:
        self.request = request
        self.kb = kb
        self.params = kb.params
        self.service_date = service_date
        self.patient = request.patient
        self.encounter = request.encounter
        self.locale = resolve_locale(request.locale)

    def say(self, key: str, **fields: object) -> str:
        """Render the alert text `key` in the request's locale."""
        return render(key, self.locale, fields)

    def line_date(self, line: OrderLine) -> date:
        """The date a line is used on: its order start date, else the date of service."""
        return line.begn_date or self.service_date

    def line_span(self, line: OrderLine) -> tuple[date, date]:
        """First and last date (inclusive) a line of this encounter covers: line_date..stop_date; a long-standing
        order (长期医嘱) without a stop date runs to the discharge date, else to the date of service; else one day."""
        stop = line.stop_date
        if stop is None and line.long_drord:
            stop = self.encounter.dscg_date or self.service_date
        return _span(self.line_date(line), stop)

    def history_span(self, enc: Encounter, line: OrderLine) -> tuple[date, date] | None:
        """Like line_span for a line of an earlier encounter (undated: its admission, else discharge date; a
        long-standing order without a stop date runs to that encounter's discharge)."""
        first = line.begn_date or enc.adm_date or enc.dscg_date
        stop = line.stop_date if line.stop_date is not None or not line.long_drord else enc.dscg_date
        return None if first is None else _span(first, stop)

    @staticmethod
    def _point_codes(point: CompiledPoint, codes: Iterable[str]) -> list[str]:
        """Those of `codes` that `point` is indexed under."""
        mine = point.code_set
        return [c for c in codes if c in mine]

    def point_lines(self, point: CompiledPoint) -> list[OrderLine]:
        """This encounter's lines (current and earlier) billed under one of `point`'s codes, in order."""
        if len(point.codes) == 1:
            return list(self.encounter_by_code.get(point.codes[0], ()))
        matched = self._point_codes(point, self.encounter_by_code)
        if len(matched) == 1:
            return list(self.encounter_by_code[matched[0]])
        return [o for o in self.encounter.orders if o.hilist_code in matched] if matched else []

    def point_history(self, point: CompiledPoint) -> list[tuple[Encounter, OrderLine]]:
        """Lines of earlier encounters (request.history) billed under one of `point`'s codes, grouped by code."""
        if not self.request.history:
            return []
        by_code = self.history_by_code
        return [pair for code in self._point_codes(point, by_code) for pair in by_code[code]]

    @lazy
    def current_lines(self) -> tuple[OrderLine, ...]:
        """Lines under check now (curr_drord_flag 1)."""
        return tuple(o for o in self.encounter.orders if o.current)

    @lazy
    def earlier_lines(self) -> tuple[OrderLine, ...]:
        """Lines of this encounter given as context (curr_drord_flag 0)."""
        return tuple(o for o in self.encounter.orders if not o.current)

    @lazy
    def encounter_by_code(self) -> dict[str, list[OrderLine]]:
        """All lines of this encounter (current and earlier) by national code."""
        out: dict[str, list[OrderLine]] = {}
        for o in self.encounter.orders:
            out.setdefault(o.hilist_code, []).append(o)
        return out

    @lazy
    def history_by_code(self) -> dict[str, list[tuple[Encounter, OrderLine]]]:
        """Lines of earlier encounters (request.history) by national code."""
        out: dict[str, list[tuple[Encounter, OrderLine]]] = {}
        for enc in self.request.history:
            for o in enc.orders:
                out.setdefault(o.hilist_code, []).append((enc, o))
        return out

    @lazy
    def diagnosis_codes(self) -> tuple[str, ...]:
        """Diagnosis codes of this encounter (incl. the main discharge diagnosis), upper-cased."""
        codes = [d.dise_codg.upper() for d in self.encounter.diagnoses if d.dise_codg]
        if self.encounter.dscg_main_dise_codg:
            codes.append(self.encounter.dscg_main_dise_codg.upper())
        return tuple(dict.fromkeys(codes))

    @lazy
    def visit_class(self) -> str | None:
        """inpatient / outpatient / emergency / pharmacy from med_type (or med_mdtrt_type); None if unknown."""
        enc = self.encounter
        return self.params.visit_class_by_med_type.get(enc.med_type) or (
            self.params.visit_class_by_med_mdtrt_type.get(enc.med_mdtrt_type)
        )

    @lazy
    def level_rank(self) -> int | None:
        """Institution level rank (3 三级 … 0 未定级) from medins_lv; None when not mapped."""
        return self.params.hosp_lv_rank.get(self.encounter.medins_lv)

    @lazy
    def is_internet(self) -> bool:
        """True for an internet-hospital (互联网诊疗) encounter."""
        enc = self.encounter
        return enc.internet_flag or enc.med_type in self.params.internet_med_types

    def age(self, unit: str, on: date | None = None) -> int:
        """Patient's completed age in `unit` on `on` (default: the date of service)."""
        return age_in(self.patient.brdy, on or self.service_date, unit)
