"""What the cross-visit (history) checks read: a patient's earlier encounters at this hospital, precompiled.

The engine stays pure: it never opens the history store. The edge (`agent.history`) keeps, per patient, an immutable
`PatientHistory` built once by `compile_history` from the settled encounters the store holds (plus those a request
carried): encounters sorted by date, the dated uses of their lines by national code (what the course and
interval families read as `request.history`), inpatient stays by discharge date, visit dates, and drug supplies
by drug. Before a check the edge hands the engine a `HistoryFacts`: that snapshot, the thresholds (`HistoryPolicy`)
and the institution's own state (`InstitutionState`: agreement start → 政策辅导期, level, type). The `history` rules
(`agent.engine.history_rules`) judge the request against them; every lookup there is a bisect or a dict probe.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from .model import Encounter
from .rules._base import Use, earlier_span

__all__ = [
    "DRUG_PREFIXES",
    "HistoryFacts",
    "HistoryPolicy",
    "InstitutionState",
    "PatientHistory",
    "Stay",
    "Supply",
    "add_months",
    "compile_history",
    "drug_key",
    "encounter_date",
    "main_diagnosis",
]

DRUG_PREFIXES = ("X", "Z")  # western drugs / 中成药: lines that are a supply of a drug
GENERIC_END = 10  # a 23-char western drug code: kind letter, ATC-like class, generic name (code[:10]), form, maker


@dataclass(frozen=True, slots=True)
class HistoryPolicy:
    """Thresholds of the cross-visit rules (`[history]` in the config; the defaults are the common local values).

    - 分解住院: an inpatient admission within `split_days` of the previous discharge with the same main diagnosis
      (the same ICD-10 category: the first `diagnosis_head` characters, "I63" of "I63.900") is flagged, unless either
      main diagnosis starts with one of `split_exempt_diagnoses` (planned cycles: Z51.0 放疗, Z51.1 化疗, Z49 透析);
    - 非计划再入院: any other inpatient admission within `readmission_days` of a discharge is reported (information);
    - 重复开药: a drug line whose supply overlaps that of the same drug from an earlier visit by more than
      `duplicate_overlap_days` days;
    - 频繁就医: more than `frequent_visits` visits (this one included) within `frequent_window_days` days.
    """

    split_days: int = 15
    readmission_days: int = 31
    diagnosis_head: int = 3
    split_exempt_diagnoses: tuple[str, ...] = ("Z51.0", "Z51.1", "Z49")
    duplicate_overlap_days: int = 7
    frequent_visits: int = 10
    frequent_window_days: int = 30


@dataclass(frozen=True, slots=True)
class InstitutionState:
    """The hospital's own state (`[institution]` in the config).

    `agreement_start`: the date its 医保服务协议 took effect; the first `guidance_months` months are the 政策辅导期,
    in which encounters whose `out_setl_flag` is one of `nonlocal_out_setl_flags` (3 省内异地, 4 跨省异地) cannot be
    settled directly. `level` (HOSP_LV) and `type` (medins_type) fill a request's encounter that leaves them empty."""

    agreement_start: date | None = None
    guidance_months: int = 6
    nonlocal_out_setl_flags: frozenset[str] = frozenset({"3", "4"})
    level: str = ""
    type: str = ""

    @property
    def guidance_until(self) -> date | None:
        """The first day after the 政策辅导期 (None: no agreement start configured)."""
        start = self.agreement_start
        return None if start is None else add_months(start, self.guidance_months)


@dataclass(frozen=True, slots=True)
class Stay:
    """One earlier stay with an admission or discharge date: what the readmission rules compare against."""

    mdtrt_id: str
    med_type: str
    med_mdtrt_type: str
    adm_date: date
    dscg_date: date
    main_dise_codg: str


@dataclass(frozen=True, slots=True)
class Supply:
    """One earlier drug line: the days it covers (first..last, inclusive)."""

    first: date
    last: date
    mdtrt_id: str
    rx_id: str


@dataclass(frozen=True, slots=True)
class PatientHistory:
    """A patient's earlier encounters, compiled once: never mutated after `compile_history` built it.

    `stored_ids` are the encounters the store holds for the patient, also those older than what was compiled (the
    cache compiles only the last `lookback_days`): a request carrying one of them adds nothing to judge."""

    encounters: tuple[Encounter, ...] = ()
    mdtrt_ids: frozenset[str] = frozenset()
    stored_ids: frozenset[str] = frozenset()
    by_code: Mapping[str, list[Use]] = field(default_factory=dict)  # dated uses of the lines, as `earlier_uses`
    stays: tuple[Stay, ...] = ()  # by discharge date
    stay_ends: tuple[date, ...] = ()  # the stays' discharge dates, for bisect
    visits: tuple[date, ...] = ()  # one date per encounter, sorted
    supplies: Mapping[str, tuple[Supply, ...]] = field(default_factory=dict)  # by drug_key, sorted by last day


@dataclass(frozen=True, slots=True)
class HistoryFacts:
    """The snapshot the history rules read: the patient's history (None: none known), thresholds, institution."""

    patient: PatientHistory | None = None
    policy: HistoryPolicy = HistoryPolicy()
    institution: InstitutionState = InstitutionState()


def add_months(day: date, months: int) -> date:
    """`day` plus whole calendar months (the 31st of a shorter month becomes its last day)."""
    total = day.year * 12 + day.month - 1 + months
    year, month = divmod(total, 12)
    first_next = date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
    return date(year, month + 1, min(day.day, (first_next - timedelta(days=1)).day))


def drug_key(code: str) -> str:
    """What makes two drug lines "the same drug": a 23-char western code's kind + class + generic name (code[:10],
    any form or maker), any other code as it is."""
    return code[:GENERIC_END] if code.startswith("X") and len(code) >= GENERIC_END else code


def encounter_date(enc: Encounter) -> date | None:
    """The date an encounter happened: its admission (visit) date, else discharge date, else its first line's."""
    if enc.adm_date is not None:
        return enc.adm_date
    if enc.dscg_date is not None:
        return enc.dscg_date
    days = [o.begn_date for o in enc.orders if o.begn_date is not None]
    return min(days) if days else None


def main_diagnosis(enc: Encounter) -> str:
    """The main diagnosis: the main discharge diagnosis, else the diagnosis flagged main (discharge before
    admission), else the first diagnosis; "" when there is none."""
    if enc.dscg_main_dise_codg:
        return enc.dscg_main_dise_codg.upper()
    mains = [d for d in enc.diagnoses if d.maindise_flag and d.dise_codg]
    mains.sort(key=lambda d: d.inout_dise_type != "2")
    if mains:
        return mains[0].dise_codg.upper()
    return next((d.dise_codg.upper() for d in enc.diagnoses if d.dise_codg), "")


def compile_history(encounters: Iterable[Encounter], stored_ids: Iterable[str] = ()) -> PatientHistory:
    """Compile earlier encounters (one per mdtrt_id; a later duplicate is dropped) into a `PatientHistory`;
    `stored_ids`: further encounters the store holds but that are not to be judged (older than the lookback)."""
    seen: set[str] = set()
    dated: list[tuple[date, int, Encounter]] = []
    for n, enc in enumerate(encounters):
        if enc.mdtrt_id in seen:
            continue
        seen.add(enc.mdtrt_id)
        dated.append((encounter_date(enc) or date.min, n, enc))
    dated.sort(key=lambda x: (x[0], x[1]))
    ordered = tuple(enc for _, _, enc in dated)
    by_code: dict[str, list[Use]] = {}
    supplies: dict[str, list[Supply]] = {}
    stays: list[Stay] = []
    for enc in ordered:
        for line in enc.orders:
            span = earlier_span(enc, line) if line.cnt > 0 else None
            if span is None:
                continue
            code = line.hilist_code
            by_code.setdefault(code, []).append((span[0], span[1], line, False))  # = earlier_uses(ordered)
            if code.startswith(DRUG_PREFIXES):
                supplies.setdefault(drug_key(code), []).append(Supply(span[0], span[1], enc.mdtrt_id, line.rx_id))
        if enc.dscg_date is not None:
            adm = enc.adm_date or enc.dscg_date
            stays.append(Stay(enc.mdtrt_id, enc.med_type, enc.med_mdtrt_type, adm, enc.dscg_date, main_diagnosis(enc)))
    stays.sort(key=lambda s: s.dscg_date)
    return PatientHistory(
        encounters=ordered,
        mdtrt_ids=frozenset(seen),
        stored_ids=frozenset(seen).union(stored_ids),
        by_code=by_code,
        stays=tuple(stays),
        stay_ends=tuple(s.dscg_date for s in stays),
        visits=tuple(day for day, _, _ in dated if day != date.min),
        supplies={key: tuple(sorted(items, key=lambda s: s.last)) for key, items in supplies.items()},
    )
