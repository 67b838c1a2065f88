"""Scalar parsers shared by every transport: national strings in, typed values out, field named on error.

What real HIS send is tolerated (numbers as strings or numbers, null or "" for absent, `yyyyMMdd` dates, numeric
flags); what is wrong raises `InvalidField` with the dotted field path.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from fundguard.agent.engine.errors import InvalidField

__all__ = ["GENDERS", "TRIG_SCENS", "parse_date", "parse_decimal", "parse_flag", "parse_moment", "text"]

GENDERS = frozenset({"0", "1", "2", "9"})
TRIG_SCENS = frozenset(str(n) for n in range(1, 11))
_MAX_DECIMAL = Decimal("1e12")
_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y%m%d%H%M%S", "%Y/%m/%d")


def text(value: object) -> str:
    """A national code/flag/name as a stripped string; None → ""; numbers keep their digits."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def parse_date(value: object, field: str, required: bool = False) -> date | None:
    """yyyy-MM-dd[ HH:mm:ss] (or yyyyMMdd[HHmmss], ISO 'T', slashes) → date; ""/None → None unless required."""
    raw = text(value)
    if not raw:
        if required:
            raise InvalidField("is required (yyyy-MM-dd)", field)
        return None
    if len(raw) >= 10 and raw[4] == "-":
        try:
            day = date.fromisoformat(raw[:10])
        except ValueError:
            pass
        else:
            rest = raw[10:]
            if not rest or rest[0] in " T":
                return day
    if len(raw) == 8 and raw.isdigit():
        try:
            return datetime.strptime(raw, "%Y%m%d").date()
        except ValueError:
            pass
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(raw[:19], fmt).date()
        except ValueError:
            continue
    raise InvalidField(f"not a date: {raw[:40]!r} (expected yyyy-MM-dd or yyyy-MM-dd HH:mm:ss)", field)


def parse_decimal(value: object, field: str, required: bool = False) -> Decimal | None:
    """An exact decimal from a string or number; ""/None → None unless required; NaN/inf/huge refused."""
    if isinstance(value, float):
        value = repr(value)
    raw = text(value)
    if not raw:
        if required:
            raise InvalidField("is required (a decimal number)", field)
        return None
    try:
        number = Decimal(raw)
    except InvalidOperation:
        raise InvalidField(f"not a number: {raw[:40]!r}", field) from None
    if not number.is_finite() or abs(number) >= _MAX_DECIMAL:
        raise InvalidField(f"not a usable number: {raw[:40]!r}", field)
    return number


def parse_flag(value: object) -> bool:
    """National 0/1 flag (string, number or bool) → bool; anything but "1" is False."""
    return text(value) == "1"


def parse_trace_codes(value: object) -> tuple[str, ...]:
    """药品追溯码 of a line, in the shapes HIS systems send: a list of codes, the 3505 `drugtracinfo` list of
    `{"drug_trac_codg": …}`, or one string of codes separated by commas, semicolons or spaces (a scanner's
    buffer). Empty items are dropped; order is kept. ValueError for anything else."""
    if value is None or value == "":
        return ()
    items: list[object]
    if isinstance(value, str):
        items = list(value.replace(";", ",").replace(" ", ",").split(","))
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise ValueError("must be a list of trace codes (or a comma-separated string)")
    out: list[str] = []
    for n, item in enumerate(items):
        code = item.get("drug_trac_codg") if isinstance(item, dict) else item
        if isinstance(code, int) and not isinstance(code, bool):
            code = str(code)
        if not isinstance(code, str):
            raise ValueError(f'item {n} must be a trace code string (or {{"drug_trac_codg": …}})')
        if code.strip():
            out.append(code.strip())
    return tuple(out)


def parse_moment(value: str, field: str, clock: Callable[[], datetime]) -> datetime:
    """An event time (ISO, e.g. yyyy-MM-dd HH:mm:ss); "" → now from `clock`; InvalidField naming `field` otherwise."""
    value = value.strip()
    if not value:
        return clock()
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidField("must be yyyy-MM-dd HH:mm:ss", field) from None
