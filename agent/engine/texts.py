"""Alert texts as data: one template per key and locale, filled with str.format fields.

Each rule family declares its templates in a `TEXTS` mapping next to its code ({key: {"zh-CN": ..., "en": ...}});
`rules/__init__.py` registers them here. Chinese is the default; an unknown locale falls back to Chinese.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["DEFAULT_LOCALE", "register", "render", "resolve_locale"]

DEFAULT_LOCALE = "zh-CN"
_TEMPLATES: dict[str, Mapping[str, str]] = {}


def register(texts: Mapping[str, Mapping[str, str]]) -> None:
    """Add a family's templates; a key may be registered once."""
    for key, by_locale in texts.items():
        if key in _TEMPLATES and _TEMPLATES[key] != by_locale:
            raise ValueError(f"alert text {key!r} registered twice")
        if DEFAULT_LOCALE not in by_locale:
            raise ValueError(f"alert text {key!r} has no {DEFAULT_LOCALE} template")
        _TEMPLATES[key] = by_locale


def resolve_locale(locale: str) -> str:
    """The template locale for a requested one: "en" for any English tag, else Chinese."""
    return "en" if (locale or "").lower().startswith("en") else DEFAULT_LOCALE


def render(key: str, locale: str, fields: Mapping[str, object]) -> str:
    """Fill template `key` for `locale` (any tag; resolved by `resolve_locale`); missing fields render empty."""
    by_locale = _TEMPLATES[key]
    template = by_locale.get(locale) or by_locale.get(resolve_locale(locale)) or by_locale[DEFAULT_LOCALE]
    try:
        return template.format_map(fields)
    except KeyError:  # a field the family did not pass renders empty
        return template.format_map(_Lenient(fields))


class _Lenient(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return ""
