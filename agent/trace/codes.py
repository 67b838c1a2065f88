"""Drug traceability codes (药品追溯码) as scanned: tell a domestic code from a GS1 one and take it apart, or say
why not.

Two kinds reach a pharmacy's scanner:
- the domestic 20-digit code of the 码上放心 platform: a 7-digit 药品标识码 (product, spec and package level; it starts
  with 8) and a 13-digit serial. Its tail is sometimes said to hold check digits, but that is unverifiable, so no
  check digit is tested;
- a GS1 element string, mostly on imports: AI (01) GTIN + (21) serial, often (17) expiry and (10) batch. It comes
  either raw (FNC1 as the GS character, \\x1d) or in the human-readable "(01)…(21)…" form. `biip` parses it and checks
  the GTIN's check digit and the dates.

`parse_code` is pure (no I/O, no clock): the ledger, its importer and the check edge all call it, and the engine's
`trace` rules explain its `CodeProblem.reason` keys to the clinician. A scanner's AIM symbology prefix ("]d2",
"]Q3", "]C1", …) is accepted and dropped, and so are full-width characters typed through a Chinese input method.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from biip import BiipException
from biip.gs1_element_strings import GS1ElementString
from biip.gs1_messages import GS1Message

__all__ = ["DOMESTIC_LENGTH", "MAX_CODE_LENGTH", "CodeKind", "CodeProblem", "TraceCode", "parse_code"]

DOMESTIC_LENGTH = 20  # 7-digit 药品标识码 + 13-digit serial
DOMESTIC_PRODUCT_LENGTH = 7
DOMESTIC_FIRST_DIGIT = "8"
MAX_CODE_LENGTH = 100  # drugtracinfo[].drug_trac_codg is C100 in the newer 3505 specs
GS1_CACHE_SIZE = 16_384  # distinct GS1 codes whose parse is kept (a few MB)

GS = "\x1d"  # FNC1 / group separator inside a raw GS1 element string
# AIM symbology identifier: "]" + symbology letter + modifier; these modifiers announce GS1 data
_SYMBOLOGY = re.compile(r"\][A-Za-z][0-9A-Za-z]")
_GS1_SYMBOLOGIES = frozenset({"]C1", "]d2", "]Q3", "]e0", "]J1"})
# full-width ASCII (U+FF01–FF5E) and the ideographic space, as a Chinese IME in full-width mode types them
_HALF_WIDTH = {0xFF01 + i: 0x21 + i for i in range(0x5E)} | {0x3000: 0x20}


class CodeKind(StrEnum):
    """Which family of code a scan is."""

    DOMESTIC = "domestic"
    GS1 = "gs1"


@dataclass(frozen=True, slots=True)
class TraceCode:
    """A well-formed code. `key` is its identity in the ledger (one box, one key, whichever form was scanned)."""

    raw: str  # as scanned, surrounding whitespace stripped
    kind: CodeKind
    key: str  # domestic: the 20 digits; GS1: "01" + GTIN + "21" + serial
    product_key: str  # domestic: the 7-digit 药品标识码; GS1: the 14-digit GTIN
    serial: str  # domestic: the last 13 digits; GS1: AI 21
    expiry: date | None = None  # GS1 AI 17 (YYMMDD; day 00 means the last day of the month)
    batch: str = ""  # GS1 AI 10


@dataclass(frozen=True, slots=True)
class CodeProblem:
    """A scan that is not a well-formed code: a short reason key and the specifics in English.

    Reasons: "empty", "chars", "length", "prefix" (domestic); "gs1" (the GS1 parser's complaint, or an AI given
    twice), "gs1_gtin" (no AI 01, or a wrong GTIN check digit), "gs1_serial" (no AI 21).
    """

    raw: str
    reason: str
    detail: str


def parse_code(raw: str) -> TraceCode | CodeProblem:
    """Classify and take apart one scanned code; never raises on any text."""
    text = raw.strip()
    if not text:
        return CodeProblem(text, "empty", "no code scanned")
    if len(text) > MAX_CODE_LENGTH:
        return CodeProblem(text, "length", f"{len(text)} characters, a code has at most {MAX_CODE_LENGTH}")
    body = text.translate(_HALF_WIDTH)
    gs1_symbology = False
    prefix = _SYMBOLOGY.match(body)
    if prefix:
        gs1_symbology = prefix.group() in _GS1_SYMBOLOGIES
        body = body[prefix.end() :]
    body = body.lstrip(GS)  # a leading FNC1 only marks GS1 data
    if not body:
        return CodeProblem(text, "empty", "nothing after the scanner's symbology prefix")
    if body.startswith("("):
        return _gs1(text, body, hri=True)
    if gs1_symbology or GS in body:
        return _gs1(text, body, hri=False)
    if body.isascii() and body.isdigit():
        if len(body) == DOMESTIC_LENGTH:
            return _domestic(text, body)
        if body.startswith("01") and len(body) > DOMESTIC_LENGTH:  # an all-digit GS1 string (numeric serial)
            code = _gs1(text, body, hri=False)
            if isinstance(code, TraceCode) or code.reason != "gs1":
                return code
        return CodeProblem(text, "length", f"{len(body)} digits, a domestic code has {DOMESTIC_LENGTH}")
    if body.startswith("01"):  # GTIN first: what a GS1 string without its FNC1 looks like
        return _gs1(text, body, hri=False)
    return CodeProblem(text, "chars", _bad_char(body))


def _domestic(text: str, digits: str) -> TraceCode | CodeProblem:
    if not digits.startswith(DOMESTIC_FIRST_DIGIT):
        return CodeProblem(
            text, "prefix", f"starts with {digits[0]}, a domestic code starts with {DOMESTIC_FIRST_DIGIT}"
        )
    return TraceCode(
        raw=text,
        kind=CodeKind.DOMESTIC,
        key=digits,
        product_key=digits[:DOMESTIC_PRODUCT_LENGTH],
        serial=digits[DOMESTIC_PRODUCT_LENGTH:],
    )


@functools.lru_cache(maxsize=GS1_CACHE_SIZE)
def _gs1(text: str, body: str, *, hri: bool) -> TraceCode | CodeProblem:
    """biip's parse (~55 µs: it is general) once per distinct code: a box is parsed again at its re-check and at
    its dispense, so those hit the cache (results are immutable)."""
    try:
        message = GS1Message.parse_hri(body) if hri else GS1Message.parse(body)
    except BiipException as exc:
        return CodeProblem(text, "gs1", str(exc))
    by_ai: dict[str, GS1ElementString] = {}
    for element in message.element_strings:
        ai = element.ai.ai
        seen = by_ai.setdefault(ai, element)
        if seen.value != element.value:
            return CodeProblem(text, "gs1", f"AI ({ai}) given twice with different values")
    gtin = by_ai.get("01")
    if gtin is None:
        return CodeProblem(text, "gs1_gtin", "no GTIN (AI 01)")
    if gtin.gtin_error:
        return CodeProblem(text, "gs1_gtin", gtin.gtin_error)
    serial = by_ai.get("21")
    if serial is None:
        return CodeProblem(text, "gs1_serial", "no serial number (AI 21)")
    expiry = by_ai.get("17")
    batch = by_ai.get("10")
    return TraceCode(
        raw=text,
        kind=CodeKind.GS1,
        key=f"01{gtin.value}21{serial.value}",
        product_key=gtin.value,
        serial=serial.value,
        expiry=expiry.date if expiry is not None else None,
        batch=batch.value if batch is not None else "",
    )


def _bad_char(body: str) -> str:
    for position, char in enumerate(body, 1):
        if not ("0" <= char <= "9"):
            shown = repr(char) if char.isprintable() else f"U+{ord(char):04X}"
            return f"character {shown} at position {position} is not a digit"
    return "not a code"  # unreachable: all-ASCII-digit bodies are handled before
