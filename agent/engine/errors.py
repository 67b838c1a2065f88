"""One error vocabulary for every transport: a stable code plus the field path it concerns.

Transports map these in one place each (gRPC INVALID_ARGUMENT + BadRequest, HTTP 422, national infcode,
HL7 AE ACK); business code raises them and never talks protocol.
"""

from __future__ import annotations

__all__ = ["FundguardError", "InvalidField", "KbInvalid", "KbUnavailable"]


class FundguardError(Exception):
    """Base of fundguard's domain errors; `code` is stable and machine-readable."""

    code = "internal"

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class InvalidField(FundguardError):
    """A request field is missing or malformed; `field` is its dotted path (e.g. `encounter.orders[2].cnt`)."""

    code = "invalid_field"


class KbUnavailable(FundguardError):
    """No knowledge base is loaded, so no check can run."""

    code = "kb_unavailable"


class KbInvalid(FundguardError):
    """A knowledge-base bundle does not follow the bundle format; `field` names where."""

    code = "kb_invalid"
