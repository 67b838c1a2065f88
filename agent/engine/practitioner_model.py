"""What the practitioner checks read: the bureau's 医保支付资格 statuses, as the agent last received them.

Under 医保发〔2024〕23号 a practitioner whose points reach 9 in a natural year has his payment qualification
suspended for 1–6 months, at 12 it is terminated; meanwhile the fund does not pay for his services (emergency and
rescue excepted), in every institution where he practises. The central platform holds the statuses; the agent
caches them (`agent.practitioners`) and, before a check, hands the engine a `PractitionerFacts` snapshot. The
`practitioner` rules (`agent.engine.practitioner_rules`) judge the order lines' doctors against it.

The practitioner key is the national 医保医师代码 (also 医保护士/药师代码): `D` or `N` followed by 12 digits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

__all__ = [
    "NATIONAL_CODE_LENGTH",
    "NORMAL",
    "STATUSES",
    "SUSPENDED",
    "TERMINATED",
    "WARNED",
    "PractitionerFacts",
    "Qualification",
    "is_national_code",
]

NORMAL = "normal"
WARNED = "warned"
SUSPENDED = "suspended"
TERMINATED = "terminated"
STATUSES = frozenset({NORMAL, WARNED, SUSPENDED, TERMINATED})

NATIONAL_CODE_LENGTH = 13
_NATIONAL_PREFIXES = ("D", "N")


@dataclass(frozen=True, slots=True)
class Qualification:
    """One practitioner's 医保支付资格 status: `status` one of `STATUSES`; `until` the first day the suspension no
    longer applies (exclusive end), None when open-ended or not suspended."""

    status: str
    until: date | None = None

    def blocks_on(self, day: date) -> bool:
        """True when the fund does not pay for this practitioner's services used on `day`: terminated, or suspended
        with `day` before `until` (a suspension without an end date blocks until the bureau lifts it)."""
        if self.status == TERMINATED:
            return True
        return self.status == SUSPENDED and (self.until is None or day < self.until)


@dataclass(frozen=True, slots=True)
class PractitionerFacts:
    """The snapshot the practitioner rules read: qualification by practitioner code (codes absent are normal), and
    whether codes that are not national 医保医师代码 get an information alert (off by default: many HIS still send
    their local doctor codes, and the hospital switches this on once it has mapped them)."""

    statuses: Mapping[str, Qualification] = field(default_factory=dict)
    check_code_format: bool = False


def is_national_code(code: str) -> bool:
    """True for a national 医保医师代码: 13 characters, `D` or `N` then 12 ASCII digits."""
    digits = code[1:]
    return (
        len(code) == NATIONAL_CODE_LENGTH
        and code.startswith(_NATIONAL_PREFIXES)
        and digits.isascii()
        and digits.isdigit()
    )
