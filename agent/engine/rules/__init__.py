"""Rule families, one module each; `FAMILIES` maps a family name to its `Family`."""

from __future__ import annotations

from importlib import import_module

from ..texts import register
from ._base import Context, Family, Finding, Hit

__all__ = ["FAMILIES", "FAMILY_MODULES", "Context", "Family", "Finding", "Hit"]

# the rule families, one module each in this package, named after the family (the module defines FAMILY and TEXTS)
FAMILY_MODULES: tuple[str, ...] = (
    "sex",
    "age",
    "insurance",
    "visit",
    "level",
    "indication",
    "second_line",
    "herbal",
    "pair",
    "frequency",
    "course",
    "interval",
    "surgery",
    "internet",
)


def _load() -> dict[str, Family]:
    families: dict[str, Family] = {}
    for name in FAMILY_MODULES:
        module = import_module(f"{__name__}.{name}")
        register(module.TEXTS)
        family: Family = module.FAMILY
        if family.name != name:
            raise ValueError(f"rules/{name}.py declares family {family.name!r}")
        families[name] = family
    return families


FAMILIES: dict[str, Family] = _load()
