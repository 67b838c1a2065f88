"""The readers of trace-code import files (`fundguard trace import`: CSV, JSON array, JSON Lines) on 10,000 files.

Content is built from the real column names, codes, separators, quotes, brackets, braces, blank lines, stray bytes
and truncation. `read_rows` must yield only `Row`s and `BadRow`s (a bad line reported with its number, never a
crash, never a line dropped silently), with line numbers that start at 1 and never go back.
"""

from __future__ import annotations

import random
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from fundguard.agent.trace.readers import BadRow, Row, read_rows

from . import FUZZ

PIECES = (
    "drug_trac_codg", "manu_lotnum", "expy_end", ",", ";", '"', "'", "\n", "\r\n", "[", "]", "{", "}", ":", " ",
    '{"drug_trac_codg": "83857930000879766660", "expy_end": "2027-05-31"}', "83857930000879766660", "2027-05-31",
    "null", "1e999", "中文", "\t", "\\", "\ufeff",
)  # fmt: skip
SUFFIXES = (".csv", ".txt", ".json", ".jsonl", ".ndjson")
TAILS = (b"", b"\xff", b"\xd6\xd0", b"\x00")


def import_file(seed: int) -> tuple[str, bytes]:
    """(suffix, content) of an import file, built from `seed`."""
    rng = random.Random(seed)
    text = "".join(rng.choice(PIECES) for _ in range(rng.randrange(30)))
    return rng.choice(SUFFIXES), text.encode("utf-8") + rng.choice(TAILS)


def test_any_import_file_yields_rows_and_reported_bad_lines_only(tmp_path: Path) -> None:
    """10,000 files: only Row / BadRow come out, line numbers >= 1 and non-decreasing, every BadRow says why."""

    @FUZZ
    @given(st.integers(0, 2**32 - 1))
    def prop(seed: int) -> None:
        suffix, content = import_file(seed)
        path = tmp_path / f"import{suffix}"
        path.write_bytes(content)
        last = 0
        for item in read_rows(path):
            assert isinstance(item, Row | BadRow)
            assert item.line >= max(last, 1)
            last = item.line
            if isinstance(item, BadRow):
                assert item.reason

    prop()
