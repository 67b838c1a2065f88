"""Reading CDS Hooks JSON and FHIR R4 resources: the helpers the hook-request and feedback decoders share.

Every failure is an `InvalidField` naming a FHIR-ish location (`prefetch.patient.gender`); resources are validated
with the `fhir.resources.R4B` models. Dates come out in China time, as `agent.intake.parse_request` reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any, TypeVar

from fhir.resources.R4B.fhirtypes import CodeableConceptType, PeriodType, ReferenceType
from pydantic import BaseModel, ValidationError

from fundguard.agent.engine.errors import InvalidField
from fundguard.agent.intake.json_doc import json_object

__all__ = [
    "CHINA", "as_object", "as_string", "bundle_entries", "codes_of", "load", "period_days", "ref_id", "to_day",
    "validate",
]  # fmt: skip

CHINA = timezone(timedelta(hours=8))
M = TypeVar("M", bound=BaseModel)


def load(raw: bytes | str) -> dict[str, Any]:
    """Request bytes/text (UTF-8, BOM tolerated) to a JSON object, else InvalidField with field ""."""
    try:
        source = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise InvalidField("not UTF-8 JSON", "") from None
    return json_object(source)


def as_object(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidField("must be a JSON object", path)
    return value


def as_string(value: Any, path: str, *, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidField("is required (a non-empty string)" if required else "must be a string", path)
    return value.strip()


def _fhir_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not part.startswith(("function-", "json-or-python")):
            name = {"resource_type": "resourceType", "class_fhir": "class"}.get(part, part)
            out += "." + (f"_{name.removesuffix('__ext')}" if name.endswith("__ext") else name)
    return out


def validate(model: type[M], resource: Any, path: str) -> M:
    """One FHIR resource validated with its R4B model; InvalidField at the first bad element."""
    data = as_object(resource, path)
    kind = data.get("resourceType")
    if kind != model.__name__:
        raise InvalidField(f"must be a {model.__name__} resource (resourceType {kind!r})", f"{path}.resourceType")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        raise InvalidField(f"not valid FHIR R4: {msg}", path + _fhir_path(tuple(err.get("loc", ())))) from None
    except RecursionError:
        raise InvalidField("nested too deeply", path) from None


def bundle_entries(bundle: Any, path: str) -> list[tuple[str, Mapping[str, Any]]]:
    """(path, resource) of each entry of a FHIR Bundle."""
    data = as_object(bundle, path)
    if data.get("resourceType") != "Bundle":
        raise InvalidField("must be a FHIR Bundle", f"{path}.resourceType")
    entries = data.get("entry")
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise InvalidField("must be a JSON list", f"{path}.entry")
    out = []
    for n, entry in enumerate(entries):
        where = f"{path}.entry[{n}].resource"
        resource = as_object(entry, f"{path}.entry[{n}]").get("resource")
        out.append((where, as_object(resource, where)))
    return out


def to_day(value: object) -> object:
    """A FHIR date/dateTime as the date parse_request reads (China time); partial dates pass on and are refused."""
    if isinstance(value, datetime):
        return (value.astimezone(CHINA) if value.tzinfo else value).date().isoformat()
    return value.isoformat() if isinstance(value, date) else value


def period_days(period: PeriodType | None) -> tuple[object, object]:
    return (None, None) if period is None else (to_day(period.start), to_day(period.end))


def codes_of(concept: CodeableConceptType | None, systems: frozenset[str]) -> tuple[str, str, str]:
    """(code in `systems`, first other code, display/text) of a CodeableConcept."""
    ours = other = name = ""
    for c in (concept.coding or []) if concept is not None else []:
        if c.code and c.system in systems and not ours:
            ours, name = c.code, name or c.display or ""
        elif c.code and not other:
            other, name = c.code, name or c.display or ""
    return ours, other, (concept.text if concept is not None and concept.text else name)


def ref_id(ref: ReferenceType | str | None) -> str:
    """The id a reference ends with ("Practitioner/ys01" → "ys01"), else the Reference's identifier value."""
    if ref is not None and not isinstance(ref, str):
        ref = ref.reference or (ref.identifier.value if ref.identifier is not None else None)
    return (ref or "").rstrip("/").rpartition("/")[2]
