"""The bench's two inpatient encounters (10 and 50 order lines), built from the compiled KB's own national codes.

Codes are read from `CompiledKB.ids_by_code` (so the bench needs nothing outside the repo) and chosen by rule family
and parameters, not by hard-coded knowledge-point ids, so the encounters still hit the same families after the KB is
rebuilt. Each family is exercised both ways where the data allows: a line that breaks the point (an alert) and a
line the point covers but allows (the engine does the work and stays silent). Lines whose codes the KB does not
know at all use real national codes quoted in ../shared/reference/nhsa-interface.md and the engine case files.
Requests are proto3-JSON-shaped mappings (the shape of tests/engine/rules/cases/*.json): `parse_request` turns them
into domain objects for the engine bench, `json_format.ParseDict` into a `CheckRequest` for the gRPC bench.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from fundguard.agent.engine import CompiledKB
from fundguard.agent.engine.index import CompiledPoint

from .kb_codes import CodePicker, Pick

__all__ = ["SERVICE_DATE", "BenchEncounter", "build_encounters", "build_long_encounter"]

SERVICE_DATE = date(2026, 7, 15)  # every point of the default KB that is still in force applies on this date
ADMITTED = date(2026, 7, 1)
IUD_CODE = "XG02BAZ061Z007010279543"  # 左炔诺孕酮宫内节育系统: female-only (the reference request of the brief)

# Real national codes no knowledge point lists (engine looks them up and finds nothing).
VITAMIN_B1 = ("XA11DAW036A001010104127", "维生素B1片")
VITAMIN_C = ("XA11GAW043A001010201815", "维生素C片")
CONSULTATION = ("001102000000100", "诊查费")
OTHER_HERB = ("T001700010", "其他饮片")

Line = dict[str, str]


@dataclass
class BenchEncounter:
    """A check request plus what each line is meant to exercise (for the printed legend)."""

    name: str
    request: dict[str, Any]
    purpose: dict[str, str] = field(default_factory=dict)  # rx_id -> "family: expectation"

    @property
    def lines(self) -> int:
        """How many order lines the encounter under check holds (current and earlier)."""
        return len(self.request["encounter"]["orders"])


def _day(d: date) -> str:
    return d.isoformat()


def _dt(d: date, hour: int = 9) -> str:
    return f"{d.isoformat()} {hour:02d}:00:00"


def _kind(code: str) -> tuple[str, str]:
    """(hilist_type, chrg_type) of a national code: western/patent drug, herbal slice or service item."""
    if code.startswith("X"):
        return "101", "09"
    if code.startswith("Z"):
        return "101", "11"
    if code.startswith("T"):
        return "102", "10"
    return "201", "05"


class _Builder:
    """Accumulates the order lines of an encounter and what each is for."""

    def __init__(self, prefix: str) -> None:
        self.orders: list[Line] = []
        self.purpose: dict[str, str] = {}
        self._prefix = prefix

    def add(
        self,
        code: str,
        name: str,
        purpose: str,
        *,
        cnt: str = "1",
        pric: str = "12.50",
        day: date = SERVICE_DATE,
        stop: date | None = None,
        current: bool = True,
        **extra: str,
    ) -> str:
        """Append one line; returns its rx_id."""
        rx_id = f"{self._prefix}{len(self.orders) + 1:02d}"
        hilist_type, chrg_type = _kind(code)
        line: Line = {
            "rx_id": rx_id,
            "rxno": extra.pop("rxno", f"RX-{day.strftime('%m%d')}"),
            "hilist_code": code,
            "hilist_name": name,
            "hilist_type": hilist_type,
            "chrg_type": chrg_type,
            "hilist_lv": "01",
            "cnt": cnt,
            "pric": pric,
            "drord_begn_date": _dt(day),
            "drord_dr_codg": "D110105012345",
            "drord_dr_profttl": "233",
            "drord_dept_codg": "A03.01",
            "long_drord_flag": "1" if stop else "0",
            "curr_drord_flag": "1" if current else "0",
            **extra,
        }
        if stop:
            line["drord_stop_date"] = _dt(stop, 18)
        self.orders.append(line)
        self.purpose[rx_id] = purpose
        return rx_id


def _name(point: CompiledPoint, side: int = 0) -> str:
    parts = point.item_name.split("×")
    return parts[min(side, len(parts) - 1)]


def _patient() -> dict[str, str]:
    return {"patn_id": "P-4401060099", "patn_name": "王建国", "gend": "1", "brdy": "1967-03-12", "poolarea": "440100"}


def _encounter(mdtrt_id: str, orders: list[Line], *, admitted: date) -> dict[str, Any]:
    return {
        "mdtrt_id": mdtrt_id,
        "medins_id": "H44010600123",
        "medins_name": "广州市某区人民医院",
        "medins_admdvs": "440106",
        "medins_type": "A1",
        "medins_lv": "05",  # 二级甲等 (rank 2)
        "med_mdtrt_type": "3",
        "med_type": "21",
        "insutype": "310",
        "out_setl_flag": "0",
        "adm_date": _dt(admitted, 10),
        "dscg_main_dise_codg": "I63.900",
        "dscg_main_dise_name": "脑梗死",
        "dr_codg": "D110105012345",
        "adm_dept_codg": "A03.01",
        "adm_dept_name": "神经内科",
        "diagnoses": [
            {
                "dise_id": "1",
                "inout_dise_type": "1",
                "maindise_flag": "1",
                "dias_srt_no": "1",
                "dise_codg": "I63.900",
                "dise_name": "脑梗死",
                "dise_date": _dt(admitted, 10),
            },
            {
                "dise_id": "2",
                "inout_dise_type": "1",
                "maindise_flag": "0",
                "dias_srt_no": "2",
                "dise_codg": "I10.x00",
                "dise_name": "高血压",
                "dise_date": _dt(admitted, 10),
            },
            {
                "dise_id": "3",
                "inout_dise_type": "1",
                "maindise_flag": "0",
                "dias_srt_no": "3",
                "dise_codg": "E11.900",
                "dise_name": "2型糖尿病",
                "dise_date": _dt(admitted, 10),
            },
        ],
        "orders": orders,
    }


def _history(interval: Pick | None) -> dict[str, Any]:
    """An outpatient visit a week before admission: the interval item once, plus a vitamin."""
    visit = ADMITTED - timedelta(days=7)
    builder = _Builder("H")
    if interval is not None:
        builder.add(interval[1], interval[0].item_name, "", day=visit, pric="35")
    builder.add(*VITAMIN_C, "", cnt="2", pric="3.20", day=visit)
    enc = _encounter("MD-202606240017", builder.orders, admitted=visit)
    enc.update(med_type="11", med_mdtrt_type="1", dscg_date=_dt(visit, 11))
    return enc


def _request(task_id: str, mdtrt_id: str, builder: _Builder, history: dict[str, Any]) -> dict[str, Any]:
    return {
        "trig_scen": "5",
        "task_id": task_id,
        "syscode": "HIS-BENCH",
        "service_date": _day(SERVICE_DATE),
        "patient": _patient(),
        "encounter": _encounter(mdtrt_id, builder.orders, admitted=ADMITTED),
        "history": [history],
    }


def _core(p: CodePicker, b: _Builder) -> Pick | None:
    """The ten lines both encounters share; returns the interval pick (its earlier use goes into history)."""
    day = SERVICE_DATE
    sex: Pick | None
    if p.alone(IUD_CODE, "sex"):
        p.take(IUD_CODE)
        sex = next(pt for pt in p.points("sex", lambda pt: IUD_CODE in pt.codes)), IUD_CODE
    else:
        sex = p.one("sex", lambda pt: pt.params.sex == "2", prefix="X")
    if sex:
        b.add(sex[1], sex[0].item_name, "sex: female-only drug, male patient -> alert", pric="1153")
    child = p.one("age", lambda pt: pt.params.below is not None and pt.params.below.unit == "year", prefix="X")
    if child:
        b.add(child[1], child[0].item_name, "age: child-only drug, 59-year-old -> alert", cnt="2", pric="18.60")
    pair = p.pair()
    if pair:
        point, a, c = pair
        b.add(a, _name(point, 0), "pair: item A (context of the pair)", pric="30")
        b.add(c, _name(point, 1), "pair: item B billed with A -> alert", pric="20")
    freq = p.one("frequency", lambda pt: pt.params.unit == "day")
    if freq:
        b.add(
            freq[1],
            freq[0].item_name,
            f"frequency: 3 on one day, cap {freq[0].params.max_per_day}/day -> alert",
            cnt="3",
            pric="25",
        )
    ind = p.one("indication", prefix="X") or p.one("indication")
    if ind:
        b.add(
            ind[1],
            ind[0].item_name,
            "indication: restricted drug -> confirm / mismatch alert",
            cnt="6",
            pric="42.80",
            day=day - timedelta(days=2),
            stop=day,
        )
    interval = p.one("interval")
    if interval:
        b.add(
            interval[1],
            interval[0].item_name,
            f"interval: used 7 days before admission, min {interval[0].params.min_interval_days} days -> alert",
            pric="35",
            day=ADMITTED,
        )
    level = p.one("level")
    if level:
        b.add(
            level[1],
            level[0].item_name,
            "level: min rank 2 at a 二级 hospital -> complies",
            cnt="3",
            pric="56",
            day=day - timedelta(days=1),
        )
    b.add(
        *VITAMIN_B1, "no KB point: earlier line (curr_drord_flag 0)", cnt="3", pric="0.12", day=ADMITTED, current=False
    )
    b.add(*VITAMIN_C, "no KB point", cnt="3", pric="0.05")
    return interval


def _extra(p: CodePicker, b: _Builder, total: int) -> None:  # noqa: PLR0915 -- one line per scenario reads best
    """Forty more lines of a fortnight's stay: every other family, compliant twins, daily routine lines."""
    day = SERVICE_DATE
    male = p.one("sex", lambda pt: pt.params.sex == "1", prefix="X")
    if male:
        b.add(male[1], male[0].item_name, "sex: male-only drug, male patient -> complies", pric="88")
    female_service = p.one("sex", lambda pt: pt.params.sex == "2", prefix="0")
    if female_service:
        b.add(female_service[1], female_service[0].item_name, "sex: female-only service -> alert", pric="80")
    newborn = p.one("age", lambda pt: pt.params.below is not None and pt.params.below.unit == "day")
    if newborn:
        b.add(newborn[1], newborn[0].item_name, "age: newborn-only item -> alert", pric="15")
    pair = p.pair()
    if pair:
        point, a, c = pair
        b.add(a, _name(point, 0), "pair: item A (earlier line)", pric="30", day=day - timedelta(days=3), current=False)
        b.add(c, _name(point, 1), "pair: item B in the same stay -> alert", pric="20")
    lone = p.pair()
    if lone:
        b.add(lone[1], _name(lone[0], 0), "pair: item A without B -> complies", pric="30")
    hourly = p.one("frequency", lambda pt: pt.params.unit == "hour")
    if hourly:
        b.add(
            hourly[1],
            hourly[0].item_name,
            "frequency: 72 h over 3 days, cap 24/day -> complies",
            cnt="72",
            pric="4",
            day=day - timedelta(days=3),
            stop=day - timedelta(days=1),
        )
    daily = p.one("frequency", lambda pt: pt.params.unit == "day")
    if daily:
        b.add(daily[1], daily[0].item_name, "frequency: once a day -> complies", pric="25")
    course = p.one("course", lambda pt: pt.params.scope == "course" and pt.params.mode == "days", prefix="X")
    if course:
        lim = course[0].params.max_days
        b.add(
            course[1],
            course[0].item_name,
            "course: earlier 10 days (curr 0)",
            cnt="10",
            pric="60",
            day=ADMITTED,
            stop=ADMITTED + timedelta(days=9),
            current=False,
        )
        b.add(
            course[1],
            course[0].item_name,
            f"course: 5 more days, limit {lim} -> alert",
            cnt="5",
            pric="60",
            day=day - timedelta(days=4),
            stop=day,
        )
    short = p.one("course", lambda pt: pt.params.mode == "days", prefix="X")
    if short:
        b.add(
            short[1],
            short[0].item_name,
            "course: 3 days -> complies",
            cnt="3",
            pric="31",
            day=day - timedelta(days=2),
            stop=day,
        )
    visit = p.one("visit", lambda pt: "inpatient" in pt.params.allowed)
    if visit:
        b.add(visit[1], visit[0].item_name, "visit: inpatient-only drug, inpatient -> complies", pric="210")
    insurance = p.one("insurance", lambda pt: pt.params.scheme == "work_injury")
    if insurance:
        b.add(insurance[1], insurance[0].item_name, "insurance: work-injury only, insutype 310 -> alert", pric="46")
    level = p.one("level")
    if level:
        b.add(level[1], level[0].item_name, "level: min rank 2 -> complies", pric="33")
    internet = p.one("internet")
    if internet:
        b.add(internet[1], internet[0].item_name, "internet: not an internet visit -> complies", pric="75")
    ind = p.one("indication", prefix="X") or p.one("indication")
    if ind:
        b.add(ind[1], ind[0].item_name, "indication: second restricted drug -> alert", pric="128")
    _second_line(p, b)
    _herbs(p, b)
    surgery = p.surgery_group()
    if surgery:
        p1, c1, p2, c2 = surgery
        op_day = ADMITTED + timedelta(days=2)
        b.add(c1, p1.item_name, "surgery: main operation", pric="3200", hilist_pric="3200", day=op_day, current=False)
        b.add(
            c2,
            p2.item_name,
            f"surgery: 2nd operation of {p1.params.group} at full price -> alert",
            pric="1800",
            hilist_pric="1800",
            day=op_day,
        )
    # routine lines no knowledge point lists, three a day back from the service date (within the stay), up to `total`
    n = 0
    while len(b.orders) < total:
        code, name = (VITAMIN_B1, VITAMIN_C, CONSULTATION)[n % 3]
        back = (n // 3) % (SERVICE_DATE - ADMITTED).days
        b.add(
            code,
            name,
            "no KB point: routine daily line",
            cnt="3",
            pric="0.12",
            day=day - timedelta(days=back),
            current=back <= 2,
        )
        n += 1


def _second_line(p: CodePicker, b: _Builder) -> None:
    """Second-line drugs: one with first-line evidence in an earlier line (complies), one without (prompt)."""
    evidence: frozenset[str] = frozenset()
    for point in p.points("second_line", lambda pt: bool(pt.params.evidence_atc)):
        code = next((c for c in point.codes if c.startswith("X") and p.free(c) and p.alone(c, "second_line")), None)
        if code is None:
            continue
        first_line = p.sibling(point.params.evidence_atc, code[6:10])
        if first_line is None or not p.free(first_line):
            continue
        p.take(code)
        p.take(first_line)
        evidence = point.params.evidence_atc
        b.add(
            first_line,
            "",
            "second_line: first-line drug given earlier (curr 0)",
            pric="22",
            day=ADMITTED + timedelta(days=1),
            current=False,
        )
        b.add(code, point.item_name, "second_line: with first-line evidence -> complies", pric="480")
        break
    bare = p.one("second_line", lambda pt: not pt.params.evidence_atc & evidence, prefix="X")
    if bare:
        b.add(bare[1], bare[0].item_name, "second_line: no first-line evidence -> prompt", pric="360")


def _herbs(p: CodePicker, b: _Builder) -> None:
    """Herbal slices: a never-paid slice, a prescription of single-listed slices only, and a compound one."""
    never = p.one("herbal", lambda pt: pt.params.mode == "never", prefix="T")
    if never:
        b.add(never[1], never[0].item_name, "herbal: never paid -> alert", cnt="10", pric="2.6", rxno="CF-01")
    singles = [x for x in (p.one("herbal", lambda pt: pt.params.mode == "single", prefix="T") for _ in range(3)) if x]
    if len(singles) >= 2:
        for point, code in singles[:2]:
            b.add(
                code,
                point.item_name,
                "herbal: prescription of single-listed slices only -> alert",
                cnt="15",
                pric="0.8",
                rxno="CF-02",
            )
    if len(singles) == 3:
        point, code = singles[2]
        b.add(
            code,
            point.item_name,
            "herbal: single-listed slice in a compound prescription -> complies",
            cnt="15",
            pric="0.8",
            rxno="CF-03",
        )
        b.add(*OTHER_HERB, "no KB point: herbal slice of the compound prescription", cnt="15", pric="0.4", rxno="CF-03")


def build_encounters(kb: CompiledKB) -> tuple[BenchEncounter, BenchEncounter]:
    """The 10-line and the 50-line encounter on `kb` (fewer lines only when the KB lacks a family)."""
    picker = CodePicker(kb, SERVICE_DATE)
    small = _Builder("R")
    interval = _core(picker, small)
    ten = BenchEncounter(
        "10 lines", _request("T-BENCH-10", "MD-202607010042", small, _history(interval)), small.purpose
    )

    picker = CodePicker(kb, SERVICE_DATE)
    large = _Builder("R")
    interval = _core(picker, large)
    _extra(picker, large, 50)
    fifty = BenchEncounter(
        "50 lines", _request("T-BENCH-50", "MD-202607010042", large, _history(interval)), large.purpose
    )
    return ten, fifty


def build_long_encounter(kb: CompiledKB, total: int = 200) -> BenchEncounter:
    """The 50-line encounter's families plus routine lines up to `total` (a fortnight's stay in full: the last
    three days' lines current, the earlier ones context)."""
    picker = CodePicker(kb, SERVICE_DATE)
    builder = _Builder("R")
    interval = _core(picker, builder)
    _extra(picker, builder, total)
    request = _request(f"T-BENCH-{total}", "MD-202607010042", builder, _history(interval))
    return BenchEncounter(f"{total} lines", request, builder.purpose)
