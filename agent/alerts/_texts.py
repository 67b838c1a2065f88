"""The alert-card texts as data: `card_texts.json` next to this module, read and checked once at import.

The file holds, per locale (zh-CN, en), the labels of severity, workflow impact, line role, detail rows and the
CDS Hooks extras; the catalogue of override reasons (code → text per locale); and which reasons each rule class
offers (`default` for a class without a list of its own). A locale missing a label, a reason missing a locale or
a class naming an unknown reason fails the import: the file ships inside the package, so that is a build error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Any

__all__ = ["DATA_FILE", "LOCALES", "TEXTS", "CardTexts", "load_texts", "parse_texts"]

DATA_FILE = "card_texts.json"
LOCALES = ("zh-CN", "en")  # the first is the default


@dataclass(frozen=True, slots=True)
class CardTexts:
    """The parsed text data, read-only: labels[locale][group][key], reasons[code][locale], reason codes per class."""

    labels: Mapping[str, Mapping[str, Mapping[str, str]]]
    reasons: Mapping[str, Mapping[str, str]]
    default_reasons: tuple[str, ...]
    reasons_by_class: Mapping[str, tuple[str, ...]]


def _object(doc: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = doc.get(key)
    if not isinstance(value, dict):
        raise ValueError(f"{DATA_FILE}: {key} is missing")
    return value


def _strings(obj: Any, where: str) -> Mapping[str, str]:
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, str) and v for v in obj.values()):
        raise ValueError(f"{DATA_FILE}: {where} must be an object of non-empty strings")
    return MappingProxyType(dict(obj))


def _codes(obj: Any, reasons: Mapping[str, Any], where: str) -> tuple[str, ...]:
    if not isinstance(obj, list) or not obj or len(set(obj)) != len(obj):
        raise ValueError(f"{DATA_FILE}: {where} must be a list of distinct reason codes")
    unknown = [code for code in obj if code not in reasons]
    if unknown:
        raise ValueError(f"{DATA_FILE}: {where} names unknown reason {unknown[0]!r}")
    return tuple(obj)


def parse_texts(doc: Mapping[str, Any]) -> CardTexts:
    """Check and freeze the parsed JSON; ValueError naming the place when a locale or reference is missing."""
    labels: dict[str, Mapping[str, Mapping[str, str]]] = {}
    for locale in LOCALES:
        groups = _object(doc, "labels").get(locale)
        if not isinstance(groups, dict):
            raise ValueError(f"{DATA_FILE}: labels.{locale} is missing")
        labels[locale] = MappingProxyType({g: _strings(v, f"labels.{locale}.{g}") for g, v in groups.items()})
    base = labels[LOCALES[0]]
    for locale in LOCALES[1:]:
        shape = {g: set(v) for g, v in labels[locale].items()}
        if shape != {g: set(v) for g, v in base.items()}:
            raise ValueError(f"{DATA_FILE}: labels.{locale} has not the same keys as labels.{LOCALES[0]}")
    raw_reasons = doc.get("reasons")
    if not isinstance(raw_reasons, dict) or not raw_reasons:
        raise ValueError(f"{DATA_FILE}: reasons is missing")
    reasons = {code: _strings(texts, f"reasons.{code}") for code, texts in raw_reasons.items()}
    for code, texts in reasons.items():
        if set(texts) != set(LOCALES):
            raise ValueError(f"{DATA_FILE}: reasons.{code} needs exactly the locales {', '.join(LOCALES)}")
    offered = _object(doc, "override_reasons")
    by_class = offered.get("by_rule_class")
    if not isinstance(by_class, dict):
        raise ValueError(f"{DATA_FILE}: override_reasons.by_rule_class is missing")
    return CardTexts(
        labels=MappingProxyType(labels),
        reasons=MappingProxyType(reasons),
        default_reasons=_codes(offered.get("default"), reasons, "override_reasons.default"),
        reasons_by_class=MappingProxyType(
            {cls: _codes(codes, reasons, f"override_reasons.by_rule_class.{cls}") for cls, codes in by_class.items()}
        ),
    )


def load_texts() -> CardTexts:
    """Read and check the packaged `card_texts.json`."""
    package = __name__.rpartition(".")[0]
    raw = resources.files(package).joinpath(DATA_FILE).read_text(encoding="utf-8")
    return parse_texts(json.loads(raw))


TEXTS = load_texts()
