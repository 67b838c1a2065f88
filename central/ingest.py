"""Validation at the edge of the platform: an `UploadBatch` from the wire → an `EventBatch` the store accepts.

The batch's events are a gzip-compressed `EventList`. Decompression stops one byte past `max_bytes` of output, so a
gzip bomb (a few KB that inflate to GB) costs at most that much memory and is refused. Every refusal is a
`BadBatch` naming the field (`events_gzip`, `count`, `events[3].occurred_at` …), answered INVALID_ARGUMENT.
"""

from __future__ import annotations

import re
import zlib
from datetime import datetime

import orjson
from google.protobuf.message import DecodeError

from fundguard.v1 import central_pb2 as pb

from .store import EventBatch, EventRecord

__all__ = ["DEFAULT_MAX_BATCH_BYTES", "BadBatch", "decode_batch", "gunzip_limited"]

DEFAULT_MAX_BATCH_BYTES = 32 * 1024 * 1024  # decompressed EventList; an outbox batch is far smaller
AGENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
INSTITUTION_CODE = re.compile(r"H\d{11}")
KIND = re.compile(r"[a-z][a-z_]{0,31}")
MAX_EVENT_ID = 128
MAX_MDTRT_ID = 128
MAX_PRACTITIONER_CODE = 32
MAX_SEQ = 2**63 - 1  # stored as a signed 64-bit integer


class BadBatch(ValueError):
    """An upload that cannot be stored; `field` names the offending field of `UploadBatch`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def gunzip_limited(data: bytes, max_bytes: int) -> bytes:
    """The decompressed bytes of one or more gzip members; BadBatch on `events_gzip` when they are not gzip, are
    truncated, or would exceed `max_bytes`."""
    out = bytearray()
    rest = data
    while True:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            out += inflater.decompress(rest, max_bytes - len(out) + 1)
        except zlib.error as exc:
            raise BadBatch("events_gzip", f"not gzip data ({exc})") from None
        if len(out) > max_bytes:
            raise BadBatch("events_gzip", f"decompresses to more than {max_bytes} bytes")
        if not inflater.eof:
            raise BadBatch("events_gzip", "truncated gzip data")
        rest = inflater.unused_data
        if not rest:
            return bytes(out)


def _event(raw: pb.Event, agent_id: str, field: str) -> EventRecord:
    event_id = raw.event_id
    if not event_id.startswith(f"{agent_id}:") or len(event_id) > MAX_EVENT_ID or event_id == f"{agent_id}:":
        raise BadBatch(f"{field}.event_id", f"must be '<agent_id>:<sequence>' for agent {agent_id!r}")
    if not KIND.fullmatch(raw.kind):
        raise BadBatch(f"{field}.kind", "must be a lower-case name such as check, decision, dispense")
    try:
        occurred = datetime.fromisoformat(raw.occurred_at)
    except ValueError:
        raise BadBatch(f"{field}.occurred_at", "not an ISO 8601 date-time") from None
    if occurred.tzinfo is None:
        raise BadBatch(f"{field}.occurred_at", "needs a UTC offset (e.g. 2026-03-01T08:30:00+08:00)")
    if len(raw.mdtrt_id) > MAX_MDTRT_ID:
        raise BadBatch(f"{field}.mdtrt_id", f"longer than {MAX_MDTRT_ID} characters")
    if len(raw.practitioner_code) > MAX_PRACTITIONER_CODE:
        raise BadBatch(f"{field}.practitioner_code", f"longer than {MAX_PRACTITIONER_CODE} characters")
    if raw.seq > MAX_SEQ:
        raise BadBatch(f"{field}.seq", f"larger than {MAX_SEQ}")
    try:
        payload = raw.payload_json.decode("utf-8")
        parsed = orjson.loads(payload)
    except (UnicodeDecodeError, orjson.JSONDecodeError):
        raise BadBatch(f"{field}.payload_json", "not UTF-8 JSON") from None
    if not isinstance(parsed, dict):
        raise BadBatch(f"{field}.payload_json", "must be a JSON object")
    return EventRecord(
        event_id=event_id,
        kind=raw.kind,
        occurred_at=raw.occurred_at,
        mdtrt_id=raw.mdtrt_id,
        practitioner_code=raw.practitioner_code,
        seq=raw.seq,
        payload=payload,
    )


def decode_batch(
    request: pb.UploadBatch, received_at: datetime, max_bytes: int = DEFAULT_MAX_BATCH_BYTES
) -> EventBatch:
    """The validated batch; BadBatch naming the first offending field."""
    if not AGENT_ID.fullmatch(request.agent_id):
        raise BadBatch("agent_id", "1–64 letters, digits, '.', '_' or '-'")
    if not INSTITUTION_CODE.fullmatch(request.institution_code):
        raise BadBatch("institution_code", "a 定点医疗机构编号 is H and 11 digits")
    listed = pb.EventList()
    try:
        listed.ParseFromString(gunzip_limited(request.events_gzip, max_bytes))
    except DecodeError:
        raise BadBatch("events_gzip", "does not hold a fundguard.v1.EventList") from None
    if len(listed.events) != request.count:
        raise BadBatch("count", f"says {request.count} events, the batch holds {len(listed.events)}")
    records = tuple(_event(raw, request.agent_id, f"events[{i}]") for i, raw in enumerate(listed.events))
    return EventBatch(
        agent_id=request.agent_id, institution_code=request.institution_code, events=records, received_at=received_at
    )
