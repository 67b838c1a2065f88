"""Parse a request body's text as one JSON object, refusing anything else with an InvalidField (field "").

Every JSON transport decodes bytes its own way (the national gateway tolerates GB18030, FHIR is UTF-8 only), then
calls `json_object` so the refusals read the same everywhere.
"""

from __future__ import annotations

import json
from typing import Any

from fundguard.agent.engine.errors import InvalidField

__all__ = ["json_object"]


def json_object(source: str) -> dict[str, Any]:
    """`source` (a leading BOM is ignored) as a JSON object, else InvalidField naming what is wrong."""
    try:
        doc = json.loads(source.removeprefix("\ufeff"))
    except json.JSONDecodeError as exc:
        raise InvalidField(f"not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})", "") from None
    except (ValueError, RecursionError) as exc:  # over-long integer literals, absurd nesting
        raise InvalidField(f"not usable JSON ({type(exc).__name__})", "") from None
    if not isinstance(doc, dict):
        raise InvalidField("the request must be a JSON object", "")
    return doc
