"""Read and validate the NHSA knowledge-point folder: the points, the batches and the 2025 rule catalogue.

Everything the importer knows about the input passes through `read_source`, which checks the shape of every
line (raising `SourceError` naming the file, line and field) and records each file's sha256 for the bundle.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

__all__ = [
    "SOURCE_FILES",
    "CatalogueEntry",
    "Source",
    "SourceError",
    "SourcePoint",
    "fold",
    "read_source",
    "without_batches",
]

POINTS_FILE = "knowledge_points.jsonl"
BATCHES_FILE = "batches.json"
CATALOGUE_FILE = "rule_catalog_2025.json"
SOURCE_FILES = (POINTS_FILE, BATCHES_FILE, CATALOGUE_FILE)


def fold(text: str) -> str:
    """Text for matching only (the bundle keeps the published wording): NFKC-folded, so full-width digits and
    punctuation become ASCII and look-alike radicals (⼉ U+2F09) become the usual characters."""
    return unicodedata.normalize("NFKC", text)


class SourceError(ValueError):
    """The source folder is missing a file or holds a malformed record."""


@dataclass(frozen=True, slots=True)
class SourcePoint:
    """One published knowledge point, as read (text fields are "" when the row leaves them empty)."""

    kp_id: str
    rule_class: str
    gz_code: str | None
    level1: str | None
    item_name: str
    codes: tuple[str, ...]
    constraint: str
    detect_logic: str
    batch: str
    published_at: str | None
    supersedes: str | None
    source_file: str
    source_row: int | None


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """One rule type of the 2025 catalogue."""

    seq: int
    tier1: str
    tier2: str
    name: str
    gz_code: str | None


@dataclass(frozen=True, slots=True)
class Source:
    """The whole input: points in file order, batch dates, the catalogue by rule name, file digests, and the
    batches left out on purpose (`without_batches`)."""

    points: tuple[SourcePoint, ...]
    batch_dates: Mapping[str, str | None]
    catalogue: Mapping[str, CatalogueEntry]
    sha256: Mapping[str, str]
    excluded: tuple[str, ...] = ()


def _text(record: Mapping[str, Any], key: str, where: str, *, required: bool = False) -> str:
    value = record.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise SourceError(f"{where}: {key} must be a {'non-empty ' if required else ''}string")
    return value


def _optional(record: Mapping[str, Any], key: str, where: str) -> str | None:
    value = record.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise SourceError(f"{where}: {key} must be a non-empty string or null")
    return value


def _day(value: str | None, where: str) -> str | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError as exc:
        raise SourceError(f"{where}: not a YYYY-MM-DD date: {value!r}") from exc


def _point(record: Any, where: str) -> SourcePoint:
    if not isinstance(record, dict):
        raise SourceError(f"{where}: not a JSON object")
    codes = record.get("codes")
    if not isinstance(codes, list) or not all(isinstance(c, str) and c for c in codes):
        raise SourceError(f"{where}: codes must be a list of non-empty strings")
    row = record.get("source_row")
    if row is not None and (isinstance(row, bool) or not isinstance(row, int)):
        raise SourceError(f"{where}: source_row must be an integer or null")
    return SourcePoint(
        kp_id=_text(record, "kp_id", where, required=True),
        rule_class=_text(record, "rule_class", where, required=True),
        gz_code=_optional(record, "gz_code", where),
        level1=_optional(record, "level1", where),
        item_name=_text(record, "item_name", where).strip(),
        codes=tuple(c.strip() for c in codes),
        constraint=_text(record, "constraint", where).strip(),
        detect_logic=_text(record, "detect_logic", where).strip(),
        batch=_text(record, "batch", where, required=True),
        published_at=_day(_optional(record, "published_at", where), f"{where}.published_at"),
        supersedes=_optional(record, "supersedes", where),
        source_file=_text(record, "source_file", where),
        source_row=row,
    )


def _read_points(raw: bytes) -> tuple[SourcePoint, ...]:
    points: list[SourcePoint] = []
    seen: set[str] = set()
    for n, line in enumerate(raw.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{POINTS_FILE}:{n}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SourceError(f"{where}: not JSON ({exc.msg})") from exc
        point = _point(record, where)
        if point.kp_id in seen:
            raise SourceError(f"{where}: duplicate kp_id {point.kp_id}")
        seen.add(point.kp_id)
        points.append(point)
    for point in points:
        if point.supersedes is not None and point.supersedes not in seen:
            raise SourceError(f"{POINTS_FILE}: {point.kp_id} supersedes unknown {point.supersedes}")
    return tuple(points)


def _read_batches(raw: bytes) -> dict[str, str | None]:
    data = json.loads(raw)
    if not isinstance(data, list):
        raise SourceError(f"{BATCHES_FILE}: must be a list")
    out: dict[str, str | None] = {}
    for i, batch in enumerate(data):
        where = f"{BATCHES_FILE}[{i}]"
        if not isinstance(batch, dict):
            raise SourceError(f"{where}: not a JSON object")
        tag = _text(batch, "batch_tag", where, required=True)
        out[tag] = _day(_optional(batch, "published_at", where), where)
    return out


def _read_catalogue(raw: bytes) -> dict[str, CatalogueEntry]:
    data = json.loads(raw)
    if not isinstance(data, list):
        raise SourceError(f"{CATALOGUE_FILE}: must be a list")
    out: dict[str, CatalogueEntry] = {}
    for i, entry in enumerate(data):
        where = f"{CATALOGUE_FILE}[{i}]"
        seq = entry.get("seq") if isinstance(entry, dict) else None
        if not isinstance(entry, dict) or isinstance(seq, bool) or not isinstance(seq, int):
            raise SourceError(f"{where}: must be an object with an integer seq")
        item = CatalogueEntry(
            seq=seq,
            tier1=_text(entry, "tier1", where, required=True),
            tier2=_text(entry, "tier2", where),
            name=_text(entry, "name", where, required=True),
            gz_code=_optional(entry, "gz_code_1_0", where),
        )
        out[item.name] = item
    return out


def read_source(src: Path) -> Source:
    """Read and validate the three files of `src`; raises `SourceError` on a missing file or bad record."""
    raw: dict[str, bytes] = {}
    for name in SOURCE_FILES:
        path = src / name
        if not path.is_file():
            raise SourceError(f"{path}: missing")
        raw[name] = path.read_bytes()
    try:
        points = _read_points(raw[POINTS_FILE])
        batches = _read_batches(raw[BATCHES_FILE])
        catalogue = _read_catalogue(raw[CATALOGUE_FILE])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceError(f"{src}: {exc}") from exc
    for point in points:
        if point.batch not in batches:
            raise SourceError(f"{POINTS_FILE}: {point.kp_id} names unknown batch {point.batch}")
        if point.rule_class not in catalogue:
            raise SourceError(f"{POINTS_FILE}: {point.kp_id}: rule class {point.rule_class} not in the catalogue")
    return Source(
        points=points,
        batch_dates=batches,
        catalogue=catalogue,
        sha256={name: hashlib.sha256(data).hexdigest() for name, data in raw.items()},
    )


def without_batches(source: Source, batches: Collection[str]) -> Source:
    """`source` without the points and dates of `batches` (e.g. the KB as it stood before the 2026-01 revision).

    Raises `SourceError` when a batch is unknown or a kept point supersedes a point of a left-out batch.
    """
    unknown = sorted(set(batches) - set(source.batch_dates))
    if unknown:
        raise SourceError(f"{BATCHES_FILE}: no batch {unknown[0]!r} to exclude")
    if not batches:
        return source
    dropped = {p.kp_id for p in source.points if p.batch in batches}
    kept = tuple(p for p in source.points if p.batch not in batches)
    for point in kept:
        if point.supersedes in dropped:
            raise SourceError(f"{POINTS_FILE}: {point.kp_id} supersedes {point.supersedes} of an excluded batch")
    return Source(
        points=kept,
        batch_dates={tag: day for tag, day in source.batch_dates.items() if tag not in batches},
        catalogue=source.catalogue,
        sha256=source.sha256,
        excluded=(*source.excluded, *sorted(set(batches))),
    )
