"""Dated encounters for the history tests: a stroke patient's stays with 天麻素注射液 (支付不超过14天)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from fundguard.agent.engine.model import Diagnosis, Encounter, OrderLine, Patient

__all__ = ["PATIENT", "SETTLED_AT", "TIANMA", "stay", "tianma"]

PATIENT = Patient("P-HIST-00001", "1", date(1950, 4, 4))
TIANMA = "XN07XXT050B002010100239"  # 天麻素注射液: 支付不超过14天 across visits (course scope)
SETTLED_AT = datetime(2026, 10, 10, 16, 30)


def stay(mdtrt_id: str, adm: date, dscg: date | None, dx: str, *lines: OrderLine, med_type: str = "21") -> Encounter:
    """An encounter with one main diagnosis (the discharge one once discharged) and the given lines."""
    return Encounter(mdtrt_id, med_type=med_type, insutype="310", medins_lv="05", out_setl_flag="2", adm_date=adm,
                     dscg_date=dscg, dscg_main_dise_codg=dx if dscg else "",
                     diagnoses=(Diagnosis(dx, "脑梗死", True, "2" if dscg else "1", adm),), orders=lines)  # fmt: skip


def tianma(rx_id: str, first: date, days: int, current: bool = False) -> OrderLine:
    """天麻素注射液 once a day from `first` for `days` days (10.00 a day)."""
    return OrderLine(rx_id, TIANMA, Decimal(days), Decimal("10.00"), Decimal(days * 10), "天麻素注射液", "101",
                     begn_date=first, stop_date=first + timedelta(days=days - 1), current=current)  # fmt: skip
