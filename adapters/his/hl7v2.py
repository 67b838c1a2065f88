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

ACK (`encode_ack` AA, `encode_error` AE/AR), in the request's delimiters and character set, built here rather than
by python-hl7's `Message.create_ack` (which reads the clock and fails on a malformed MSH-9) from values escaped
with its `escape`:
- MSH-3..6 swapped from the request, MSH-7 the time passed in, MSH-9 ACK^<trigger>^ACK, MSH-10 the control id
  passed in, MSH-11/12 echoed, MSH-18 the answer's character set. MSA-1 code, MSA-2 the request's MSH-10, MSA-3
  a summary (AA) or "location: problem".
- AA: per alert one ERR and one NTE. ERR-3 `0^Message accepted^HL70357`; ERR-4 W (block, reason-required) or I
  (info); ERR-5 rule_id^rule_name^FUNDGUARD; ERR-6 repetitions jr_id~kp_id~sev_deg~workflow_impact~vola_amt, then
  one per rx_id concerned (jr_id is what clinicians' decisions refer to); ERR-7 vola_evid; ERR-8 vola_cont.
  NTE-1 the alert's number, NTE-2 L, NTE-3 vola_cont.
- AE/AR: one ERR. ERR-2 the location as ERL (`RXE[2]-10` → `RXE^2^10`), ERR-3 HL7 table 0357 (100 segment,
  101 required field missing, 102 data error, 200 unsupported message type, 203 unsupported version, 207
  application error), ERR-4 E, ERR-5 fundguard's error code, ERR-8 the problem.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import hl7
from hl7.util import unescape

from fundguard.agent.engine.errors import FundguardError, InvalidField
from fundguard.agent.engine.model import Alert, WorkflowImpact
from fundguard.agent.intake import ParsedRequest, parse_date, parse_request

if TYPE_CHECKING:
    from fundguard.agent.service import CheckOutcome

__all__ = ["APPLICATION", "MESSAGE_TYPES", "Rejected", "charset", "decode", "encode_ack", "encode_error", "load"]

MESSAGE_TYPES = {("RDE", "O11"): "RXE", ("OMP", "O09"): "RXO", ("DFT", "P03"): "FT1"}  # type → line segment
APPLICATION = "FUNDGUARD"
NATIONAL_SYSTEMS = frozenset({"NHSA", "HILIST"})
GENDERS = {"M": "1", "F": "2", "U": "0", "O": "9", "A": "9", "N": "9", "0": "0", "1": "1", "2": "2", "9": "9"}
MED_TYPES = {"I": "21", "O": "11", "E": "13"}
NOT_CURRENT = frozenset({"CA", "DC", "OC", "OD"})
NOT_LINES = frozenset({"PY", "AJ"})
_CHARSETS = {"": "utf-8", "ASCII": "utf-8", "UNICODE UTF-8": "utf-8", "UTF-8": "utf-8", "GB 18030-2000": "gb18030",
             "GB18030": "gb18030", "GBK": "gb18030", "GB2312": "gb18030"}  # fmt: skip
_CHARSET_NAMES = {"utf-8": "UNICODE UTF-8", "gb18030": "GB 18030-2000"}
_HL7_ERRORS = {"0": "Message accepted", "100": "Segment sequence error", "101": "Required field missing",
               "102": "Data type error", "200": "Unsupported message type", "203": "Unsupported version id",
               "207": "Application internal error"}  # fmt: skip
_SINGLE = ("MSH", "PID", "PV1")
_BATCH = ("BHS", "BTS", "FHS", "FTS")
_DEFAULT_DELIMS = "|^~\\&"
_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{2}")
_DTM = re.compile(r"(\d{4})(\d{2})(\d{2})(?:\d{2}(?:\d{2}(?:\d{2}(?:\.\d{1,4})?)?)?)?(?:[+-]\d{4})?")
_KNOWN_ESCAPE = re.compile(r"[FSTRE]|\.(?:br|sp|fi|nf|in|ti|sk|ce)(?:[+-]?\d{1,3})?|X(?:[0-9A-Fa-f]{2})+")
_LOCATION = re.compile(r"([A-Z][A-Z0-9]{2})(?:\[(\d+)\])?(?:-(\d+)(?:\.(\d+))?)?")
_LAST_STEP = re.compile(r"(?:\.[^.\[\]]*|\[\d+\])$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TEXT_RUNS = re.compile(r"[\x20-\x7e\r]+|[^\x00-\x7f]+|[\x00-\x1f\x7f]")
_ECHO_MAX = 199  # characters of a request's MSH field echoed in the ACK
_CENT = Decimal("0.01")


class Rejected(InvalidField):
    """A message that cannot be processed at all (answered AR); `hl7_code` is its HL7 table 0357 code."""

    code = "rejected"

    def __init__(self, message: str, field: str = "", hl7_code: str = "102") -> None:
        super().__init__(message, field)
        self.hl7_code = hl7_code


# ---- bytes, header, segments ------------------------------------------------------------------------------------


def _first_line(message: str) -> str:
    return re.split(r"[\r\n]", message.lstrip("\ufeff \t\r\n"), maxsplit=1)[0].strip()


def _msh18(first: str) -> str:
    fields = first.split(first[3]) if first.startswith("MSH") and len(first) > 5 else []
    return fields[17].split(first[5])[0].strip().upper() if len(fields) > 17 else ""


def charset(raw: bytes) -> str:
    """The Python codec to answer `raw` in: the character set its MSH-18 names when supported, else UTF-8."""
    return _CHARSETS.get(_msh18(_first_line(raw[:4096].decode("latin-1"))), "utf-8")


def load(raw: bytes) -> str:
    """Message bytes → text in the character set MSH-18 names; `Rejected` naming MSH-18 when that fails."""
    declared = _msh18(_first_line(raw[:4096].decode("latin-1")))
    codec = _CHARSETS.get(declared)
    if codec is None:
        raise Rejected(f"character set {declared[:40]!r} is not handled (UNICODE UTF-8, GB 18030-2000 are)", "MSH-18")
    try:
        return raw.decode(codec).removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise Rejected(f"not {_CHARSET_NAMES[codec]} text (byte {exc.start}); MSH-18 names the character set",
                       "MSH-18") from None  # fmt: skip


def _check_header(first: str) -> None:
    if first[:3] in _BATCH:
        raise Rejected("batches and files are not handled: one message per frame", "MSH", "100")
    if not first.startswith("MSH"):
        raise Rejected("not an HL7 v2 message (it must start with MSH)", "MSH", "100")
    fs = first[3:4]
    end = first.find(fs, 4) if fs else -1
    delims = fs + (first[4:end] if end > 0 else "")
    if len(delims) not in (5, 6) or len(set(delims)) != len(delims) or any(c not in string.punctuation for c in delims):
        raise Rejected("MSH-1 and MSH-2 must be five distinct delimiters (|^~\\&)", "MSH-2")


def _unescape(container: Any, value: str) -> str:
    """python-hl7's unescape after dropping unknown escape sequences (it logs those with the field's content)."""
    esc = container.esc
    if esc not in value:
        return value
    sequence = re.escape(esc) + "([^" + re.escape(esc) + "]*)" + re.escape(esc)
    known = re.sub(sequence, lambda m: m[0] if _KNOWN_ESCAPE.fullmatch(m[1]) else "", value)
    return str(unescape(container, known))


@dataclass(frozen=True, slots=True)
class _Seg:
    """One segment: its id, its location (`PID`, `RXE[2]`) and the python-hl7 segment (empty when absent)."""

    name: str
    where: str
    raw: Any = ()

    def at(self, field: int, component: int = 1) -> str:
        return f"{self.where}-{field}" + (f".{component}" if component > 1 else "")

    def get(self, field: int, component: int = 1, sub: int = 1) -> str:
        """The unescaped, stripped value of the field's first repetition's component ("" when absent)."""
        node: Any = self.raw[field] if field < len(self.raw) else ""
        path = (1, component, sub)
        for depth, index in enumerate(path):
            if isinstance(node, str):
                if any(i != 1 for i in path[depth:]):
                    return ""
                break
            node = node[index - 1] if index <= len(node) else ""
        while not isinstance(node, str):  # deeper than asked: follow the first child
            node = node[0] if len(node) else ""
        return _unescape(self.raw, node).strip() if node else ""


def _segments(message: str) -> list[_Seg]:
    lines = [line.strip() for line in re.split(r"\r\n|\r|\n", message.removeprefix("\ufeff")) if line.strip()]
    if not lines:
        raise Rejected("empty message", "MSH", "100")
    _check_header(lines[0])
    for n, line in enumerate(lines[1:], 2):
        if line[:3] in (*_BATCH, "MSH"):
            raise Rejected("one message per frame (batches are not handled)", f"segment {n}", "100")
        if not _SEGMENT_ID.fullmatch(line[:3]) or line[3:4] not in ("", lines[0][3]):
            raise InvalidField(f"not an HL7 segment: {line[:10]!r}", f"segment {n}")
    try:
        parsed = hl7.parse("\r".join(lines))
    except Exception as exc:  # the parser raises assorted exceptions on malformed input
        raise Rejected(f"not parseable as HL7 v2 ({type(exc).__name__})", "MSH", "102") from None
    counts: dict[str, int] = {}
    out: list[_Seg] = []
    for segment in parsed:
        name = str(segment[0])
        counts[name] = k = counts.get(name, 0) + 1
        if name in _SINGLE and k > 1:
            raise InvalidField(f"more than one {name} segment (one patient and visit per message)", f"{name}[{k}]")
        out.append(_Seg(name, name if name in _SINGLE else f"{name}[{k}]", segment))
    return out


def _message_type(msh: _Seg) -> str:
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


def _date(value: str, where: str) -> str:
    """HL7 DTM (YYYYMMDD[HHMM[SS[.S]]][+ZZZZ], or yyyy-MM-dd…) → yyyy-MM-dd; "" stays ""."""
    match = _DTM.fullmatch(value)
    try:
        if match:
            return date(int(match[1]), int(match[2]), int(match[3])).isoformat()
        day = parse_date(value, where)
        return day.isoformat() if day else ""
    except (ValueError, InvalidField):
        raise InvalidField(f"not an HL7 date/time: {value[:40]!r} (expected YYYYMMDD[HHMM[SS]])", where) from None


def _first_date(candidates: Iterable[tuple[_Seg, int, int]]) -> str:
    for seg, field, component in candidates:
        value = seg.get(field, component)
        if value:
            return _date(value, seg.at(field, component))
    return ""


def _negated(value: str, negate: bool) -> str:
    return f"-{value}" if negate and value and not value.startswith("-") else value


def _code(seg: _Seg, field: int) -> tuple[str, str, str]:
    """(hilist_code, hosplist_code, name) of a CWE item code (see the module docstring)."""
    hilist = hosp = ""
    for first in (1, 4):
        ident = seg.get(field, first)
        if ident and seg.get(field, first + 2).upper() in NATIONAL_SYSTEMS:
            hilist = hilist or ident
        elif ident and not hosp:
            hosp = ident
    if not hilist and not hosp:
        raise InvalidField("is required (the item's code)", seg.at(field))
    return hilist, hosp, seg.get(field, 2)


class _Mapping:
    """The proto-JSON-shaped request being built, with each field's HL7 location for error messages."""

    def __init__(self) -> None:
        self.where: dict[str, str] = {}

    def put(
        self, target: dict[str, Any], path: str, key: str, seg: _Seg, field: int, *, value: str | None = None
    ) -> None:
        target[key] = seg.get(field) if value is None else value
        self.where[f"{path}.{key}"] = seg.at(field)

    def location(self, field: str) -> str:
        path = field
        while path not in self.where:
            shorter = _LAST_STEP.sub("", path)
            if shorter == path:
                return field
            path = shorter
        return self.where[path]

    def patient(self, pid: _Seg) -> dict[str, Any]:
        sex = pid.get(8).upper()
        if sex not in GENDERS:
            problem = f"{sex[:10]!r} is not M, F, U or O (HL7 table 0001)" if sex else "is required (M, F, U or O)"
            raise InvalidField(problem, pid.at(8))
        if not pid.get(7):
            raise InvalidField("is required (date of birth, YYYYMMDD)", pid.at(7))
        patient: dict[str, Any] = {}
        self.where["patient"] = pid.where
        self.put(patient, "patient", "patn_id", pid, 3)
        self.put(patient, "patient", "gend", pid, 8, value=GENDERS[sex])
        self.put(patient, "patient", "brdy", pid, 7, value=_date(pid.get(7), pid.at(7)))
        return patient

    def encounter(self, pid: _Seg, pv1: _Seg, diagnoses: list[_Seg]) -> dict[str, Any]:
        enc: dict[str, Any] = {}
        if pv1.get(19) or not pid.get(18):
            self.put(enc, "encounter", "mdtrt_id", pv1, 19)
        else:
            self.put(enc, "encounter", "mdtrt_id", pid, 18)
        if not enc["mdtrt_id"]:
            raise InvalidField("is required (the visit number; else PID-18, the account number)", pv1.at(19))
        self.put(enc, "encounter", "med_type", pv1, 2, value=MED_TYPES.get(pv1.get(2).upper(), ""))
        self.put(enc, "encounter", "dr_codg", pv1, 7)
        for key, field in (("adm_date", 44), ("dscg_date", 45)):
            self.put(enc, "encounter", key, pv1, field, value=_date(pv1.get(field), pv1.at(field)))
        main = next((n for n, dg1 in enumerate(diagnoses) if dg1.get(15) == "1"), 0)
        enc["diagnoses"] = [self.diagnosis(n, dg1, n == main) for n, dg1 in enumerate(diagnoses)]
        return enc

    def diagnosis(self, n: int, dg1: _Seg, main: bool) -> dict[str, Any]:
        path = f"encounter.diagnoses[{n}]"
        self.where[path] = dg1.where
        item: dict[str, Any] = {"maindise_flag": main, "dise_name": dg1.get(3, 2) or dg1.get(4)}
        self.put(item, path, "dise_codg", dg1, 3)
        self.put(item, path, "dise_date", dg1, 5, value=_date(dg1.get(5), dg1.at(5)))
        return item

    def _line(self, n: int, seg: _Seg, code_field: int) -> tuple[str, dict[str, Any]]:
        path = f"encounter.orders[{n}]"
        self.where[path] = seg.where
        hilist, hosp, name = _code(seg, code_field)
        line: dict[str, Any] = {"hilist_code": hilist, "hosplist_code": hosp, "hilist_name": name}
        self.where[f"{path}.hilist_code"] = self.where[f"{path}.hosplist_code"] = seg.at(code_field)
        return path, line

    def order(self, n: int, group: dict[str, _Seg], line_seg: str) -> dict[str, Any]:
        orc, seg = group["ORC"], group.get(line_seg)
        if seg is None:
            raise InvalidField(f"has no {line_seg} (each order is ORC + {line_seg})", orc.where)
        path, line = self._line(n, seg, 2 if line_seg == "RXE" else 1)
        self.put(line, path, "rx_id", orc, 3 if not orc.get(2) and orc.get(3) else 2)
        self.put(line, path, "rxno", orc, 4)
        self.put(line, path, "drord_dr_codg", orc, 12)
        line["curr_drord_flag"] = "0" if orc.get(1).upper() in NOT_CURRENT else "1"
        amounts = (10, 3) if line_seg == "RXE" else (11, 2)
        self.put(line, path, "cnt", seg, next((f for f in amounts if seg.get(f)), amounts[0]))
        tq1 = group.get("TQ1", _Seg("TQ1", "TQ1"))
        line["drord_begn_date"] = _first_date([(tq1, 7, 1), (orc, 7, 4), (orc, 15, 1), (orc, 9, 1)])
        line["drord_stop_date"] = _first_date([(tq1, 8, 1), (orc, 7, 5)])
        if "FT1" in group:
            self.put(line, path, "pric", group["FT1"], 12)
            self.put(line, path, "sumamt", group["FT1"], 11)
        return line

    def charge(self, n: int, ft1: _Seg) -> dict[str, Any]:
        path, line = self._line(n, ft1, 7)
        line["hilist_name"] = line["hilist_name"] or ft1.get(8)
        self.put(line, path, "rx_id", ft1, 2 if ft1.get(2) or not ft1.get(1) else 1)
        credit = ft1.get(6).upper() == "CD"  # a refund line: negative count and total, never alerted itself
        self.put(line, path, "cnt", ft1, 10, value=_negated(ft1.get(10) or "1", credit))
        self.put(line, path, "pric", ft1, 12)
        self.put(line, path, "sumamt", ft1, 11, value=_negated(ft1.get(11), credit))
        self.put(line, path, "drord_begn_date", ft1, 4, value=_date(ft1.get(4), ft1.at(4)))
        self.put(line, path, "drord_dr_codg", ft1, 21)
        return line


def _order_groups(segs: list[_Seg], line_seg: str) -> list[dict[str, _Seg]]:
    """ORC-started groups with the first RXE/RXO/TQ1/FT1 each holds."""
    groups: list[dict[str, _Seg]] = []
    for seg in segs:
        if seg.name == "ORC":
            groups.append({"ORC": seg})
        elif seg.name in ("RXE", "RXO", "TQ1", "FT1"):
            if not groups:
                raise InvalidField("comes before any ORC (each order starts with ORC)", seg.where)
            groups[-1].setdefault(seg.name, seg)
    if not groups:
        raise InvalidField(f"is required (at least one order: ORC + {line_seg})", "ORC")
    return groups


def decode(message: str) -> ParsedRequest:
    """An RDE^O11, OMP^O09 or DFT^P03 message → validated request; InvalidField / Rejected naming the location."""
    segs = _segments(message)
    msh = segs[0]
    line_seg = _message_type(msh)
    if not msh.get(10):
        raise InvalidField("is required (message control ID)", "MSH-10")
    named: dict[str, list[_Seg]] = {}
    for seg in segs:
        named.setdefault(seg.name, []).append(seg)
    if "PID" not in named:
        raise InvalidField("is required (the patient)", "PID")
    pid, pv1 = named["PID"][0], named.get("PV1", [_Seg("PV1", "PV1")])[0]
    mapping = _Mapping()
    encounter = mapping.encounter(pid, pv1, named.get("DG1", []))
    if line_seg == "FT1":
        charges = [ft1 for ft1 in named.get("FT1", []) if ft1.get(6).upper() not in NOT_LINES]
        if not charges:
            raise InvalidField("is required (at least one charge line)", "FT1")
        encounter["orders"] = [mapping.charge(n, ft1) for n, ft1 in enumerate(charges)]
    else:
        groups = _order_groups(segs, line_seg)
        encounter["orders"] = [mapping.order(n, group, line_seg) for n, group in enumerate(groups)]
    request = {
        "patient": mapping.patient(pid),
        "encounter": encounter,
        "task_id": msh.get(10),
        "service_date": _date(msh.get(7), "MSH-7"),
        "locale": "en" if msh.get(19).lower().startswith("en") else "zh-CN",
    }
    try:
        return parse_request(request)
    except InvalidField as exc:
        raise InvalidField(exc.message, mapping.location(exc.field)) from None


# ---- ACKs -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Header:
    """What an ACK takes from the request's MSH: delimiters (MSH-1 + MSH-2), raw fields, the answer's codec."""

    delims: str = _DEFAULT_DELIMS
    fields: tuple[str, ...] = ()
    codec: str = "utf-8"

    def raw(self, n: int) -> str:
        """MSH-n as sent (escaped in these delimiters), control characters dropped, at most 199 characters."""
        return _CONTROL.sub("", self.fields[n - 1])[:_ECHO_MAX] if n - 1 < len(self.fields) else ""


def _header(message: str | None) -> _Header:
    first = _first_line(message or "")
    try:
        _check_header(first)
    except Rejected:
        return _Header()
    return _Header(first[3:8], tuple(first.split(first[3])), _CHARSETS.get(_msh18(first), "utf-8"))


class _Writer:
    """ACK segments in the request's delimiters; values escaped with python-hl7's `escape` (see `text`)."""

    def __init__(self, header: _Header) -> None:
        self.header = header
        self.fs, self.comp, self.rep, esc, sub = (header.delims[i] for i in range(5))
        self._context = hl7.Message(separators="\r" + self.fs + self.rep + self.comp + sub, esc=esc)
        self._segments: list[str] = []

    def text(self, value: str) -> str:
        """Delimiters and line breaks escaped by python-hl7; other control characters dropped; non-ASCII kept
        (sent in the MSH-18 character set: python-hl7 would write a code point as \\Xhh\\ bytes, wrong past 0xFF)."""
        out = []
        for run in _TEXT_RUNS.findall(value.replace("\r\n", "\r").replace("\n", "\r")):
            if run[0] == "\r" or " " <= run[0] <= "~":
                out.append(str(self._context.escape(run)))
            elif run[0] >= "\x80":
                out.append(run)
        return "".join(out)

    def join(self, separator: str, values: Iterable[str]) -> str:
        return separator.join(self.text(v) for v in values).rstrip(separator)

    def add(self, name: str, *fields: str) -> None:
        self._segments.append(self.fs.join((name, *fields)).rstrip(self.fs))

    def start(self, code: str, control_id: str, now: datetime, application: str, text: str) -> None:
        """MSH and MSA of an ACK answering the header's message."""
        h = self.header
        components = h.raw(9).split(self.rep)[0].split(self.comp)
        trigger = re.sub(r"[^A-Za-z0-9]", "", components[1])[:3] if len(components) > 1 else ""
        stamp = now.strftime("%Y%m%d%H%M%S") + (now.strftime("%z") if now.tzinfo else "")
        fields = [h.raw(5) or self.text(application), h.raw(6), h.raw(3), h.raw(4), stamp, "",
                  self.join(self.comp, ("ACK", trigger, "ACK")), self.text(control_id), h.raw(11) or "P",
                  h.raw(12) or "2.5", "", "", "", "", "", _CHARSET_NAMES[h.codec]]  # fmt: skip
        self._segments.append("MSH" + h.delims[0] + h.delims[1:] + h.delims[0] + self.fs.join(fields))
        self.add("MSA", code, h.raw(10), self.text(text))

    def message(self) -> str:
        return "\r".join(self._segments) + "\r"


def _amount(value: Decimal) -> str:
    return str(value.quantize(_CENT))


def _alert(w: _Writer, n: int, alert: Alert) -> None:
    parameters = (alert.jr_id, alert.kp_id, alert.sev_deg, alert.workflow_impact.value, _amount(alert.vola_amt))
    severity = "I" if alert.workflow_impact == WorkflowImpact.INFO else "W"
    w.add("ERR", "", "", w.join(w.comp, ("0", _HL7_ERRORS["0"], "HL70357")), severity,
          w.join(w.comp, (alert.rule_id, alert.rule_name, APPLICATION)), w.join(w.rep, (*parameters, *alert.rx_ids)),
          w.text(alert.vola_evid), w.text(alert.vola_cont))  # fmt: skip
    w.add("NTE", str(n), "L", w.text(alert.vola_cont))


def encode_ack(
    outcome: CheckOutcome, message: str, *, control_id: str, now: datetime, application: str = APPLICATION
) -> str:
    """The AA answering `message`: one ERR + NTE per alert (layout in the module docstring)."""
    w = _Writer(_header(message))
    result = outcome.result
    count = len(result.alerts)
    w.start("AA", control_id, now, application, f"{count} alert{'' if count == 1 else 's'}; KB {result.kb_revision}")
    for n, alert in enumerate(result.alerts, 1):
        _alert(w, n, alert)
    return w.message()


def _location(w: _Writer, field: str) -> str:
    """`RXE[2]-10.1` → ERL `RXE^2^10^1^1`; "" when the field names no segment."""
    match = _LOCATION.fullmatch(field)
    if not match:
        return ""
    segment, occurrence, position, component = match.groups()
    return w.join(w.comp, (segment, occurrence or "1", position or "", "1" if component else "", component or ""))


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
    w = _Writer(_header(message))
    w.start(ack, control_id, now, application, str(err))
    w.add("ERR", "", _location(w, err.field), w.join(w.comp, (hl7_code, _HL7_ERRORS.get(hl7_code, ""), "HL70357")),
          "E", w.join(w.comp, (err.code, "", APPLICATION)), "", "", w.text(str(err)))  # fmt: skip
    return w.message()
