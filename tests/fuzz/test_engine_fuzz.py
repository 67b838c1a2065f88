"""The engine on 10,000 generated valid requests built from the embedded KB's real codes.

Each case is a seed; the request is built from it with `random.Random` (cheap: `tests/engine/test_properties.py`
builds richer requests draw by draw, 400 of them). Properties: `check` returns a result and never raises; every
alert names lines of the request, with a known severity and an amount at risk >= 0; and the verdict — the set of
(rule, knowledge point, lines) — is the same whatever the order of the order lines (and of the diagnoses).
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fundguard.agent.engine import CompiledKB, check
from fundguard.agent.engine.model import CheckRequest, Diagnosis, Encounter, OrderLine, Patient

from . import FUZZ

DAY0 = date(2026, 1, 1)
MED_TYPES = ("11", "13", "14", "21", "22", "28", "41", "51", "52", "99", "")
LEVELS = ("01", "05", "08", "11", "1", "")
INSUTYPES = ("310", "390", "410", "510", "")
DIAGNOSES = ("B20.X00", "E11.900", "I63.900", "J18.900", "C34.900", "Z21.X00", "M10.000", "N18.500", "O80.000")
EXTRA_CODES = ("XA11DAW036A001010104127", "T001700010", "001102000000100", "XG02BAZ061Z007010279543")


@pytest.fixture(scope="module")
def codes(default_kb: CompiledKB) -> list[str]:
    """A fixed sample of the KB's own codes (the lines hit real knowledge points) and codes no point lists."""
    known = sorted(default_kb.ids_by_code)
    return [*random.Random(7).sample(known, min(600, len(known))), *EXTRA_CODES]


def _day(rng: random.Random) -> date | None:
    return None if rng.random() < 0.2 else DAY0 + timedelta(days=rng.randrange(330))


def _amount(rng: random.Random) -> Decimal:
    return Decimal(rng.randrange(-500, 50_000)) / 100


def _line(rng: random.Random, codes: list[str], n: int, prefix: str) -> OrderLine:
    begn = _day(rng)
    stop = begn + timedelta(days=rng.randrange(-2, 40)) if begn is not None and rng.random() < 0.5 else None
    cnt, pric = Decimal(rng.randrange(-30, 600)) / 10, _amount(rng)
    return OrderLine(
        rx_id=f"{prefix}{n}", hilist_code=rng.choice(codes), cnt=cnt, pric=pric, sumamt=cnt * pric,
        hilist_type=rng.choice(("101", "102", "201", "")), rxno=rng.choice(("R1", "R2", "")),
        hilist_pric=None if rng.random() < 0.5 else _amount(rng), begn_date=begn, stop_date=stop,
        current=n == 0 or rng.random() < 0.7, long_drord=rng.random() < 0.3,
        drord_dr_codg=rng.choice(("D110108000001", "ys01", "")),
    )  # fmt: skip


def _encounter(rng: random.Random, codes: list[str], mdtrt_id: str, prefix: str) -> Encounter:
    adm = _day(rng)
    return Encounter(
        mdtrt_id=mdtrt_id, med_type=rng.choice(MED_TYPES), insutype=rng.choice(INSUTYPES),
        medins_lv=rng.choice(LEVELS), adm_date=adm,
        dscg_date=adm + timedelta(days=rng.randrange(0, 30)) if adm is not None and rng.random() < 0.5 else None,
        internet_flag=rng.random() < 0.1,
        diagnoses=tuple(Diagnosis(rng.choice(DIAGNOSES), maindise_flag=k == 0) for k in range(rng.randrange(4))),
        orders=tuple(_line(rng, codes, n, prefix) for n in range(rng.randint(1, 14))),
    )  # fmt: skip


def build_request(seed: int, codes: list[str]) -> tuple[CheckRequest, date]:
    """A valid request and a date of service from `seed`."""
    rng = random.Random(seed)
    patient = Patient(patn_id="P-FUZZ", gend=rng.choice(("0", "1", "2", "9")),
                      brdy=DAY0 - timedelta(days=rng.randrange(36_500)))  # fmt: skip
    history = tuple(_encounter(rng, codes, f"H{k}", f"H{k}-") for k in range(rng.choice((0, 0, 1, 2))))
    request = CheckRequest(trig_scen=rng.choice(("1", "2", "3", "4")), patient=patient,
                           encounter=_encounter(rng, codes, "E", "L"), history=history)  # fmt: skip
    return request, DAY0 + timedelta(days=rng.randrange(330))


def verdict(request: CheckRequest, kb: CompiledKB, day: date) -> set[tuple[str, str, frozenset[str]]]:
    """What was raised, order-free: (rule, knowledge point, lines)."""
    return {(a.rule_id, a.kp_id, frozenset(a.rx_ids)) for a in check(request, kb, day, "J").alerts}


def test_any_valid_request_is_answered_the_same_whatever_the_line_order(
    default_kb: CompiledKB, codes: list[str]
) -> None:
    """10,000 requests: a result every time (no exception); alerts on the request's own lines, severity 1-3, amount
    >= 0; the same (rule, knowledge point, lines) when the order lines and diagnoses come in another order."""

    @FUZZ
    @given(st.integers(0, 2**32 - 1))
    def prop(seed: int) -> None:
        request, day = build_request(seed, codes)
        result = check(request, default_kb, day, "J")
        rx_ids = {o.rx_id for o in request.encounter.orders}
        for alert in result.alerts:
            assert set(alert.rx_ids) <= rx_ids
            assert alert.sev_deg in {"1", "2", "3"}
            assert alert.vola_amt >= 0
        lines, diagnoses = list(request.encounter.orders), list(request.encounter.diagnoses)
        random.Random(seed ^ 0x5EED).shuffle(lines)
        diagnoses.reverse()
        shuffled = replace(request, encounter=replace(request.encounter, orders=tuple(lines),
                                                      diagnoses=tuple(diagnoses)))  # fmt: skip
        expected = {(a.rule_id, a.kp_id, frozenset(a.rx_ids)) for a in result.alerts}
        assert expected == verdict(shuffled, default_kb, day)

    prop()
