"""The hospital → national code map reader (`codes.map_file`) on 10,000 generated CSV files.

Files are built from header variants (right, missing, reordered, padded, with a BOM) and rows of codes, quotes,
separators, blank and ragged lines, CRLF and stray bytes (GB 18030 and broken UTF-8). `load_code_map` must give a
`CodeMap` whose entries are all non-empty, stripped codes, or a `CodeMapError` naming the file and a line — never
another exception.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fundguard.agent.codes import CodeMapError, load_code_map

from . import FUZZ

HEADERS = (
    "hosplist_code,hilist_code",
    "hilist_code,hosplist_code,name",
    " hosplist_code , hilist_code ",
    "\ufeffhosplist_code,hilist_code",
    "hosplist_code",
    "code,national",
    "",
)
CELLS = (
    "H0279543", "XG02BAZ061Z007010279543", "001102000000100", "", " ", '"a,b"', '"', "维生素C", " H1 ", "X1",
    '"H\n1"', "A\tB", ";", "\r", '""', "H0279543 ", "中",
)  # fmt: skip
TAILS = (b"", b"\xff\xfe", b"\xd6\xd0\xce\xc4", b"\x80", b"\x00")


def csv_file(seed: int) -> bytes:
    """A code map file as bytes, built from `seed`."""
    rng = random.Random(seed)
    lines = [rng.choice(HEADERS)]
    for _ in range(rng.randrange(9)):
        lines.append(",".join(rng.choice(CELLS) for _ in range(rng.randrange(5))))
    return rng.choice(("\n", "\r\n", "\r")).join(lines).encode("utf-8") + rng.choice(TAILS)


def test_any_csv_gives_a_map_of_stripped_codes_or_an_error_naming_a_line(tmp_path: Path) -> None:
    """10,000 files: a CodeMap (every hospital and national code non-empty and stripped) or a CodeMapError."""
    path = tmp_path / "code-map.csv"

    @FUZZ
    @given(st.integers(0, 2**32 - 1))
    def prop(seed: int) -> None:
        path.write_bytes(csv_file(seed))
        try:
            codes = load_code_map(path)
        except CodeMapError as exc:
            assert str(path) in str(exc) and exc.problems
            assert all(p.startswith("line ") for p in exc.problems)
            return
        for hosp, national in codes.codes.items():
            assert hosp and national and hosp == hosp.strip() and national == national.strip()

    prop()


@pytest.mark.parametrize("content", [b"hosplist_code,hilist_code\nH1,X1\nH1,X2\n"])
def test_a_conflicting_mapping_is_an_error_not_a_choice(tmp_path: Path, content: bytes) -> None:
    """The fuzz property is not vacuous: one hospital code mapped two ways is refused, naming line 3."""
    path = tmp_path / "code-map.csv"
    path.write_bytes(content)
    with pytest.raises(CodeMapError) as err:
        load_code_map(path)
    assert ["line 3"] == [p.split(":")[0] for p in err.value.problems]
