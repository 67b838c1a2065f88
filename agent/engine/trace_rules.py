"""The traceability-code (药品追溯码) rule family: built-in rules judging each line's scanned codes against the
ledger snapshot (`TraceFacts`) the edge took before the check.

"无码不采、无码不付、依码结算": one box, one code, sold once. Seven rules, each needing no knowledge point (like
`unmapped`): FORMAT (malformed scan), PRODUCT (the code's product is another national drug: 串换), RESOLD (already
sold and not returned, or the same whole box twice in this encounter: 回流药 suspected), UNKNOWN (no inbound record,
or product not catalogued), EXPIRED, COUNT (codes vs whole boxes; 拆零 units left in the opened boxes) and MISSING
(no code where `TracePolicy` needs one, unless the 无码库 covers the quantity).

Only current lines with cnt > 0 (and no negative total) are judged. What was dispensed before — earlier lines of
this encounter (curr_drord_flag 0) and earlier encounters — is the ledger's: its open sales, the units used of
opened boxes and the 无码库 left. Within the current lines, taken in order, a whole box held twice is RESOLD, a
refund line (cnt < 0) releases the codes it names, and 拆零 units and 无码库 quantity (in the lines' `cnt` units)
are drawn down line by line. The ledger leaves out what the checked lines themselves drew, and an open sale to this
very encounter and order is no violation, so re-checking a dispensed encounter raises nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal

from ._trace_texts import REASONS, LineTexts, num
from .index import CompiledPoint, RuleMeta
from .model import OrderLine, WorkflowImpact
from .rules import Context, Finding
from .trace_model import CodeFacts, TraceFacts

__all__ = ["COUNT", "EXPIRED", "FORMAT", "MISSING", "PRODUCT", "RESOLD", "RULES", "RULE_CLASS", "UNKNOWN", "findings"]

RULE_CLASS = "药品追溯码"
ZERO = Decimal(0)


def _point(suffix: str, name: str, sev_deg: str, impact: WorkflowImpact, constraint: str) -> CompiledPoint:
    rule = RuleMeta(RULE_CLASS, f"FG-TRACE-{suffix}", name, "local", "trace", sev_deg, impact)
    return CompiledPoint(rule.rule_id, rule, "trace", "", constraint, (), None, None, None, frozenset(), True)


BLOCK, REASON, INFO = WorkflowImpact.BLOCK, WorkflowImpact.REASON_REQUIRED, WorkflowImpact.INFO
FORMAT = _point("FORMAT", "药品追溯码格式错误", "1", BLOCK, "追溯码须为8开头的20位国内码或含(01)(21)的GS1码")
PRODUCT = _point("PRODUCT", "药品追溯码与所开药品不符", "1", BLOCK, "追溯码的药品标识码须对应所开的医保药品")
RESOLD = _point("RESOLD", "药品追溯码重复销售", "1", BLOCK, "一盒一码，一码只售一次；登记退货后方可再售")
UNKNOWN = _point("UNKNOWN", "药品追溯码无入库记录或未对照", "3", INFO, "追溯码应有入库记录，药品标识码应对照医保药品")
EXPIRED = _point("EXPIRED", "药品追溯码对应药品已过期", "1", BLOCK, "过期药品不得销售和结算")
COUNT = _point("COUNT", "药品追溯码数量与发药数量不符", "2", REASON, "整盒每盒一码；拆零时已拆零的盒须仍有足够余量")
MISSING = _point("MISSING", "药品未扫描追溯码", "1", BLOCK, "2025-07-01起无码不付（无码库存和豁免品种除外）")
RULES = (FORMAT, PRODUCT, RESOLD, UNKNOWN, EXPIRED, COUNT, MISSING)


def _judged(line: OrderLine) -> bool:
    return line.current and line.cnt > 0 and line.sumamt >= 0


def findings(ctx: Context, facts: TraceFacts) -> list[Finding]:
    """Every trace finding of the request's current lines, one per (rule, line), each naming its codes."""
    lines = ctx.current_lines
    scans = {id(line): _lookup(line, facts) for line in lines}
    repeats = _repeats(lines, scans)
    split_short = _split_shortfalls(lines, scans)
    nocode_left = dict(facts.nocode_left)
    out: list[Finding] = []
    for line in lines:
        if not _judged(line):
            continue
        if scanned := scans[id(line)]:
            out.extend(_judge_codes(ctx, line, scanned, repeats.get(id(line), []), split_short.get(id(line))))
        else:
            out.extend(_missing(ctx, facts, line, nocode_left))
    return out


def _lookup(line: OrderLine, facts: TraceFacts) -> list[CodeFacts]:
    """The line's scans as the ledger knows them (blank entries dropped; a code the snapshot lacks is unknown)."""
    out = []
    for raw in line.drug_trac_codg:
        code = raw.strip()
        if code:
            out.append(facts.codes.get(code) or CodeFacts(code))
    return out


def _key(code: CodeFacts) -> str:
    return code.key or code.code


def _distinct(scanned: Sequence[CodeFacts]) -> list[CodeFacts]:
    return list({_key(c): c for c in reversed(scanned)}.values())[::-1]


def _repeats(lines: Sequence[OrderLine], scans: dict[int, list[CodeFacts]]) -> dict[int, list[tuple[CodeFacts, str]]]:
    """Codes held twice by the current lines where one holder is a whole box: line → [(code, first holder's rx_id)].
    Lines are taken in order; a refund line (cnt < 0) releases the codes it names."""
    held: dict[str, list[OrderLine]] = {}
    out: dict[int, list[tuple[CodeFacts, str]]] = {}
    for line in lines:
        for code in scans[id(line)]:
            if code.problem:
                continue
            holders = held.setdefault(_key(code), [])
            if line.cnt < 0:
                if holders:
                    holders.pop()
            elif line.cnt > 0:
                if holders and (not line.trdn_flag or any(not h.trdn_flag for h in holders)):
                    out.setdefault(id(line), []).append((code, holders[0].rx_id))
                holders.append(line)
    return out


def _split_shortfalls(lines: Sequence[OrderLine], scans: dict[int, list[CodeFacts]]) -> dict[int, Decimal]:
    """拆零 lines whose opened boxes cannot cover their units, drawn down in order: line → units that were left.
    A line with a code of unknown package size is skipped (UNKNOWN covers it)."""
    left: dict[str, Decimal] = {}
    out: dict[int, Decimal] = {}
    for line in lines:
        boxes = _distinct(scans[id(line)])
        if not line.trdn_flag or line.cnt <= 0 or not boxes or any(b.pack_units is None for b in boxes):
            continue
        for box in boxes:
            if _key(box) not in left:
                left[_key(box)] = max(ZERO, Decimal(box.pack_units or 0) - box.units_used)
        available = sum((left[_key(b)] for b in boxes), ZERO)
        need = line.cnt
        for box in boxes:
            take = min(left[_key(box)], need)
            left[_key(box)] -= take
            need -= take
        if need > 0 and _judged(line):
            out[id(line)] = available
    return out


def _missing(ctx: Context, facts: TraceFacts, line: OrderLine, nocode_left: dict[str, Decimal]) -> list[Finding]:
    """MISSING for a line without codes whose drug needs one, unless the 无码库 left covers its quantity (drawn)."""
    inpatient = ctx.visit_class == "inpatient"
    if not facts.policy.needs_code(line.hilist_code, ctx.line_date(line), split=line.trdn_flag, inpatient=inpatient):
        return []
    left = nocode_left.get(line.hilist_code, ZERO)
    if left >= line.cnt:
        nocode_left[line.hilist_code] = left - line.cnt
        return []
    t = LineTexts(ctx, line)
    if left > 0:
        return [t.finding(MISSING, "trace.missing.nocode", left=num(left), cnt=num(line.cnt))]
    return [t.finding(MISSING, "trace.missing")]


def _judge_codes(
    ctx: Context, line: OrderLine, scanned: list[CodeFacts], repeats: list[tuple[CodeFacts, str]], short: Decimal | None
) -> list[Finding]:
    """FORMAT, PRODUCT, RESOLD, UNKNOWN, EXPIRED and COUNT for one judged line carrying codes."""
    t = LineTexts(ctx, line)
    boxes = _distinct(scanned)
    good = [c for c in boxes if not c.problem]
    out: list[Finding] = []
    bad = [c for c in boxes if c.problem]
    if bad:
        problems = [t.part(f"trace.reason.{c.problem if c.problem in REASONS else 'other'}", c, detail=c.problem_detail)
                    for c in bad]  # fmt: skip
        out.append(t.finding(FORMAT, "trace.format", problems=t.clause_sep.join(problems)))
    switched = [c for c in good if c.product_hilist_code not in (None, line.hilist_code)]
    if switched and line.hilist_code:
        pairs = [t.part("trace.product.pair", c, other=c.product_hilist_code) for c in switched]
        out.append(t.finding(PRODUCT, "trace.product", pairs=t.sep.join(pairs)))
    out.extend(_resold(t, good, repeats))
    unknown = []
    if stockless := [c for c in good if not c.in_stock]:
        unknown.append(t.part("trace.unknown.stock", codes=t.codes(stockless)))
    if uncatalogued := [c for c in good if c.product_hilist_code is None]:
        unknown.append(t.part("trace.unknown.catalogue", codes=t.codes(uncatalogued)))
    if unknown:
        out.append(t.finding(UNKNOWN, "trace.unknown", unknown))
    day = ctx.line_date(line)
    if expired := [c for c in good if c.expiry is not None and c.expiry < day]:
        pairs = [t.part("trace.expired.pair", c, expiry=c.expiry) for c in expired]
        out.append(t.finding(EXPIRED, "trace.expired", pairs=t.sep.join(pairs), day=day))
    out.extend(_count(t, boxes, short))
    return out


def _resold(t: LineTexts, good: list[CodeFacts], repeats: list[tuple[CodeFacts, str]]) -> list[Finding]:
    """Codes with an open sale to another encounter or order, and whole-box codes held twice by the current lines."""
    line, enc = t.line, t.ctx.encounter
    parts: list[str] = []
    firsts: set[str] = set()
    named: set[str] = set()
    for c in good:
        if c.sold_mdtrt_id and (c.sold_mdtrt_id, c.sold_rx_id) != (enc.mdtrt_id, line.rx_id):
            here = c.sold_mdtrt_id == enc.mdtrt_id
            parts.append(t.part("trace.resold.here" if here else "trace.resold.elsewhere", c, first=c.sold_rx_id))
            named.add(_key(c))
            if here:
                firsts.add(c.sold_rx_id)
    for c, first in repeats:
        if _key(c) not in named:
            parts.append(t.part("trace.resold.twice" if first != line.rx_id else "trace.resold.same_line", c,
                                first=first))  # fmt: skip
            named.add(_key(c))
            firsts.add(first)
    if not parts:
        return []
    related = tuple(o for o in enc.orders if o.rx_id in firsts and o is not line)
    return [t.finding(RESOLD, "trace.resold", parts, related=related)]


def _count(t: LineTexts, boxes: list[CodeFacts], short: Decimal | None) -> list[Finding]:
    line = t.line
    if line.trdn_flag:
        if short is None:
            return []
        return [t.finding(COUNT, "trace.count.split", cnt=num(line.cnt), codes=t.codes(boxes), left=num(short),
                          sev_deg="1", impact=BLOCK)]  # fmt: skip
    need = math.ceil(line.cnt)
    if len(boxes) == need:
        return []
    return [t.finding(COUNT, "trace.count.boxes", cnt=num(line.cnt), need=need, n=len(boxes), codes=t.codes(boxes))]
