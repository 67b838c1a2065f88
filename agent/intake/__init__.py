"""The edge where requests are validated once: scalar parsers and the JSON-shaped request model."""

from __future__ import annotations

from .request import ParsedRequest, parse_request
from .scalars import parse_date, parse_decimal, parse_flag, text

__all__ = ["ParsedRequest", "parse_date", "parse_decimal", "parse_flag", "parse_request", "text"]
