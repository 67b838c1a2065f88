"""Choose national codes from a compiled KB for bench encounters: by rule family and parameters, each code once.

Only codes whose points in force all belong to the wanted family are taken, so a line exercises the family it is
meant for. Points are visited in kp_id order, so the same KB always gives the same encounters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date

from fundguard.agent.engine import CompiledKB
from fundguard.agent.engine.index import CompiledPoint

__all__ = ["CodePicker", "Pick"]

Pick = tuple[CompiledPoint, str]


class CodePicker:
    """Chooses codes from the KB: by family and parameters, points in force on the service date, each code once."""

    def __init__(self, kb: CompiledKB, day: date) -> None:
        self._kb = kb
        self._day = day
        self._used: set[str] = set()
        self._points = sorted(kb.points.values(), key=lambda p: p.kp_id)

    def _in_force(self, code: str) -> list[CompiledPoint]:
        return [p for p in self._kb.points_for(code) if p.applies_on(self._day)]

    def points(self, family: str, pred: Callable[[CompiledPoint], bool] = lambda _: True) -> Iterator[CompiledPoint]:
        """Points of `family` in force on the service date that satisfy `pred`, by kp_id."""
        return (p for p in self._points if p.family == family and p.applies_on(self._day) and pred(p))

    def alone(self, code: str, family: str) -> bool:
        """True when every point in force under `code` is of `family` (so the line exercises that family only)."""
        pts = self._in_force(code)
        return bool(pts) and all(p.family == family for p in pts)

    def take(self, code: str) -> None:
        """Mark `code` as used."""
        self._used.add(code)

    def free(self, code: str) -> bool:
        """True when `code` was not used yet."""
        return code not in self._used

    def one(self, family: str, pred: Callable[[CompiledPoint], bool] = lambda _: True, prefix: str = "") -> Pick | None:
        """The first unused code of a matching point that only `family` covers (optionally with a code prefix)."""
        for point in self.points(family, pred):
            for code in point.codes:
                if code.startswith(prefix) and self.free(code) and self.alone(code, family):
                    self.take(code)
                    return point, code
        return None

    def pair(self) -> tuple[CompiledPoint, str, str] | None:
        """A pair point whose items A and B are both only pair items, unused."""
        for point in self.points("pair"):
            a, b = point.params.a, point.params.b
            if self.free(a) and self.free(b) and self.alone(a, "pair") and self.alone(b, "pair"):
                self.take(a)
                self.take(b)
                return point, a, b
        return None

    def surgery_group(self) -> tuple[CompiledPoint, str, CompiledPoint, str] | None:
        """Two operations of one surgery group (for the second-operation discount rule)."""
        by_group: dict[str, list[Pick]] = {}
        for point in self.points("surgery"):
            code = point.codes[0]
            if self.free(code) and self.alone(code, "surgery"):
                by_group.setdefault(point.params.group, []).append((point, code))
        for picks in by_group.values():
            if len(picks) >= 2:
                (p1, c1), (p2, c2) = picks[0], picks[1]
                self.take(c1)
                self.take(c2)
                return p1, c1, p2, c2
        return None

    def sibling(self, atc: frozenset[str], generic: str) -> str | None:
        """A western-drug code of the KB in one of the ATC classes `atc` with another generic (first-line evidence)."""
        for code in sorted(self._kb.ids_by_code):
            if code.startswith("X") and len(code) >= 10 and code[1:6] in atc and code[6:10] != generic:
                return code
        return None
