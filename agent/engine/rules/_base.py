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
from typing import Any

from ..index import CompiledKB, CompiledPoint, KbParameters
from ..model import CheckRequest, Encounter, OrderLine, WorkflowImpact
from ..texts import render, resolve_locale

__all__ = [
    "MAX_SPAN_DAYS",
    "Context",
    "Family",
    "Finding",
    "Hit",
    "Use",
    "age_in",
    "earlier_span",
    "earlier_uses",
    "line_amount",
    "once_per_point",
    "unit_price",
]

Hit = tuple[OrderLine, CompiledPoint]
# (first date, last date, line, current) of one use of a code: what the course and interval families compare
Use = tuple[date, date, OrderLine, bool]

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


def earlier_span(enc: Encounter, line: OrderLine) -> tuple[date, date] | None:
    """First and last date (inclusive) a line of an earlier encounter covers: undated, its encounter's admission,
    else discharge date (None with neither); a long-standing order without a stop date runs to that discharge."""
    first = line.begn_date or enc.adm_date or enc.dscg_date
    if first is None:
        return None
    stop = line.stop_date if line.stop_date is not None or not line.long_drord else enc.dscg_date
    return _span(first, stop)


def earlier_uses(encounters: Iterable[Encounter]) -> dict[str, list[Use]]:
    """The uses (dated lines with cnt > 0) of earlier encounters by national code, in encounter order: built once
    per history snapshot, so a check reads spans instead of computing them."""
    out: dict[str, list[Use]] = {}
    for enc in encounters:
        for line in enc.orders:
            span = earlier_span(enc, line) if line.cnt > 0 else None
            if span is not None:
                out.setdefault(line.hilist_code, []).append((span[0], span[1], line, False))
    return out


def age_in(birth: date, on: date, unit: str) -> int:
    """Completed years, months or days of age on `on`."""
    if unit == "day":
        return (on - birth).days
    months = (on.year - birth.year) * 12 + (on.month - birth.month) - (1 if on.day < birth.day else 0)
    return months if unit == "month" else months // 12


class Context:
    """Everything families need about one request: cheap facts computed up front, indexes on first use.

    The lazily built indexes are plain cached properties over `_`-prefixed attributes (no `__dict__` tricks), so
    the class also compiles with mypyc.
    """

    def __init__(
        self,
        request: CheckRequest,
        kb: CompiledKB,
        service_date: date,
        history_uses: Mapping[str, list[Use]] | None = None,
    ) -> None:
        self.request = request
        self.kb = kb
        self.params = params = kb.params
        self.service_date = service_date
        self.patient = request.patient
        self.encounter = enc = request.encounter
        self.locale = resolve_locale(request.locale)
        orders = enc.orders
        #: lines under check now (curr_drord_flag 1); `earlier_lines` are those given as context (flag 0)
        self.current_lines: tuple[OrderLine, ...] = tuple([o for o in orders if o.current])
        #: inpatient / outpatient / emergency / pharmacy from med_type (or med_mdtrt_type); None if unknown
        self.visit_class: str | None = params.visit_class_by_med_type.get(enc.med_type) or (
            params.visit_class_by_med_mdtrt_type.get(enc.med_mdtrt_type)
        )
        #: institution level rank (3 三级 … 0 未定级) from medins_lv; None when not mapped
        self.level_rank: int | None = params.hosp_lv_rank.get(enc.medins_lv)
        #: an internet-hospital (互联网诊疗) encounter
        self.is_internet: bool = enc.internet_flag or enc.med_type in params.internet_med_types
        self._encounter_by_code: dict[str, list[OrderLine]] | None = None
        #: request.history's uses by national code, when the caller has them precompiled (the history snapshot)
        self._history_uses: Mapping[str, list[Use]] | None = history_uses
        self._diagnosis_codes: tuple[str, ...] | None = None

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

    def point_history(self, point: CompiledPoint) -> list[Use]:
        """Uses of `point`'s codes in earlier encounters (request.history), grouped by code (`earlier_uses`)."""
        if not self.request.history:
            return []
        by_code = self.history_uses
        if len(point.codes) == 1:
            return list(by_code.get(point.codes[0], ()))
        return [use for code in self._point_codes(point, by_code) for use in by_code[code]]

    @property
    def encounter_by_code(self) -> dict[str, list[OrderLine]]:
        """All lines of this encounter (current and earlier) by national code."""
        out = self._encounter_by_code
        if out is None:
            out = self._encounter_by_code = {}
            for o in self.encounter.orders:
                out.setdefault(o.hilist_code, []).append(o)
        return out

    @property
    def history_uses(self) -> Mapping[str, list[Use]]:
        """Uses of earlier encounters' lines (request.history) by national code."""
        out = self._history_uses
        if out is None:
            out = self._history_uses = earlier_uses(self.request.history)
        return out

    @property
    def earlier_lines(self) -> tuple[OrderLine, ...]:
        """Lines of this encounter given as context (curr_drord_flag 0): already accepted."""
        return tuple([o for o in self.encounter.orders if not o.current])

    @property
    def diagnosis_codes(self) -> tuple[str, ...]:
        """Diagnosis codes of this encounter (incl. the main discharge diagnosis), upper-cased."""
        out = self._diagnosis_codes
        if out is None:
            codes = [d.dise_codg.upper() for d in self.encounter.diagnoses if d.dise_codg]
            if self.encounter.dscg_main_dise_codg:
                codes.append(self.encounter.dscg_main_dise_codg.upper())
            out = self._diagnosis_codes = tuple(dict.fromkeys(codes))
        return out

    def age(self, unit: str, on: date | None = None) -> int:
        """Patient's completed age in `unit` on `on` (default: the date of service)."""
        return age_in(self.patient.brdy, on or self.service_date, unit)
