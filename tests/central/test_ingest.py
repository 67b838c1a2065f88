"""Upload validation at the edge: gzip (bombs refused by size), the count, every event field named when bad."""

from __future__ import annotations

import gzip
import zlib

import pytest

from fundguard.central.ingest import DEFAULT_MAX_BATCH_BYTES, BadBatch, decode_batch, gunzip_limited
from fundguard.v1 import central_pb2 as pb

from .events import AGENT, INSTITUTION, RECEIVED, event, upload


def test_a_good_batch_decodes_in_order() -> None:
    """Agent, institution and events (payload as sent) come through unchanged."""
    decoded = decode_batch(upload([event(2), event(1, "decision", payload={"dspo_way": "1"})]), RECEIVED)
    expected = (AGENT, INSTITUTION, [f"{AGENT}:2", f"{AGENT}:1"], '{"dspo_way": "1"}', RECEIVED)
    actual = (
        decoded.agent_id,
        decoded.institution_code,
        [e.event_id for e in decoded.events],
        decoded.events[1].payload,
        decoded.received_at,
    )
    assert expected == actual


def test_empty_batch() -> None:
    """A batch of no events is valid."""
    assert () == decode_batch(upload([]), RECEIVED).events


def test_gzip_bomb_is_refused_by_size() -> None:
    """64 MiB of zeros (about 64 KB compressed) exceed the 32 MiB default and are refused; decompression stops
    one byte past the limit."""
    bomb = gzip.compress(b"\0" * (2 * DEFAULT_MAX_BATCH_BYTES), compresslevel=9)
    assert len(bomb) < 200_000
    with pytest.raises(BadBatch, match="more than") as caught:
        gunzip_limited(bomb, DEFAULT_MAX_BATCH_BYTES)
    assert "events_gzip" == caught.value.field


def test_exactly_the_limit_is_accepted_and_members_are_joined() -> None:
    """Output up to the limit is fine, also over several gzip members; one byte more is not."""
    data = gzip.compress(b"a" * 600) + gzip.compress(b"b" * 400)
    assert b"a" * 600 + b"b" * 400 == gunzip_limited(data, 1000)
    with pytest.raises(BadBatch):
        gunzip_limited(data, 999)


@pytest.mark.parametrize(
    "data",
    [b"", b"not gzip at all", gzip.compress(b"x" * 100)[:-10], gzip.compress(b"x") + b"trailing"],
    ids=["empty", "garbage", "truncated", "trailing garbage"],
)
def test_bad_gzip_names_events_gzip(data: bytes) -> None:
    """Anything but complete gzip members is refused on `events_gzip`."""
    with pytest.raises(BadBatch) as caught:
        gunzip_limited(data, 1000)
    assert "events_gzip" == caught.value.field


def test_not_an_event_list() -> None:
    """Gzip of bytes that are not an EventList is refused on `events_gzip`."""
    request = pb.UploadBatch(agent_id=AGENT, institution_code=INSTITUTION, events_gzip=gzip.compress(b"\xff\xff\xff"))
    with pytest.raises(BadBatch) as caught:
        decode_batch(request, RECEIVED)
    assert "events_gzip" == caught.value.field


def _with(raw: pb.Event, **changes: object) -> pb.Event:
    copy = pb.Event()
    copy.CopyFrom(raw)
    for name, value in changes.items():
        setattr(copy, name, value)
    return copy


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (upload([event(1)], count=2), "count"),
        (upload([event(1)], agent=""), "agent_id"),
        (upload([event(1)], agent="a/b"), "agent_id"),
        (upload([event(1)], institution="H1234"), "institution_code"),
        (upload([event(1), _with(event(2), event_id="agent-2:2")]), "events[1].event_id"),
        (upload([_with(event(1), event_id=f"{AGENT}:")]), "events[0].event_id"),
        (upload([_with(event(1), event_id=f"{AGENT}:" + "9" * 200)]), "events[0].event_id"),
        (upload([_with(event(1), kind="")]), "events[0].kind"),
        (upload([_with(event(1), kind="Check")]), "events[0].kind"),
        (upload([_with(event(1), occurred_at="yesterday")]), "events[0].occurred_at"),
        (upload([_with(event(1), occurred_at="2026-03-01T08:30:00")]), "events[0].occurred_at"),
        (upload([_with(event(1), mdtrt_id="M" * 129)]), "events[0].mdtrt_id"),
        (upload([_with(event(1), practitioner_code="D" * 33)]), "events[0].practitioner_code"),
        (upload([_with(event(1), seq=2**63)]), "events[0].seq"),
        (upload([_with(event(1), payload_json=b"\xff")]), "events[0].payload_json"),
        (upload([_with(event(1), payload_json=b"[1, 2]")]), "events[0].payload_json"),
        (upload([_with(event(1), payload_json=b"{")]), "events[0].payload_json"),
    ],
)
def test_bad_fields_are_named(request_: pb.UploadBatch, field: str) -> None:
    """Each refusal names the field of UploadBatch / Event at fault."""
    with pytest.raises(BadBatch) as caught:
        decode_batch(request_, RECEIVED)
    assert field == caught.value.field


def test_zlib_stream_without_gzip_header_is_refused() -> None:
    """A raw zlib stream is not the gzip the contract names."""
    with pytest.raises(BadBatch):
        gunzip_limited(zlib.compress(b"data"), 1000)
