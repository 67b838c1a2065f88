"""Recording sales (3505 商品销售) and returns (3506 销售退货) in the trace ledger, atomically.

A dispense is one order line of one encounter (`mdtrt_id` + `rx_id`) with the codes scanned for it. It runs in one
`BEGIN IMMEDIATE` transaction, so a check and the settlement that follows it cannot race into a double sale: the
second of two concurrent dispenses of one box (other threads or other processes) waits for the first, then sees
its sale and is refused. The unique index `sales_open_box` refuses it again should any code path forget.

- Whole box (`trdn_flag` false): each code is one box, sold once. A code with an open (not returned) sale, or a
  box already opened for 拆零, is refused.
- 拆零 (`trdn_flag` true): `cnt` smallest units are taken from the listed opened boxes in order; a box covers
  several split dispenses until its `pack_units` are used, then a new code is needed (refused: `exhausted`).
- No code at all: the line draws `cnt` from the 无码库 of its drug, refused when the stock is short, unless the
  caller says the line is exempt (policy: 中药饮片, inpatient 拆零 …).
- The same line dispensed again with the same content is a repeat: accepted, nothing changes. A different
  dispense of a line that is still open is refused (`line_dispensed`): return it first.

A refusal records nothing; the outcome names each code's reason. A return releases the whole line: its box codes
become sellable again, its 拆零 units go back to their boxes and its 无码库 draw back to the stock.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from .codes import CodeProblem, TraceCode, parse_code

__all__ = ["CodeOutcome", "DispenseOutcome", "ReturnOutcome", "Sale", "dispense", "return_line"]

ZERO = Decimal(0)
ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class Sale:
    """One 3505 line: `cnt` boxes (whole) or smallest units (拆零) of `hilist_code`, with the codes scanned."""

    mdtrt_id: str
    rx_id: str
    hilist_code: str
    codes: tuple[str, ...]
    cnt: Decimal
    trdn_flag: bool
    at: datetime
    nocode_exempt: bool = False  # a line without codes that needs none (the caller applies the TracePolicy)


@dataclass(frozen=True, slots=True)
class CodeOutcome:
    """One code of a dispense: `reason` "" when the code passes, else why it is refused (with `detail`).
    `units`: 拆零 units taken from this box (whole box: 1)."""

    code: str
    reason: str = ""
    detail: str = ""
    units: Decimal = ZERO

    @property
    def ok(self) -> bool:
        """The code itself passes."""
        return not self.reason


@dataclass(frozen=True, slots=True)
class DispenseOutcome:
    """What `dispense` did: recorded (`accepted`), or nothing at all, with the line's and each code's reason."""

    accepted: bool
    codes: tuple[CodeOutcome, ...] = ()
    reason: str = ""  # the first refusal: a code's reason, "nocode_short" or "line_dispensed"
    detail: str = ""
    repeat: bool = False  # the same line was already recorded with the same content; nothing changed
    nocode_units: Decimal = ZERO  # drawn from the 无码库


@dataclass(frozen=True, slots=True)
class ReturnOutcome:
    """What `return_line` did: `returned`, else `reason` "not_dispensed" (no open sale of that line)."""

    returned: bool
    codes: tuple[str, ...] = ()  # the codes released
    nocode_units: Decimal = ZERO  # put back into the 无码库
    reason: str = ""


def _stamp(at: datetime) -> str:
    return at.isoformat(timespec="seconds")


def _repeat(db: sqlite3.Connection, sale: Sale, row: tuple[int, str, str, int, str, str]) -> DispenseOutcome:
    """The outcome for a line already open: a repeat when it is the same dispense, else refused."""
    dispense_id, hilist_code, cnt, trdn, codes, nocode_units = row
    same = (hilist_code, Decimal(cnt), bool(trdn), codes) == (
        sale.hilist_code,
        sale.cnt,
        sale.trdn_flag,
        "\n".join(c.strip() for c in sale.codes),
    )
    if not same:
        detail = f"line {sale.rx_id} of encounter {sale.mdtrt_id} is already dispensed with other content"
        return DispenseOutcome(False, reason="line_dispensed", detail=detail)
    units = dict(db.execute("SELECT key, units FROM sales WHERE dispense_id = ?", (dispense_id,)).fetchall())
    outcomes = []
    for code in sale.codes:
        parsed = parse_code(code.strip())
        key = parsed.key if isinstance(parsed, TraceCode) else ""
        outcomes.append(CodeOutcome(code.strip(), units=Decimal(units.get(key, "0"))))
    return DispenseOutcome(True, tuple(outcomes), repeat=True, nocode_units=Decimal(nocode_units))


def _judge_code(db: sqlite3.Connection, sale: Sale, code: TraceCode) -> tuple[str, str, Decimal | None]:
    """(reason, detail, units left in the box for 拆零) for one well-formed code; reason "" when it passes."""
    holder = db.execute(
        "SELECT mdtrt_id, rx_id FROM sales WHERE key = ? AND trdn = 0 AND returned_at IS NULL", (code.key,)
    ).fetchone()
    if holder is not None:
        return "sold", f"sold to encounter {holder[0]} line {holder[1]} and not returned", None
    row = db.execute("SELECT units_used FROM opened WHERE key = ?", (code.key,)).fetchone()
    used = Decimal(row[0]) if row is not None else ZERO
    if not sale.trdn_flag:
        if used > 0:
            return "opened", f"box opened for split dispensing ({used} units used)", None
        return "", "", None
    product = db.execute("SELECT pack_units FROM products WHERE product_key = ?", (code.product_key,)).fetchone()
    if product is None or product[0] is None:
        return "pack_units_unknown", f"units per box of product {code.product_key} not catalogued", None
    return "", "", Decimal(product[0]) - used


def _allocate(sale: Sale, left: list[Decimal]) -> tuple[list[Decimal], Decimal]:
    """Split `sale.cnt` units over the opened boxes in order; (units per box, units not covered)."""
    need = sale.cnt
    taken = []
    for room in left:
        take = min(need, max(room, ZERO))
        taken.append(take)
        need -= take
    return taken, need


def _judge(db: sqlite3.Connection, sale: Sale) -> tuple[list[CodeOutcome], list[TraceCode]]:
    """Each code's outcome (units allocated for 拆零), and the parsed codes in order."""
    outcomes: list[CodeOutcome] = []
    parsed_codes: list[TraceCode] = []
    left: list[Decimal] = []
    seen: set[str] = set()
    for raw in sale.codes:
        code = raw.strip()
        parsed = parse_code(code)
        if isinstance(parsed, CodeProblem):
            outcomes.append(CodeOutcome(code, "malformed", f"{parsed.reason}: {parsed.detail}"))
            continue
        if parsed.key in seen:
            outcomes.append(CodeOutcome(code, "duplicate_code", "the same box scanned twice on this line"))
            continue
        seen.add(parsed.key)
        reason, detail, room = _judge_code(db, sale, parsed)
        outcomes.append(CodeOutcome(code, reason, detail, ZERO if sale.trdn_flag else ONE))
        parsed_codes.append(parsed)
        left.append(room if room is not None else ZERO)
    if sale.trdn_flag and all(o.ok for o in outcomes):
        taken, short = _allocate(sale, left)
        outcomes = [CodeOutcome(o.code, units=t) for o, t in zip(outcomes, taken, strict=True)]
        if short > 0:
            last = outcomes[-1]
            detail = f"{sale.cnt} units ordered, the opened boxes have {sale.cnt - short} left: a new box is needed"
            outcomes[-1] = CodeOutcome(last.code, "exhausted", detail, last.units)
    return outcomes, parsed_codes


def _draw_nocode(db: sqlite3.Connection, sale: Sale) -> tuple[str, str, Decimal]:
    """(reason, detail, units drawn) for a line without codes: from the 无码库 unless exempt."""
    if sale.nocode_exempt:
        return "", "", ZERO
    row = db.execute("SELECT units_left FROM nocode WHERE hilist_code = ?", (sale.hilist_code,)).fetchone()
    left = Decimal(row[0]) if row is not None else ZERO
    if left < sale.cnt:
        return "nocode_short", f"no code scanned and the 无码库 holds {left} of {sale.hilist_code}", ZERO
    db.execute("UPDATE nocode SET units_left = ? WHERE hilist_code = ?", (str(left - sale.cnt), sale.hilist_code))
    return "", "", sale.cnt


def _record(
    db: sqlite3.Connection, sale: Sale, outcomes: list[CodeOutcome], codes: list[TraceCode], drawn: Decimal
) -> None:
    at = _stamp(sale.at)
    cur = db.execute(
        "INSERT INTO dispenses (mdtrt_id, rx_id, hilist_code, cnt, trdn, codes, nocode_units, at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            sale.mdtrt_id,
            sale.rx_id,
            sale.hilist_code,
            str(sale.cnt),
            int(sale.trdn_flag),
            "\n".join(c.strip() for c in sale.codes),
            str(drawn),
            at,
        ),
    )
    dispense_id = cur.lastrowid
    for outcome, code in zip(outcomes, codes, strict=True):
        db.execute(
            "INSERT INTO sales (dispense_id, key, mdtrt_id, rx_id, trdn, units, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (dispense_id, code.key, sale.mdtrt_id, sale.rx_id, int(sale.trdn_flag), str(outcome.units), at),
        )
        if sale.trdn_flag:
            _add_used(db, code.key, outcome.units)


def _add_used(db: sqlite3.Connection, key: str, units: Decimal) -> None:
    row = db.execute("SELECT units_used FROM opened WHERE key = ?", (key,)).fetchone()
    used = (Decimal(row[0]) if row is not None else ZERO) + units
    db.execute("INSERT OR REPLACE INTO opened (key, units_used) VALUES (?, ?)", (key, str(used)))


def dispense(db: sqlite3.Connection, sale: Sale) -> DispenseOutcome:
    """Record one 3505 line atomically, or refuse it and record nothing (see the module docstring)."""
    if sale.cnt <= 0:
        raise ValueError(f"cnt: a sale needs a positive quantity, got {sale.cnt}")
    db.execute("BEGIN IMMEDIATE")
    try:
        outcome = _dispense_in_txn(db, sale)
        db.execute("COMMIT" if outcome.accepted and not outcome.repeat else "ROLLBACK")
    except sqlite3.IntegrityError:  # the unique index caught a double sale the checks missed
        db.execute("ROLLBACK")
        return DispenseOutcome(False, reason="sold", detail="another open sale holds one of these codes")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return outcome


def _dispense_in_txn(db: sqlite3.Connection, sale: Sale) -> DispenseOutcome:
    row = db.execute(
        "SELECT id, hilist_code, cnt, trdn, codes, nocode_units FROM dispenses"
        " WHERE mdtrt_id = ? AND rx_id = ? AND returned_at IS NULL",
        (sale.mdtrt_id, sale.rx_id),
    ).fetchone()
    if row is not None:
        return _repeat(db, sale, row)
    outcomes, codes = _judge(db, sale)
    refused = next((o for o in outcomes if not o.ok), None)
    if refused is not None:
        return DispenseOutcome(False, tuple(outcomes), refused.reason, refused.detail)
    drawn = ZERO
    if not sale.codes:
        reason, detail, drawn = _draw_nocode(db, sale)
        if reason:
            return DispenseOutcome(False, reason=reason, detail=detail)
    _record(db, sale, outcomes, codes, drawn)
    return DispenseOutcome(True, tuple(outcomes), nocode_units=drawn)


def return_line(db: sqlite3.Connection, mdtrt_id: str, rx_id: str, at: datetime) -> ReturnOutcome:
    """Record a 3506 return of the whole line: release its codes, 拆零 units and 无码库 draw, atomically."""
    db.execute("BEGIN IMMEDIATE")
    try:
        row = db.execute(
            "SELECT id, hilist_code, codes, nocode_units FROM dispenses"
            " WHERE mdtrt_id = ? AND rx_id = ? AND returned_at IS NULL",
            (mdtrt_id, rx_id),
        ).fetchone()
        if row is None:
            db.execute("ROLLBACK")
            return ReturnOutcome(False, reason="not_dispensed")
        dispense_id, hilist_code, codes, nocode_units = row
        stamp = _stamp(at)
        sold = db.execute("SELECT key, trdn, units FROM sales WHERE dispense_id = ?", (dispense_id,)).fetchall()
        for key, trdn, units in sold:
            if trdn:
                _add_used(db, key, -Decimal(units))
        db.execute("UPDATE sales SET returned_at = ? WHERE dispense_id = ?", (stamp, dispense_id))
        db.execute("UPDATE dispenses SET returned_at = ? WHERE id = ?", (stamp, dispense_id))
        drawn = Decimal(nocode_units)
        if drawn:
            left = db.execute("SELECT units_left FROM nocode WHERE hilist_code = ?", (hilist_code,)).fetchone()
            restored = (Decimal(left[0]) if left is not None else ZERO) + drawn
            db.execute(
                "INSERT OR REPLACE INTO nocode (hilist_code, units_left) VALUES (?, ?)", (hilist_code, str(restored))
            )
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return ReturnOutcome(True, tuple(c for c in codes.split("\n") if c), drawn)
