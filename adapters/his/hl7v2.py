"""HL7 v2 ↔ fundguard: pharmacy/treatment orders (RDE^O11, OMP^O09) and charges (DFT^P03) in, ACKs out.

Translation only: no sockets, no clock (the MLLP listener in `agent.transport.mllp_server` passes the time and the
ACK's control id). python-hl7 parses; values are unescaped with its `unescape` after unknown escape sequences are
dropped (the library logs those with the field's content, which may be identity, and raises on some). The mapping
built is validated by `agent.intake.parse_request`, like every other transport.

Errors: `decode` raises `InvalidField` naming the HL7 location — `PID-8`, `RXE[2]-10`, `DG1[1]-3` (a repeating
segment carries its 1-based occurrence in brackets) — answered `AE`; its subclass `Rejected` for a message that
cannot be processed at all (not HL7, bad delimiters, batch, unsupported MSH-9 type / MSH-12 version / MSH-18
character set), answered `AR`.

Decoding:
- MSH-7 → date of service (as the national `inf_time`); MSH-10 → task_id; MSH-18 UNICODE UTF-8 (also ASCII or
  empty) or GB 18030-2000 (GBK, GB2312 accepted); MSH-19 `en…` → English alert texts.
- PID-3.1 (first repetition) → patn_id; PID-7 → brdy; PID-8 M/F/U/O → gend 1/2/0/9 (A, N → 9; national 0/1/2/9
  pass as they are). Names are not read: nothing downstream needs them.
- PV1-19.1 visit number → mdtrt_id (else PID-18.1, the account number); PV1-2 patient class I/O/E → med_type
  21 住院 / 11 普通门诊 / 13 急诊 (other classes leave it empty); PV1-7.1 → dr_codg; PV1-44 / PV1-45 → adm/dscg_date.
- DG1-3.1/.2 → dise_codg/dise_name; DG1-5 → dise_date; DG1-15 "1" marks the main diagnosis, else the first DG1.
- Orders, RDE^O11 (ORC + RXE) and OMP^O09 (ORC + RXO), each group started by its ORC (a TQ1 or FT1 in the group
  is read too): ORC-2.1 placer order number (else ORC-3.1) → rx_id; ORC-4.1 → rxno; ORC-12.1 → drord_dr_codg;
  TQ1-7, else ORC-7.4, else ORC-15, else ORC-9 → drord_begn_date; TQ1-8, else ORC-7.5 → drord_stop_date; ORC-1
  CA/DC/OC/OD (cancelled, discontinued) → not current (context only). Code RXE-2 / RXO-1: see *codes*. cnt: RXE-10
  dispense amount, else RXE-3 give amount; RXO-11, else RXO-2. Price from the group's FT1 (FT1-12 unit, FT1-11).
- Charges, DFT^P03 (one line per FT1): FT1-7 → code (see *codes*); FT1-10 → cnt (empty = 1); FT1-12 / FT1-11 →
  pric / sumamt (cnt and sumamt negated for FT1-6 CD, a credit); FT1-4.1 → drord_begn_date; FT1-21.1 →
  drord_dr_codg; FT1-2 (else FT1-1) → rx_id. Payments and adjustments (FT1-6 PY, AJ) are skipped.
- *codes* (CWE): the identifier goes to hosplist_code (the hospital's code; the check service maps it to a
  national code), or to hilist_code when the coding system (component 3) is NHSA or HILIST; an alternate code
  (components 4–6) in NHSA/HILIST fills hilist_code too.

ACKs (`encode_ack` AA with one ERR + NTE per alert, `encode_error` AE/AR with one ERR) are written by
`_hl7_ack`, whose docstring gives their layout; the segment access and field mapping behind `decode` are in
`_hl7_segments`. This module is the adapter's surface and re-exports the names they define.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from fundguard.agent.engine.errors import FundguardError, InvalidField
from fundguard.agent.intake import ParsedRequest, parse_request

from ._hl7_ack import APPLICATION, Writer, header, write_alert, write_error
from ._hl7_segments import (
    CHARSET_NAMES,
    CHARSETS,
    Rejected,
    RequestMapping,
    Seg,
    first_line,
    hl7_date,
    msh18,
    order_groups,
    segments,
)
from ._hl7_segments import GENDERS as GENDERS  # noqa: PLC0414 -- re-exported: defined here before
from ._hl7_segments import MED_TYPES as MED_TYPES  # noqa: PLC0414 -- re-exported: defined here before
from ._hl7_segments import NATIONAL_SYSTEMS as NATIONAL_SYSTEMS  # noqa: PLC0414 -- re-exported: defined here before
from ._hl7_segments import NOT_CURRENT as NOT_CURRENT  # noqa: PLC0414 -- re-exported: defined here before

if TYPE_CHECKING:
    from fundguard.agent.service import CheckOutcome

__all__ = ["APPLICATION", "MESSAGE_TYPES", "Rejected", "charset", "decode", "encode_ack", "encode_error", "load"]

MESSAGE_TYPES = {("RDE", "O11"): "RXE", ("OMP", "O09"): "RXO", ("DFT", "P03"): "FT1"}  # type → line segment
NOT_LINES = frozenset({"PY", "AJ"})


# ---- bytes, header ----------------------------------------------------------------------------------------------


def charset(raw: bytes) -> str:
    """The Python codec to answer `raw` in: the character set its MSH-18 names when supported, else UTF-8."""
    return CHARSETS.get(msh18(first_line(raw[:4096].decode("latin-1"))), "utf-8")


def load(raw: bytes) -> str:
    """Message bytes → text in the character set MSH-18 names; `Rejected` naming MSH-18 when that fails."""
    declared = msh18(first_line(raw[:4096].decode("latin-1")))
    codec = CHARSETS.get(declared)
    if codec is None:
        raise Rejected(f"character set {declared[:40]!r} is not handled (UNICODE UTF-8, GB 18030-2000 are)", "MSH-18")
    try:
        return raw.decode(codec).removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise Rejected(f"not {CHARSET_NAMES[codec]} text (byte {exc.start}); MSH-18 names the character set",
                       "MSH-18") from None  # fmt: skip


def _message_type(msh: Seg) -> str:
    """The line segment of a handled message type (RXE, RXO, FT1); `Rejected` naming MSH-9 / MSH-12 otherwise."""
    kind, trigger = msh.get(9).upper(), msh.get(9, 2).upper()
    if not kind:
        raise Rejected("is required (message type, e.g. RDE^O11)", "MSH-9", "200")
    if (kind, trigger) not in MESSAGE_TYPES:
        shown = f"{kind}^{trigger}"[:40]
        raise Rejected(f"message type {shown} is not handled (RDE^O11, OMP^O09, DFT^P03 are)", "MSH-9", "200")
    version = msh.get(12)
    if version and not version.startswith("2."):
        raise Rejected(f"version {version[:20]!r} is not handled (HL7 v2.x is)", "MSH-12", "203")
    return MESSAGE_TYPES[kind, trigger]


# ---- decoding ---------------------------------------------------------------------------------------------------


def decode(message: str) -> ParsedRequest:
    """An RDE^O11, OMP^O09 or DFT^P03 message → validated request; InvalidField / Rejected naming the location."""
    segs = segments(message)
    msh = segs[0]
    line_seg = _message_type(msh)
    if not msh.get(10):
        raise InvalidField("is required (message control ID)", "MSH-10")
    named: dict[str, list[Seg]] = {}
    for seg in segs:
        named.setdefault(seg.name, []).append(seg)
    if "PID" not in named:
        raise InvalidField("is required (the patient)", "PID")
    pid, pv1 = named["PID"][0], named.get("PV1", [Seg("PV1", "PV1")])[0]
    mapping = RequestMapping()
    encounter = mapping.encounter(pid, pv1, named.get("DG1", []))
    if line_seg == "FT1":
        charges = [ft1 for ft1 in named.get("FT1", []) if ft1.get(6).upper() not in NOT_LINES]
        if not charges:
            raise InvalidField("is required (at least one charge line)", "FT1")
        encounter["orders"] = [mapping.charge(n, ft1) for n, ft1 in enumerate(charges)]
    else:
        groups = order_groups(segs, line_seg)
        encounter["orders"] = [mapping.order(n, group, line_seg) for n, group in enumerate(groups)]
    request = {
        "patient": mapping.patient(pid),
        "encounter": encounter,
        "task_id": msh.get(10),
        "service_date": hl7_date(msh.get(7), "MSH-7"),
        "locale": "en" if msh.get(19).lower().startswith("en") else "zh-CN",
    }
    try:
        return parse_request(request)
    except InvalidField as exc:
        raise InvalidField(exc.message, mapping.location(exc.field)) from None


# ---- ACKs -------------------------------------------------------------------------------------------------------


def encode_ack(
    outcome: CheckOutcome, message: str, *, control_id: str, now: datetime, application: str = APPLICATION
) -> str:
    """The AA answering `message`: one ERR + NTE per alert (layout in `_hl7_ack`'s docstring)."""
    w = Writer(header(message))
    result = outcome.result
    count = len(result.alerts)
    w.start("AA", control_id, now, application, f"{count} alert{'' if count == 1 else 's'}; KB {result.kb_revision}")
    for n, alert in enumerate(result.alerts, 1):
        write_alert(w, n, alert)
    return w.message()


def encode_error(
    err: FundguardError,
    message: str | None = None,
    *,
    control_id: str,
    now: datetime,
    application: str = APPLICATION,
) -> str:
    """AR for `Rejected`, AE for any other error (`message` is the request text, if any could be read): MSA-3
    and ERR-8 say "location: problem", ERR-2 is the location."""
    if isinstance(err, Rejected):
        ack, hl7_code = "AR", err.hl7_code
    elif isinstance(err, InvalidField):
        ack, hl7_code = "AE", "101" if err.message.startswith("is required") else "102"
    else:
        ack, hl7_code = "AE", "207"
    w = Writer(header(message))
    w.start(ack, control_id, now, application, str(err))
    write_error(w, err, hl7_code)
    return w.message()
