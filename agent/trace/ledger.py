"""The trace ledger: the hospital's own record of every drug traceability code (药品追溯码) it received and sold.

`TraceLedger(path)` owns one SQLite file (tables in `schema.py`) and a fixed pool of connections to it, opened at
start (`agent.connections`): each call checks one out, so the check path (the transports' worker threads) reads in
parallel while a dispense or an import writes (WAL), and the open files never grow with threads. It offers:
- the check path, `facts_for(request, policy)`: one prepared, indexed statement per scanned code (never a scan),
  answering a `TraceFacts` snapshot the pure engine judges; drug lines without codes whose drugs the 无码库 holds
  none of are answered from memory (`nocode_view`), so `needs_disk` is False for them;
- loading: the product catalogue, inbound (入库) codes and the 无码库, idempotent and batched (`stock.py`);
- settlement: `dispense` (3505) and `return_line` (3506), atomic (`settle.py`);
- `lookup(code)` and `counts()` for the command line and status.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any, Concatenate, ParamSpec, TypeVar

from fundguard.agent.connections import DEFAULT_POOL_SIZE, ConnectionPool
from fundguard.agent.engine.model import CheckRequest
from fundguard.agent.engine.trace_model import CodeFacts, TraceFacts, TracePolicy
from fundguard.agent.faults import FaultLatch

from . import describe, settle, stock
from .codes import DOMESTIC_LENGTH, CodeKind, CodeProblem, TraceCode, parse_code
from .nocode_view import NocodeView
from .schema import connect
from .settle import DispenseOutcome, ReturnOutcome, Sale
from .stock import ImportCounts, InboundRecord, NocodeStock, Product

__all__ = ["LEDGER_FILE", "TraceLedger"]

LEDGER_FILE = "trace.sqlite3"  # under the agent's data dir, unless [trace] ledger says otherwise

ZERO = Decimal(0)
P = ParamSpec("P")
T = TypeVar("T")

# One row per open sale of the code (at least one row): stock, catalogue and 拆零 state ride along.
_FACTS_SQL = """
SELECT i.expiry, i.key IS NOT NULL, p.hilist_code, p.pack_units, o.units_used, s.mdtrt_id, s.rx_id, s.trdn, s.units
FROM (SELECT ? AS k, ? AS pk) AS q
LEFT JOIN inbound AS i ON i.key = q.k
LEFT JOIN products AS p ON p.product_key = q.pk
LEFT JOIN opened AS o ON o.key = q.k
LEFT JOIN sales AS s ON s.key = q.k AND s.returned_at IS NULL
"""
# a GS1 scan received before: its remembered parse and the same facts, in one statement (no biip, one probe)
_SCAN_FACTS_SQL = """
SELECT q.key, q.product_key, q.expiry, q.batch,
       i.expiry, i.key IS NOT NULL, p.hilist_code, p.pack_units, o.units_used, s.mdtrt_id, s.rx_id, s.trdn, s.units
FROM scans AS q
LEFT JOIN inbound AS i ON i.key = q.key
LEFT JOIN products AS p ON p.product_key = q.product_key
LEFT JOIN opened AS o ON o.key = q.key
LEFT JOIN sales AS s ON s.key = q.key AND s.returned_at IS NULL
WHERE q.raw = ?
"""
_NOCODE_SQL = "SELECT hilist_code, units_left FROM nocode WHERE hilist_code IN ({marks})"
_NOCODE_BATCH = 200  # drugs per statement (well under SQLite's variable limit)
_OWN_NOCODE_SQL = (
    "SELECT rx_id, hilist_code, nocode_units FROM dispenses WHERE mdtrt_id = ? AND returned_at IS NULL"
    " AND nocode_units != '0'"
)


class TraceLedger:
    """The ledger in the SQLite file at `path` (created on first use); thread-safe, `connections` connections opened
    now and shared by every thread that asks."""

    def __init__(self, path: Path, connections: int = DEFAULT_POOL_SIZE) -> None:
        self.path = path
        self._connections = ConnectionPool(path, connect, "trace ledger", connections)  # the first creates the schema
        self.fault = FaultLatch(str(path))  # the last failed write (disk full, locked): the `trace_ledger` alarm
        self._nocode = NocodeView(connect(path, create=False))  # which drugs the 无码库 holds, kept current
        self._nocode.refresh_if_stale()

    def _run(self, work: Callable[Concatenate[sqlite3.Connection, P], T], *args: P.args, **kw: P.kwargs) -> T:
        """`work(db, ...)` on a connection checked out for it."""
        with self._connections.connection() as db:
            return work(db, *args, **kw)

    def close(self) -> None:
        """Close every connection."""
        self._nocode.close()
        self._connections.close()

    def __enter__(self) -> TraceLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- loading --------------------------------------------------------------------------------------------------

    def upsert_products(self, rows: Sequence[Product]) -> ImportCounts:
        """Add or update catalogue rows in one transaction; counts added / unchanged / updated."""
        return self.fault.guard(lambda: self._run(stock.upsert_products, rows))

    def import_inbound(self, rows: Sequence[InboundRecord], source: str, at: datetime) -> ImportCounts:
        """Add inbound codes in one transaction, from `source` (a file name) at `at`; a code already known with the
        same data is unchanged, with other data a conflict (the first record stands). Re-importing the same rows
        changes nothing, not even the log of import runs (a run is logged when it adds a code)."""
        return self.fault.guard(lambda: self._run(stock.import_inbound, rows, source, at))

    def set_nocode(self, rows: Sequence[NocodeStock]) -> ImportCounts:
        """Set the 无码库 units left per national drug code (absolute: a re-import changes nothing)."""
        return self.fault.guard(lambda: self._run(stock.set_nocode, rows))

    # -- settlement -----------------------------------------------------------------------------------------------

    def dispense(self, sale: Sale) -> DispenseOutcome:
        """Record a 3505 sale line atomically, or refuse it (see `settle`)."""
        return self.fault.guard(lambda: self._run(settle.dispense, sale))

    def return_line(self, mdtrt_id: str, rx_id: str, at: datetime) -> ReturnOutcome:
        """Record a 3506 return of a whole sale line, releasing its codes (see `settle`)."""
        return self.fault.guard(lambda: self._run(settle.return_line, mdtrt_id, rx_id, at))

    # -- the check path -------------------------------------------------------------------------------------------

    def needs_disk(self, request: CheckRequest, policy: TracePolicy) -> bool:
        """Whether `facts_for` queries the ledger for `request`: a current line carries a code, or is a drug that
        may draw the 无码库 and the in-memory view cannot rule that out (the same tests as `facts_for`). Otherwise
        its answer is empty and costs no query."""
        prefixes, exempt = policy.required_prefixes, policy.exempt_codes
        drugs: list[str] = []
        for line in request.encounter.orders:
            if not line.current:
                continue
            if any(raw.strip() for raw in line.drug_trac_codg):
                return True
            code = line.hilist_code
            if code.startswith(prefixes) and code not in exempt:
                drugs.append(code)
        return bool(drugs) and not self._nocode.holds_none_of(drugs)

    def facts_for(self, request: CheckRequest, policy: TracePolicy) -> TraceFacts:
        """What the ledger knows of every code on the current lines, and the 无码库 left for the drugs of the
        current lines that carry no code (the only lines it can cover).

        A re-check of lines already dispensed sees the ledger as it was before them: 拆零 units and 无码库 draws
        made for the same encounter and `rx_id` are not counted as used."""
        mdtrt_id = request.encounter.mdtrt_id
        rx_ids: dict[str, set[str]] = {}
        drugs: dict[str, set[str]] = {}
        for line in request.encounter.orders:
            if not line.current:
                continue
            scanned = [code for code in (raw.strip() for raw in line.drug_trac_codg) if code]
            for code in scanned:
                rx_ids.setdefault(code, set()).add(line.rx_id)
            code = line.hilist_code
            # only a drug that may need a code can draw the 无码库 (services, materials: no query on the hot path)
            if not scanned and code.startswith(policy.required_prefixes) and code not in policy.exempt_codes:
                drugs.setdefault(code, set()).add(line.rx_id)
        if drugs and self._nocode.holds_none_of(drugs):
            drugs = {}  # the 无码库 holds none of them: its answer would be empty
        if not rx_ids and not drugs:  # nothing to ask the ledger (`needs_disk` is False): no connection, no query
            return TraceFacts(MappingProxyType({}), MappingProxyType({}), policy)
        snapshot = len(rx_ids) + (1 if drugs else 0) > 1  # one statement is a snapshot by itself
        with self._connections.connection() as db:  # the snapshot's statements on one connection
            if snapshot:
                db.execute("BEGIN")
            try:
                codes = {code: self._code_facts(db, code, mdtrt_id, own) for code, own in rx_ids.items()}
                nocode = self._nocode_left(db, mdtrt_id, drugs) if drugs else {}
            finally:
                if snapshot:
                    db.execute("COMMIT")
        if drugs:
            self._nocode.refresh_if_stale()  # so that the next check of drugs it lacks need not ask
        return TraceFacts(MappingProxyType(codes), MappingProxyType(nocode), policy)

    @staticmethod
    def _code_facts(db: sqlite3.Connection, code: str, mdtrt_id: str, own_rx: set[str]) -> CodeFacts:
        parsed: TraceCode | None = None
        if len(code) != DOMESTIC_LENGTH or not code.isdigit():  # a GS1 scan received before: no parse (biip ~55 µs)
            found = db.execute(_SCAN_FACTS_SQL, (code,)).fetchall()
            if found:
                key, product_key, code_expiry, batch = found[0][:4]
                day = date.fromisoformat(code_expiry) if code_expiry else None
                parsed = TraceCode(code, CodeKind.GS1, key, product_key, key[18:], day, batch)
                rows = [row[4:] for row in found]
        if parsed is None:  # a domestic code (parsed in a few µs), or a scan the ledger never received
            fresh = parse_code(code)
            if isinstance(fresh, CodeProblem):
                return CodeFacts(code, problem=fresh.reason, problem_detail=fresh.detail)
            parsed = fresh
            rows = db.execute(_FACTS_SQL, (parsed.key, parsed.product_key)).fetchall()
        expiry, in_stock, hilist_code, pack_units, units_used = rows[0][:5]
        sold_mdtrt_id = sold_rx_id = ""
        used = Decimal(units_used) if units_used is not None else ZERO
        for _, _, _, _, _, sale_mdtrt, sale_rx, trdn, units in rows:
            if sale_mdtrt is None:
                continue
            if not trdn:
                sold_mdtrt_id, sold_rx_id = sale_mdtrt, sale_rx
            elif sale_mdtrt == mdtrt_id and sale_rx in own_rx:
                used -= Decimal(units)
        return CodeFacts(
            code,
            kind=str(parsed.kind),
            product_key=parsed.product_key,
            product_hilist_code=hilist_code,
            pack_units=pack_units,
            in_stock=bool(in_stock),
            expiry=date.fromisoformat(expiry) if expiry else parsed.expiry,
            sold_mdtrt_id=sold_mdtrt_id,
            sold_rx_id=sold_rx_id,
            units_used=used,
            key=parsed.key,
        )

    @staticmethod
    def _nocode_left(db: sqlite3.Connection, mdtrt_id: str, drugs: dict[str, set[str]]) -> dict[str, Decimal]:
        codes = list(drugs)
        left: dict[str, Decimal] = {}
        for start in range(0, len(codes), _NOCODE_BATCH):  # one statement for a request's drugs, not one per line
            batch = codes[start : start + _NOCODE_BATCH]
            sql = _NOCODE_SQL.format(marks=",".join("?" * len(batch)))
            for hilist_code, units_left in db.execute(sql, batch):
                left[hilist_code] = Decimal(units_left)
        if left:
            for rx_id, hilist_code, units in db.execute(_OWN_NOCODE_SQL, (mdtrt_id,)).fetchall():
                if hilist_code in left and rx_id in drugs[hilist_code]:
                    left[hilist_code] += Decimal(units)
        return left

    # -- inspection -----------------------------------------------------------------------------------------------

    def lookup(self, code: str) -> dict[str, Any]:
        """Everything the ledger holds about one scanned code, as plain JSON-ready data."""
        parsed = parse_code(code)
        if isinstance(parsed, CodeProblem):
            return {"code": parsed.raw, "problem": parsed.reason, "detail": parsed.detail}
        return self._run(describe.describe, parsed)

    def counts(self) -> dict[str, int]:
        """Row counts for status: products, inbound codes, open sales, opened boxes, 无码库 drugs."""
        return self._run(describe.counts)
