"""Shared types of the importer: what a derivation returns and the signature every family deriver has."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._source import SourcePoint

__all__ = ["Derivation", "Deriver", "Params"]

Params = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Derivation:
    """A family's reading of one point's text.

    `params` is None when the text does not give the parameter; `reason` then says why (the override table
    must supply it, or the point is reported as not compiled). `notes` are remarks for the review report (a
    derivation that worked but deserves a second look).
    """

    params: Params | None
    reason: str = ""
    notes: tuple[str, ...] = field(default=())

    @classmethod
    def of(cls, params: Params, *notes: str) -> Derivation:
        """A successful derivation."""
        return cls(params, "", notes)

    @classmethod
    def missing(cls, reason: str) -> Derivation:
        """The text does not give the parameter."""
        return cls(None, reason)


# (point, global KB parameters) -> derivation
Deriver = Callable[[SourcePoint, Mapping[str, Any]], Derivation]
