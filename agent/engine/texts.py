"""Alert texts as data: one template per key and locale, filled with str.format fields.

Each rule family declares its templates in a `TEXTS` mapping next to its code ({key: {"zh-CN": ..., "en": ...}});
`rules/__init__.py` registers them here. Chinese is the default; an unknown locale falls back to Chinese.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["DEFAULT_LOCALE", "register", "render"]

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


def _pick(locale: str) -> str:
    low = (locale or DEFAULT_LOCALE).lower()
    return "en" if low.startswith("en") else DEFAULT_LOCALE


def render(key: str, locale: str, fields: Mapping[str, object]) -> str:
    """Fill template `key` for `locale`; missing fields render as empty."""
    by_locale = _TEMPLATES[key]
    template = by_locale.get(_pick(locale)) or by_locale[DEFAULT_LOCALE]
    return template.format_map(_Lenient(fields))


class _Lenient(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return ""
