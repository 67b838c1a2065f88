"""Load the hospital's code map from CSV and apply it to requests before the engine sees them.

Hospitals keep a 医保目录对照 table (hospital item code → national code); HIS exports it as CSV. The file has a
header row with at least `hosplist_code` and `hilist_code` (extra columns such as names are ignored); UTF-8 (with
or without BOM) or GB18030. Every problem is reported with its line number; one hospital code mapped to two
different national codes is an error, the same pair twice is not.

`CodeMap.resolve(request)` fills `hilist_code` on every order line (current, earlier and history) that carries
only a `hosplist_code` found in the map. A line whose code is not in the map keeps `hilist_code` "": the engine
raises the "unmapped code" alert for it. A line that already has a national code is left alone.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType

from fundguard.agent.engine.model import CheckRequest, Encounter, OrderLine

__all__ = ["REQUIRED_COLUMNS", "CodeMap", "CodeMapError", "load_code_map", "parse_code_map"]

REQUIRED_COLUMNS = ("hosplist_code", "hilist_code")
MAX_PROBLEMS = 20


class CodeMapError(Exception):
    """The code map file is unreadable or invalid; `problems` has one `line N: ...` entry per defect."""

    def __init__(self, source: str, problems: list[str]) -> None:
        shown = problems[:MAX_PROBLEMS]
        more = f"\n  … and {len(problems) - MAX_PROBLEMS} more" if len(problems) > MAX_PROBLEMS else ""
        super().__init__(f"code map {source}:\n  " + "\n  ".join(shown) + more)
        self.problems = tuple(problems)


@dataclass(frozen=True, slots=True)
class CodeMap:
    """hosplist_code → hilist_code (immutable)."""

    codes: Mapping[str, str]
    source: str = ""

    def __len__(self) -> int:
        return len(self.codes)

    def national(self, hosplist_code: str) -> str | None:
        """The national code a hospital code maps to, or None."""
        return self.codes.get(hosplist_code.strip())

    def _line(self, line: OrderLine) -> OrderLine:
        if line.hilist_code or not line.hosplist_code:
            return line
        code = self.codes.get(line.hosplist_code)
        return line if code is None else replace(line, hilist_code=code)

    def _encounter(self, enc: Encounter) -> Encounter:
        if all(o.hilist_code for o in enc.orders):
            return enc
        return replace(enc, orders=tuple(self._line(o) for o in enc.orders))

    def resolve(self, request: CheckRequest) -> CheckRequest:
        """The request with mapped national codes filled in (the same object when nothing needed mapping)."""
        encounter = self._encounter(request.encounter)
        history = tuple(self._encounter(e) for e in request.history)
        if encounter is request.encounter and all(a is b for a, b in zip(history, request.history, strict=True)):
            return request
        return replace(request, encounter=encounter, history=history)


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("gb18030", errors="replace")


def parse_code_map(rows: Iterable[Mapping[str, str | None]], source: str = "") -> CodeMap:
    """Build a map from CSV rows (DictReader); raises CodeMapError listing every bad row (line numbers from 2)."""
    codes: dict[str, str] = {}
    first_line: dict[str, int] = {}
    problems: list[str] = []
    for n, row in enumerate(rows, 2):
        hosp = (row.get("hosplist_code") or "").strip()
        national = (row.get("hilist_code") or "").strip()
        if not hosp and not national:
            continue  # a blank line
        if not hosp or not national:
            missing = "hosplist_code" if not hosp else "hilist_code"
            problems.append(f"line {n}: {missing} is empty")
            continue
        known = codes.get(hosp)
        if known is not None and known != national:
            earlier = first_line[hosp]
            problems.append(f"line {n}: hosplist_code {hosp!r} maps to {national!r}, line {earlier} to {known!r}")
            continue
        codes[hosp] = national
        first_line.setdefault(hosp, n)
    if problems:
        raise CodeMapError(source, problems)
    return CodeMap(MappingProxyType(codes), source)


def load_code_map(path: Path) -> CodeMap:
    """Read and validate the CSV at `path`; CodeMapError naming the file and each bad line."""
    try:
        text = _decode(path.read_bytes())
    except OSError as exc:
        raise CodeMapError(str(path), [f"cannot read ({exc.strerror or exc})"]) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise CodeMapError(str(path), [f"line 1: header must have columns {', '.join(missing)} (found {header})"])
    reader.fieldnames = header
    try:
        return parse_code_map(reader, str(path))
    except csv.Error as exc:
        raise CodeMapError(str(path), [f"line {reader.line_num}: not CSV ({exc})"]) from None
