"""The files an installation writes from templates: the systemd unit, the config template and the logrotate snippet.

The templates (`templates/*.in`, package data) use `${name}` placeholders filled from a `Layout`: paths and the
service user, nothing else, so a rendered file differs between two installs only where their layouts differ.
"""

from __future__ import annotations

from importlib import resources
from string import Template

from .layout import Layout

__all__ = ["render_config", "render_logrotate", "render_unit", "template_text"]

_PACKAGE = "fundguard.installer"


def template_text(name: str) -> str:
    """The raw text of `templates/NAME` (works from a wheel, a work tree and the bundle's zipapp alike)."""
    return resources.files(_PACKAGE).joinpath("templates", name).read_text(encoding="utf-8")


def _render(name: str, layout: Layout) -> str:
    return Template(template_text(name)).substitute(layout.substitutions())


def render_unit(layout: Layout) -> str:
    """fundguard.service for this layout: ExecStart from `current`, writable only the data and log dirs."""
    return _render("fundguard.service.in", layout)


def render_config(layout: Layout) -> str:
    """The agent's TOML config template for this layout (data dir, example paths under the config dir)."""
    return _render("fundguard.toml.in", layout)


def render_logrotate(layout: Layout) -> str:
    """The logrotate snippet for the agent's log file."""
    return _render("fundguard.logrotate.in", layout)
