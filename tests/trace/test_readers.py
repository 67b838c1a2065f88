"""Streaming import readers: CSV, JSON arrays and JSON Lines give each record with the line it starts on, every
unreadable line as a bad row with its reason (reading goes on), GB 18030 files are read, arrays larger than the
reader's buffer are decoded whole, and the byte counter reaches the file's size.

The format cases live in `readers_cases.json`: `{name, suffix, content, expected: [[line, fields] | [line,
reason_contains]]}`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fundguard.agent.trace.readers import CHUNK_CHARS, BadRow, ByteCounter, Row, read_rows

CASES: list[dict[str, Any]] = json.loads((Path(__file__).parent / "readers_cases.json").read_text(encoding="utf-8"))


def _simple(items: list[Row | BadRow]) -> list[list[Any]]:
    return [[i.line, i.fields] if isinstance(i, Row) else [i.line, i.reason] for i in items]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_reader_case(tmp_path: Path, case: dict[str, Any]) -> None:
    """Records and bad lines come out in file order with their line numbers, as the case says."""
    path = tmp_path / f"in{case['suffix']}"
    path.write_bytes(case["content"].encode("utf-8"))
    got = _simple(list(read_rows(path)))
    assert len(case["expected"]) == len(got)
    for want, item in zip(case["expected"], got, strict=True):
        if isinstance(want[1], str):
            assert want[0] == item[0]
            assert want[1] in item[1]
        else:
            assert want == item


def test_gb18030_csv(tmp_path: Path) -> None:
    """A CSV exported by a HIS in GB 18030 is read as such."""
    path = tmp_path / "in.csv"
    path.write_bytes("drug_trac_codg,memo\n83857930000879766660,维生素B1片\n".encode("gb18030"))
    assert [[2, {"drug_trac_codg": "83857930000879766660", "memo": "维生素B1片"}]] == _simple(list(read_rows(path)))


def test_undecodable_byte_later_in_a_utf8_file_is_replaced(tmp_path: Path) -> None:
    """A stray byte past the sniffed head becomes U+FFFD on its line (which validation then rejects)."""
    path = tmp_path / "in.csv"
    filler = "".join(f"8385793{n:013d}\n" for n in range(5000))
    path.write_bytes(b"drug_trac_codg\n" + filler.encode() + b"83857930000\xff879766660\n")
    last = list(read_rows(path))[-1]
    assert isinstance(last, Row)
    assert (5002, "83857930000\ufffd879766660") == (last.line, last.fields["drug_trac_codg"])


def test_array_larger_than_the_buffer_is_read_whole(tmp_path: Path) -> None:
    """A 4-chunk JSON array, pretty-printed: every element, each on its own line number."""
    items = [{"drug_trac_codg": f"8385793{n:013d}", "manu_lotnum": "L" * 40} for n in range(20_000)]
    text = "[\n" + ",\n".join(json.dumps(i) for i in items) + "\n]\n"
    assert len(text) > 4 * CHUNK_CHARS
    path = tmp_path / "big.json"
    path.write_text(text, encoding="utf-8")
    got = list(read_rows(path))
    assert list(range(2, 20_002)) == [r.line for r in got]
    assert items == [r.fields for r in got if isinstance(r, Row)]


def test_byte_counter_reaches_the_file_size(tmp_path: Path) -> None:
    """After reading, the counter handed out has counted every byte of the file."""
    path = tmp_path / "in.csv"
    path.write_text("drug_trac_codg\n" + "".join(f"8385793{n:013d}\n" for n in range(30_000)), encoding="utf-8")
    counter: list[ByteCounter] = []
    assert 30_000 == sum(1 for _ in read_rows(path, counter))
    assert path.stat().st_size == counter[0].done
