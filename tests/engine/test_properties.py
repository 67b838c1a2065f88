"""Properties of the engine on generated requests built from the embedded KB's real codes.

For any valid request: `check` returns (never raises), every alert points at lines of the request with a
non-negative amount and a known severity, and which (rule class, rule, knowledge point, lines) are raised does not
depend on the order the HIS listed the lines in. (`tests/fuzz/test_engine_fuzz.py` runs 10,000 cheaper-built requests.)
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fundguard.agent.engine import CompiledKB, check
from fundguard.agent.engine.model import CheckRequest, Diagnosis, Encounter, OrderLine, Patient

DAY0 = date(2026, 1, 1)
MED_TYPES = ("11", "13", "14", "21", "22", "28", "41", "51", "52", "99", "")
LEVELS = ("01", "05", "08", "11", "1", "")
INSUTYPES = ("310", "390", "410", "510", "")
DIAGNOSES = ("B20.X00", "E11.900", "I63.900", "J18.900", "C34.900", "Z21.X00", "M10.000")
AMOUNTS = st.decimals(min_value=Decimal("-5"), max_value=Decimal("500"), places=2, allow_nan=False)


def _codes(kb: CompiledKB) -> list[str]:
    codes = sorted(kb.ids_by_code)
    rng = random.Random(7)
    return [*rng.sample(codes, 400), "XA11DAW036A001010104127", "T001700010", "001102000000100"]


def _line(draw: st.DrawFn, codes: list[str], n: int, prefix: str) -> OrderLine:
    begn = draw(st.one_of(st.none(), st.integers(0, 330).map(lambda d: DAY0 + timedelta(days=d))))
    stop = None
    if begn is not None and draw(st.booleans()):
        stop = begn + timedelta(days=draw(st.integers(-2, 40)))
    cnt = draw(st.decimals(min_value=Decimal("-3"), max_value=Decimal("60"), places=1, allow_nan=False))
    pric = draw(AMOUNTS)
    return OrderLine(
        rx_id=f"{prefix}{n}",
        hilist_code=draw(st.sampled_from(codes)),
        cnt=cnt,
        pric=pric,
        sumamt=cnt * pric,
        hilist_type=draw(st.sampled_from(("101", "102", "201", ""))),
        rxno=draw(st.sampled_from(("R1", "R2", ""))),
        hilist_pric=draw(st.one_of(st.none(), AMOUNTS)),
        begn_date=begn,
        stop_date=stop,
        current=draw(st.booleans()) or n == 0,
        long_drord=draw(st.booleans()),
    )


@st.composite
def requests(draw: st.DrawFn, codes: list[str]) -> tuple[CheckRequest, date]:
    """A valid request: real codes, any demographics, dates, amounts, flags and an optional history."""

    def encounter(mdtrt_id: str, prefix: str) -> Encounter:
        adm = draw(st.one_of(st.none(), st.integers(0, 330).map(lambda d: DAY0 + timedelta(days=d))))
        return Encounter(
            mdtrt_id=mdtrt_id,
            med_type=draw(st.sampled_from(MED_TYPES)),
            insutype=draw(st.sampled_from(INSUTYPES)),
            medins_lv=draw(st.sampled_from(LEVELS)),
            adm_date=adm,
            dscg_date=draw(st.one_of(st.none(), st.just(adm + timedelta(days=5)) if adm else st.none())),
            internet_flag=draw(st.booleans()),
            diagnoses=tuple(Diagnosis(c) for c in draw(st.lists(st.sampled_from(DIAGNOSES), max_size=3))),
            orders=tuple(_line(draw, codes, n, prefix) for n in range(draw(st.integers(1, 12)))),
        )

    patient = Patient(
        patn_id="P-PROP",
        gend=draw(st.sampled_from(("0", "1", "2", "9"))),
        brdy=DAY0 - timedelta(days=draw(st.integers(0, 36500))),
    )
    history = tuple(encounter(f"H{k}", f"H{k}-") for k in range(draw(st.integers(0, 2))))
    request = CheckRequest(trig_scen="4", patient=patient, encounter=encounter("E", "L"), history=history)
    return request, DAY0 + timedelta(days=draw(st.integers(0, 330)))


def _verdicts(request: CheckRequest, kb: CompiledKB, day: date) -> set[tuple[str, str, str, frozenset[str]]]:
    return {(a.rule_class, a.rule_id, a.kp_id, frozenset(a.rx_ids)) for a in check(request, kb, day, "P").alerts}


def test_generated_requests(default_kb: CompiledKB) -> None:
    """Any valid request: no exception, alerts on the request's lines with amounts >= 0, the same (rule, knowledge
    point, lines) whatever the order of the lines."""
    codes = _codes(default_kb)

    @settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(requests(codes), st.randoms(use_true_random=False))
    def prop(generated: tuple[CheckRequest, date], rng: random.Random) -> None:
        request, day = generated
        result = check(request, default_kb, day, "P")
        rx_ids = {o.rx_id for o in request.encounter.orders}
        for alert in result.alerts:
            assert set(alert.rx_ids) <= rx_ids
            assert alert.vola_amt >= 0, (alert.rule_class, alert.lines)
            assert alert.sev_deg in {"1", "2", "3"}
        shuffled = list(request.encounter.orders)
        rng.shuffle(shuffled)
        encounter = request.encounter
        reordered = CheckRequest(
            trig_scen=request.trig_scen,
            patient=request.patient,
            encounter=Encounter(
                encounter.mdtrt_id, encounter.med_type, encounter.med_mdtrt_type, encounter.insutype,
                encounter.medins_lv, encounter.medins_id, encounter.medins_type, encounter.out_setl_flag,
                encounter.adm_date, encounter.dscg_date, encounter.dr_codg, encounter.matn_stas,
                encounter.dscg_main_dise_codg, encounter.internet_flag, encounter.diagnoses, tuple(shuffled),
                encounter.operations,
            ),
            history=request.history,
        )
        assert _verdicts(request, default_kb, day) == _verdicts(reordered, default_kb, day)

    prop()
