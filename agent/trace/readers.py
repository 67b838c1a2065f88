"""Streaming readers of import files: CSV with a header row, a JSON array of objects, or JSON Lines.

Each reader yields, in file order, either a `Row` (line number, field name → text) or a `BadRow` (line number,
why): a line that cannot be read as a record (wrong column count, invalid JSON, not an object) is reported, never
dropped silently, and reading goes on. Files are read in chunks through a byte counter, so a million-line file
is never in memory at once and the caller can show progress in bytes.

Encoding: UTF-8 (with or without BOM), else GB 18030 when the first 64 KiB are not UTF-8; an undecodable byte
later on becomes U+FFFD, so the line it is on fails validation and is reported.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = ["BadRow", "ByteCounter", "Row", "read_rows"]

SNIFF_BYTES = 64 * 1024
CHUNK_CHARS = 256 * 1024
LOW_WATER_CHARS = 64 * 1024  # refill the JSON buffer when fewer characters than this are left
MAX_OBJECT_CHARS = 1024 * 1024  # one JSON record is a few hundred characters; past this it is not one
JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")


@dataclass(frozen=True, slots=True)
class Row:
    """One record: the line it starts on (1-based, the header is line 1 in CSV) and its fields as text."""

    line: int
    fields: dict[str, str]


@dataclass(frozen=True, slots=True)
class BadRow:
    """A line that is not a readable record, with the reason."""

    line: int
    reason: str


class ByteCounter(io.RawIOBase):
    """A raw binary stream that counts the bytes read from the file beneath it (for progress)."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.done = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        self.done += len(data)
        return len(data)


def _encoding(path: Path) -> str:
    with path.open("rb") as f:
        head = f.read(SNIFF_BYTES)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8-sig"


def _text(value: object) -> str:
    """A JSON value as field text: strings stripped, numbers as written, null as ""."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _csv_rows(text: io.TextIOBase) -> Iterator[Row | BadRow]:
    reader = csv.reader(text)
    header = [h.strip() for h in next(reader, [])]
    if not header or not any(header):
        yield BadRow(1, "no header row")
        return
    line = reader.line_num
    for values in reader:
        start, line = line + 1, reader.line_num
        if not values or (len(values) == 1 and not values[0].strip()):
            continue  # a blank line
        if len(values) != len(header):
            yield BadRow(start, f"{len(values)} columns, the header has {len(header)}")
            continue
        yield Row(start, {h: v.strip() for h, v in zip(header, values, strict=True) if h})


def _record(line: int, value: object) -> Row | BadRow:
    if not isinstance(value, dict):
        return BadRow(line, f"a record must be a JSON object, not {type(value).__name__}")
    return Row(line, {str(k).strip(): _text(v) for k, v in value.items()})


def _json_array(text: io.TextIOBase, line: int) -> Iterator[Row | BadRow]:
    """Elements of a top-level JSON array (its `[` already read, on `line`), decoded one by one from a sliding
    buffer. After an element that is not valid JSON, reading resumes at the next `{` (records are flat objects)."""
    decoder = json.JSONDecoder()
    buf, pos, eof = "", 0, False

    def refill() -> None:
        nonlocal buf, pos, eof
        more = text.read(CHUNK_CHARS)
        eof = not more
        buf, pos = buf[pos:] + more, 0

    while True:
        if not eof and len(buf) - pos < LOW_WATER_CHARS:
            refill()
        while pos < len(buf) and buf[pos] in " \t\r\n,":
            line += buf[pos] == "\n"
            pos += 1
        if pos >= len(buf):
            if eof:
                return
            continue
        if buf[pos] == "]":
            return
        try:
            value, end = decoder.raw_decode(buf, pos)
        except json.JSONDecodeError as exc:
            if not eof and len(buf) - pos < MAX_OBJECT_CHARS:
                refill()  # the element may run past the buffer
                continue
            yield BadRow(line, f"invalid JSON: {exc.msg}")
            nxt = buf.find("{", max(exc.pos, pos + 1))
            end = nxt if nxt >= 0 else len(buf)
        else:
            yield _record(line, value)
        line += buf.count("\n", pos, end)
        pos = end


def _json_rows(text: io.TextIOBase) -> Iterator[Row | BadRow]:
    """A JSON array when the first non-blank character is `[`, else JSON Lines."""
    line = 1
    char = text.read(1)
    while char and char.isspace():
        line += char == "\n"
        char = text.read(1)
    if char == "[":
        yield from _json_array(text, line)
    elif char:
        yield from _json_lines(itertools.chain([char + text.readline()], text), line)


def _json_lines(lines: Iterable[str], first: int) -> Iterator[Row | BadRow]:
    for n, raw in enumerate(lines, first):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            yield BadRow(n, f"invalid JSON: {exc.msg} (column {exc.colno})")
            continue
        yield _record(n, value)


def read_rows(path: Path, counter: list[ByteCounter] | None = None) -> Iterator[Row | BadRow]:
    """Every record of the file at `path`, CSV or JSON by extension (.json, .jsonl, .ndjson; anything else is CSV).
    When `counter` is a list, the byte counter of the open file is appended to it (for progress)."""
    encoding = _encoding(path)
    with path.open("rb") as f:
        raw = ByteCounter(f)
        if counter is not None:
            counter.append(raw)
        text = io.TextIOWrapper(io.BufferedReader(raw), encoding=encoding, errors="replace", newline="")
        if path.suffix.lower() in JSON_SUFFIXES:
            yield from _json_rows(text)
        else:
            yield from _csv_rows(text)
