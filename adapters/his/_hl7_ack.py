"""The ACK writer behind `hl7v2.encode_ack` (AA) and `hl7v2.encode_error` (AE/AR).

ACKs are written in the request's delimiters and character set, built here rather than by python-hl7's
`Message.create_ack` (which reads the clock and fails on a malformed MSH-9) from values escaped with its `escape`:
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
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import hl7

from fundguard.agent.engine.errors import FundguardError
from fundguard.agent.engine.model import Alert, WorkflowImpact

from ._hl7_segments import CHARSET_NAMES, CHARSETS, Rejected, check_header, first_line, msh18

__all__ = ["APPLICATION", "Header", "Writer", "header", "write_alert", "write_error"]

APPLICATION = "FUNDGUARD"
_HL7_ERRORS = {"0": "Message accepted", "100": "Segment sequence error", "101": "Required field missing",
               "102": "Data type error", "200": "Unsupported message type", "203": "Unsupported version id",
               "207": "Application internal error"}  # fmt: skip
_DEFAULT_DELIMS = "|^~\\&"
_LOCATION = re.compile(r"([A-Z][A-Z0-9]{2})(?:\[(\d+)\])?(?:-(\d+)(?:\.(\d+))?)?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TEXT_RUNS = re.compile(r"[\x20-\x7e\r]+|[^\x00-\x7f]+|[\x00-\x1f\x7f]")
_ECHO_MAX = 199  # characters of a request's MSH field echoed in the ACK
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Header:
    """What an ACK takes from the request's MSH: delimiters (MSH-1 + MSH-2), raw fields, the answer's codec."""

    delims: str = _DEFAULT_DELIMS
    fields: tuple[str, ...] = ()
    codec: str = "utf-8"

    def raw(self, n: int) -> str:
        """MSH-n as sent (escaped in these delimiters), control characters dropped, at most 199 characters."""
        return _CONTROL.sub("", self.fields[n - 1])[:_ECHO_MAX] if n - 1 < len(self.fields) else ""


def header(message: str | None) -> Header:
    first = first_line(message or "")
    try:
        check_header(first)
    except Rejected:
        return Header()
    return Header(first[3:8], tuple(first.split(first[3])), CHARSETS.get(msh18(first), "utf-8"))


class Writer:
    """ACK segments in the request's delimiters; values escaped with python-hl7's `escape` (see `text`)."""

    def __init__(self, header: Header) -> None:
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
                  h.raw(12) or "2.5", "", "", "", "", "", CHARSET_NAMES[h.codec]]  # fmt: skip
        self._segments.append("MSH" + h.delims[0] + h.delims[1:] + h.delims[0] + self.fs.join(fields))
        self.add("MSA", code, h.raw(10), self.text(text))

    def message(self) -> str:
        return "\r".join(self._segments) + "\r"


def _amount(value: Decimal) -> str:
    return str(value.quantize(_CENT))


def write_alert(w: Writer, n: int, alert: Alert) -> None:
    """The ERR and NTE of the AA's `n`-th alert."""
    parameters = (alert.jr_id, alert.kp_id, alert.sev_deg, alert.workflow_impact.value, _amount(alert.vola_amt))
    severity = "I" if alert.workflow_impact == WorkflowImpact.INFO else "W"
    w.add("ERR", "", "", w.join(w.comp, ("0", _HL7_ERRORS["0"], "HL70357")), severity,
          w.join(w.comp, (alert.rule_id, alert.rule_name, APPLICATION)), w.join(w.rep, (*parameters, *alert.rx_ids)),
          w.text(alert.vola_evid), w.text(alert.vola_cont))  # fmt: skip
    w.add("NTE", str(n), "L", w.text(alert.vola_cont))


def _location(w: Writer, field: str) -> str:
    """`RXE[2]-10.1` → ERL `RXE^2^10^1^1`; "" when the field names no segment."""
    match = _LOCATION.fullmatch(field)
    if not match:
        return ""
    segment, occurrence, position, component = match.groups()
    return w.join(w.comp, (segment, occurrence or "1", position or "", "1" if component else "", component or ""))


def write_error(w: Writer, err: FundguardError, hl7_code: str) -> None:
    """The AE/AR's ERR: `err`'s location, its HL7 table 0357 `hl7_code`, fundguard's code and the problem."""
    w.add("ERR", "", _location(w, err.field), w.join(w.comp, (hl7_code, _HL7_ERRORS.get(hl7_code, ""), "HL70357")),
          "E", w.join(w.comp, (err.code, "", APPLICATION)), "", "", w.text(str(err)))  # fmt: skip
