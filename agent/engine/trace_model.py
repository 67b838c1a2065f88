"""What the traceability-code (追溯码) checks read: the ledger's facts about the codes an encounter carries.

The engine stays pure: it never opens the ledger. Before a check, the edge (`CheckService`, through
`agent.trace.ledger`) parses every `drug_trac_codg` of the request's lines, looks each one up once and hands the
engine a `TraceFacts` snapshot: per code, its format problem or its product, stock, expiry and sale state, plus the
无码库 quantities of the drugs concerned and the policy (which drugs need a code, which are exempt, from when).
The `trace` rule family (`agent.engine.trace_rules`) judges the order lines against that snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

__all__ = ["CodeFacts", "TraceFacts", "TracePolicy"]

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class CodeFacts:
    """One scanned code as the ledger knows it at check time.

    `problem` is set (and the ledger fields left empty) when the code is not a well-formed domestic or GS1 code:
    a short reason key from `agent.trace.codes` ("length", "prefix", "gs1_gtin", …) that the rule's texts explain,
    with `problem_detail` the specifics (e.g. the GS1 parser's message).
    `key` is the code's identity (`agent.trace.codes.TraceCode.key`): two scans of one box in different forms (GS1
    human-readable and raw) share it, so the rules count them as one box; "" means `code` is its own key.
    """

    code: str  # as scanned, surrounding whitespace removed
    problem: str = ""
    problem_detail: str = ""
    kind: str = ""  # "domestic" (20 digits: 7-digit 药品标识码 + 13-digit serial) or "gs1" (AI 01 GTIN + 21 serial)
    product_key: str = ""  # the 7-digit 药品标识码, or the 14-digit GTIN
    product_hilist_code: str | None = None  # the catalogue's national drug code for product_key; None: not catalogued
    pack_units: int | None = None  # smallest dispensing units in one box (package ratio); None: not catalogued
    in_stock: bool = False  # an inbound (入库) record of this very code exists
    expiry: date | None = None  # from the inbound record, else from the code itself (GS1 AI 17)
    sold_mdtrt_id: str = ""  # the encounter of the open (not returned) whole-box sale of this code, "" when none
    sold_rx_id: str = ""
    units_used: Decimal = ZERO  # 拆零: units dispensed from this opened box, less those of the checked current lines
    key: str = ""  # canonical identity (TraceCode.key); "" → `code`


@dataclass(frozen=True, slots=True)
class TracePolicy:
    """Which lines need a code: drugs whose national code starts with one of `required_prefixes` (西药 X, 中成药 Z),
    on or after `required_from` (无码不付 from 2025-07-01), unless exempt: a national code or prefix listed in
    `exempt_codes` / `exempt_prefixes` (e.g. 中药饮片, 配方颗粒), or an inpatient 拆零 line when
    `exempt_inpatient_split` (the 2025-04 guidance)."""

    required_prefixes: tuple[str, ...] = ("X", "Z")
    required_from: date = date(2025, 7, 1)
    exempt_codes: frozenset[str] = frozenset()
    exempt_prefixes: tuple[str, ...] = ()
    exempt_inpatient_split: bool = True

    def needs_code(self, hilist_code: str, day: date, *, split: bool, inpatient: bool) -> bool:
        """True when a line of drug `hilist_code` used on `day` must carry a code (拆零 `split`, in an `inpatient`
        encounter): the one decision shared by the MISSING rule and the dispense path."""
        if not hilist_code or not hilist_code.startswith(self.required_prefixes) or day < self.required_from:
            return False
        if hilist_code in self.exempt_codes or hilist_code.startswith(self.exempt_prefixes):
            return False
        return not (self.exempt_inpatient_split and split and inpatient)


@dataclass(frozen=True, slots=True)
class TraceFacts:
    """The snapshot the trace rules read: facts by code (as scanned) and 无码库 units left by national drug code."""

    codes: Mapping[str, CodeFacts] = field(default_factory=dict)
    nocode_left: Mapping[str, Decimal] = field(default_factory=dict)
    policy: TracePolicy = TracePolicy()
