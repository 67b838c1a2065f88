"""Segment access and field mapping behind `hl7v2.decode` (the mapping is described in `hl7v2`'s docstring).

Header checks (shared with the ACK writer); `segments` → located `Seg`s (`PID`, `RXE[2]`) with unescaped values;
`RequestMapping` builds the request, remembering each field's HL7 location to name it in `parse_request`'s errors;
`order_groups` groups orders by ORC. `Rejected` and the decoding tables live here; `hl7v2` re-exports them.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import hl7
from hl7.util import unescape

from fundguard.agent.engine.errors import InvalidField
from fundguard.agent.intake import parse_date

__all__ = [
    "CHARSETS",
    "CHARSET_NAMES",
    "GENDERS",
    "MED_TYPES",
    "NATIONAL_SYSTEMS",
    "NOT_CURRENT",
    "Rejected",
    "RequestMapping",
    "Seg",
    "check_header",
    "first_line",
    "hl7_date",
    "msh18",
    "order_groups",
    "segments",
]

NATIONAL_SYSTEMS = frozenset({"NHSA", "HILIST"})
GENDERS = {"M": "1", "F": "2", "U": "0", "O": "9", "A": "9", "N": "9", "0": "0", "1": "1", "2": "2", "9": "9"}
MED_TYPES = {"I": "21", "O": "11", "E": "13"}
NOT_CURRENT = frozenset({"CA", "DC", "OC", "OD"})
CHARSETS = {"": "utf-8", "ASCII": "utf-8", "UNICODE UTF-8": "utf-8", "UTF-8": "utf-8", "GB 18030-2000": "gb18030",
            "GB18030": "gb18030", "GBK": "gb18030", "GB2312": "gb18030"}  # fmt: skip
CHARSET_NAMES = {"utf-8": "UNICODE UTF-8", "gb18030": "GB 18030-2000"}
_SINGLE = ("MSH", "PID", "PV1")
_BATCH = ("BHS", "BTS", "FHS", "FTS")
_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{2}")
_DTM = re.compile(r"(\d{4})(\d{2})(\d{2})(?:\d{2}(?:\d{2}(?:\d{2}(?:\.\d{1,4})?)?)?)?(?:[+-]\d{4})?")
_KNOWN_ESCAPE = re.compile(r"[FSTRE]|\.(?:br|sp|fi|nf|in|ti|sk|ce)(?:[+-]?\d{1,3})?|X(?:[0-9A-Fa-f]{2})+")
_LAST_STEP = re.compile(r"(?:\.[^.\[\]]*|\[\d+\])$")


class Rejected(InvalidField):
    """A message that cannot be processed at all (answered AR); `hl7_code` is its HL7 table 0357 code."""

    code = "rejected"

    def __init__(self, message: str, field: str = "", hl7_code: str = "102") -> None:
        super().__init__(message, field)
        self.hl7_code = hl7_code


def first_line(message: str) -> str:
    return re.split(r"[\r\n]", message.lstrip("\ufeff \t\r\n"), maxsplit=1)[0].strip()


def msh18(first: str) -> str:
    fields = first.split(first[3]) if first.startswith("MSH") and len(first) > 5 else []
    return fields[17].split(first[5])[0].strip().upper() if len(fields) > 17 else ""


def check_header(first: str) -> None:
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
class Seg:
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


def segments(message: str) -> list[Seg]:
    lines = [line.strip() for line in re.split(r"\r\n|\r|\n", message.removeprefix("\ufeff")) if line.strip()]
    if not lines:
        raise Rejected("empty message", "MSH", "100")
    check_header(lines[0])
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
    out: list[Seg] = []
    for segment in parsed:
        name = str(segment[0])
        counts[name] = k = counts.get(name, 0) + 1
        if name in _SINGLE and k > 1:
            raise InvalidField(f"more than one {name} segment (one patient and visit per message)", f"{name}[{k}]")
        out.append(Seg(name, name if name in _SINGLE else f"{name}[{k}]", segment))
    return out


# ---- field mapping ----------------------------------------------------------------------------------------------


def hl7_date(value: str, where: str) -> str:
    """HL7 DTM (YYYYMMDD[HHMM[SS[.S]]][+ZZZZ], or yyyy-MM-dd…) → yyyy-MM-dd; "" stays ""."""
    match = _DTM.fullmatch(value)
    try:
        if match:
            return date(int(match[1]), int(match[2]), int(match[3])).isoformat()
        day = parse_date(value, where)
        return day.isoformat() if day else ""
    except (ValueError, InvalidField):
        raise InvalidField(f"not an HL7 date/time: {value[:40]!r} (expected YYYYMMDD[HHMM[SS]])", where) from None


def _first_date(candidates: Iterable[tuple[Seg, int, int]]) -> str:
    for seg, field, component in candidates:
        value = seg.get(field, component)
        if value:
            return hl7_date(value, seg.at(field, component))
    return ""


def _negated(value: str, negate: bool) -> str:
    return f"-{value}" if negate and value and not value.startswith("-") else value


def _code(seg: Seg, field: int) -> tuple[str, str, str]:
    """(hilist_code, hosplist_code, name) of a CWE item code (see `hl7v2`'s docstring)."""
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


class RequestMapping:
    """The proto-JSON-shaped request being built, with each field's HL7 location for error messages."""

    def __init__(self) -> None:
        self.where: dict[str, str] = {}

    def put(
        self, target: dict[str, Any], path: str, key: str, seg: Seg, field: int, *, value: str | None = None
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

    def patient(self, pid: Seg) -> dict[str, Any]:
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
        self.put(patient, "patient", "brdy", pid, 7, value=hl7_date(pid.get(7), pid.at(7)))
        return patient

    def encounter(self, pid: Seg, pv1: Seg, diagnoses: list[Seg]) -> dict[str, Any]:
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
            self.put(enc, "encounter", key, pv1, field, value=hl7_date(pv1.get(field), pv1.at(field)))
        main = next((n for n, dg1 in enumerate(diagnoses) if dg1.get(15) == "1"), 0)
        enc["diagnoses"] = [self.diagnosis(n, dg1, n == main) for n, dg1 in enumerate(diagnoses)]
        return enc

    def diagnosis(self, n: int, dg1: Seg, main: bool) -> dict[str, Any]:
        path = f"encounter.diagnoses[{n}]"
        self.where[path] = dg1.where
        item: dict[str, Any] = {"maindise_flag": main, "dise_name": dg1.get(3, 2) or dg1.get(4)}
        self.put(item, path, "dise_codg", dg1, 3)
        self.put(item, path, "dise_date", dg1, 5, value=hl7_date(dg1.get(5), dg1.at(5)))
        return item

    def _line(self, n: int, seg: Seg, code_field: int) -> tuple[str, dict[str, Any]]:
        path = f"encounter.orders[{n}]"
        self.where[path] = seg.where
        hilist, hosp, name = _code(seg, code_field)
        line: dict[str, Any] = {"hilist_code": hilist, "hosplist_code": hosp, "hilist_name": name}
        self.where[f"{path}.hilist_code"] = self.where[f"{path}.hosplist_code"] = seg.at(code_field)
        return path, line

    def order(self, n: int, group: dict[str, Seg], line_seg: str) -> dict[str, Any]:
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
        tq1 = group.get("TQ1", Seg("TQ1", "TQ1"))
        line["drord_begn_date"] = _first_date([(tq1, 7, 1), (orc, 7, 4), (orc, 15, 1), (orc, 9, 1)])
        line["drord_stop_date"] = _first_date([(tq1, 8, 1), (orc, 7, 5)])
        if "FT1" in group:
            self.put(line, path, "pric", group["FT1"], 12)
            self.put(line, path, "sumamt", group["FT1"], 11)
        return line

    def charge(self, n: int, ft1: Seg) -> dict[str, Any]:
        path, line = self._line(n, ft1, 7)
        line["hilist_name"] = line["hilist_name"] or ft1.get(8)
        self.put(line, path, "rx_id", ft1, 2 if ft1.get(2) or not ft1.get(1) else 1)
        credit = ft1.get(6).upper() == "CD"  # a refund line: negative count and total, never alerted itself
        self.put(line, path, "cnt", ft1, 10, value=_negated(ft1.get(10) or "1", credit))
        self.put(line, path, "pric", ft1, 12)
        self.put(line, path, "sumamt", ft1, 11, value=_negated(ft1.get(11), credit))
        self.put(line, path, "drord_begn_date", ft1, 4, value=hl7_date(ft1.get(4), ft1.at(4)))
        self.put(line, path, "drord_dr_codg", ft1, 21)
        return line


def order_groups(segs: list[Seg], line_seg: str) -> list[dict[str, Seg]]:
    """ORC-started groups with the first RXE/RXO/TQ1/FT1 each holds."""
    groups: list[dict[str, Seg]] = []
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
