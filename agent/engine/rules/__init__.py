"""Rule families, one module each; `FAMILIES` maps a family name to its `Family`."""

from __future__ import annotations

from importlib import import_module

from ..texts import register
from ._base import Context, Family, Finding, Hit

__all__ = ["FAMILIES", "FAMILY_MODULES", "Context", "Family", "Finding", "Hit"]

# family name -> module in this package (the module defines FAMILY and TEXTS)
FAMILY_MODULES: dict[str, str] = {
    "sex": "sex",
    "age": "age",
    "insurance": "insurance",
    "visit": "visit",
    "level": "level",
    "indication": "indication",
    "second_line": "second_line",
    "herbal": "herbal",
    "pair": "pair",
    "frequency": "frequency",
    "course": "course",
    "interval": "interval",
    "surgery": "surgery",
    "internet": "internet",
}


def _load() -> dict[str, Family]:
    families: dict[str, Family] = {}
    for name, module_name in FAMILY_MODULES.items():
        module = import_module(f"{__name__}.{module_name}")
        register(module.TEXTS)
        family: Family = module.FAMILY
        if family.name != name:
            raise ValueError(f"rules/{module_name}.py declares family {family.name!r}, registered as {name!r}")
        families[name] = family
    return families


FAMILIES: dict[str, Family] = _load()
