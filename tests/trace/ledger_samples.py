"""Real-shaped products, codes and builders shared by the trace-ledger tests.

Domestic codes are a 7-digit 药品标识码 (8…) + a 13-digit serial, as printed on the box ("药品标识码：8385793
序列号：0000879766660"); the import has a GTIN-14 with a valid check digit and a GS1 string with expiry and batch.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from fundguard.agent.connections import DEFAULT_POOL_SIZE
from fundguard.agent.engine.model import CheckRequest, Encounter, OrderLine, Patient
from fundguard.agent.trace.ledger import TraceLedger
from fundguard.agent.trace.settle import Sale
from fundguard.agent.trace.stock import InboundRecord, NocodeStock, Product

VIT_B1 = "XA11DAW036A001010104127"  # 维生素B1片
VIT_C = "XA11GAW043A001010201815"  # 维生素C片
IMPORTED = "XG02BAZ061Z007010279543"
HERBAL = "T0601000300100"  # not a 西药/中成药 code: needs no trace code

B1_BOX = "8385793"  # 10 tablets per box
C_BOX = "8021761"  # 24 tablets per box
UNCATALOGUED = "8206233"
GTIN = "06901234567892"

B1 = [f"{B1_BOX}{n:013d}" for n in (879766660, 879766661, 879766662, 879766663, 879766664)]
C1 = f"{C_BOX}0000000123456"
STRAY = f"{UNCATALOGUED}0000000000042"  # a well-formed code the ledger never received
GS1 = f"(01){GTIN}(17)270630(10)LOT42(21)SN0001"
GS1_KEY = f"01{GTIN}21SN0001"

AT = datetime(2025, 8, 1, 9, 30)
B1_EXPIRY = date(2027, 5, 31)
PATIENT = Patient("patient-under-test", "1", date(1980, 1, 1))


def stocked_ledger(path: Path, connections: int = DEFAULT_POOL_SIZE) -> TraceLedger:
    """A ledger (of `connections` connections) with the catalogue (B1 box 10, C box 24, the GTIN 30), B1[*] and C1
    received, the GS1 box received without an expiry, and 5 boxes of vitamin C in the 无码库."""
    ledger = TraceLedger(path, connections)
    ledger.upsert_products(
        [Product(B1_BOX, VIT_B1, "box", 10), Product(C_BOX, VIT_C, "box", 24), Product(GTIN, IMPORTED, "box", 30)]
    )
    rows = [InboundRecord(code, B1_BOX, "240601", B1_EXPIRY) for code in B1]
    rows += [InboundRecord(C1, C_BOX, "240702", date(2026, 12, 31)), InboundRecord(GS1_KEY, GTIN, "LOT42", None)]
    ledger.import_inbound(rows, "stock.csv", AT)
    ledger.set_nocode([NocodeStock(VIT_C, Decimal(5))])
    return ledger


def line(rx_id: str, hilist_code: str, cnt: int | str, codes: tuple[str, ...] = (), *, trdn: bool = False) -> OrderLine:
    """A current order line."""
    return OrderLine(rx_id, hilist_code, Decimal(cnt), drug_trac_codg=codes, trdn_flag=trdn)


def request(mdtrt_id: str, *lines: OrderLine) -> CheckRequest:
    """A 3101-style request of one encounter with these lines."""
    return CheckRequest("3", PATIENT, Encounter(mdtrt_id, orders=lines))


def sale(
    mdtrt_id: str,
    rx_id: str,
    codes: tuple[str, ...],
    cnt: int | str = 1,
    *,
    trdn: bool = False,
    hilist_code: str = VIT_B1,
    exempt: bool = False,
) -> Sale:
    """A 3505 line at AT."""
    return Sale(mdtrt_id, rx_id, hilist_code, codes, Decimal(cnt), trdn, AT, exempt)
