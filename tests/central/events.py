"""Shared test data for the central platform: events, batches and a settable clock."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from fundguard.central.store import EventBatch, EventRecord
from fundguard.v1 import central_pb2 as pb

AGENT = "agent-1"
INSTITUTION = "H11010800001"
OTHER_INSTITUTION = "H11010800002"
DOCTOR = "D110108000001"
OTHER_DOCTOR = "D110108000002"
OCCURRED = "2026-03-01T08:30:00+08:00"
RECEIVED = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)


class Today:
    """A settable `today` for the scorer."""

    def __init__(self, day: date) -> None:
        self.day = day

    def __call__(self) -> date:
        return self.day


def event(
    seq: int,
    kind: str = "check",
    *,
    agent: str = AGENT,
    practitioner: str = DOCTOR,
    mdtrt_id: str = "MDTRT-1",
    payload: Mapping[str, Any] | None = None,
    occurred_at: str = OCCURRED,
) -> pb.Event:
    """A wire event with id "<agent>:<seq>"."""
    body = {"alerts": []} if payload is None else payload
    return pb.Event(
        event_id=f"{agent}:{seq}",
        kind=kind,
        occurred_at=occurred_at,
        mdtrt_id=mdtrt_id,
        practitioner_code=practitioner,
        seq=seq,
        payload_json=json.dumps(body, ensure_ascii=False).encode("utf-8"),
    )


def upload(
    events: Iterable[pb.Event], *, agent: str = AGENT, institution: str = INSTITUTION, count: int | None = None
) -> pb.UploadBatch:
    """An UploadBatch holding `events`, gzip-compressed, with their count (or `count`)."""
    listed = pb.EventList(events=list(events))
    return pb.UploadBatch(
        agent_id=agent,
        institution_code=institution,
        events_gzip=gzip.compress(listed.SerializeToString()),
        count=len(listed.events) if count is None else count,
    )


def record(raw: pb.Event) -> EventRecord:
    """The store's form of a wire event."""
    return EventRecord(
        event_id=raw.event_id,
        kind=raw.kind,
        occurred_at=raw.occurred_at,
        mdtrt_id=raw.mdtrt_id,
        practitioner_code=raw.practitioner_code,
        seq=raw.seq,
        payload=raw.payload_json.decode("utf-8"),
    )


def batch(events: Iterable[pb.Event], *, agent: str = AGENT, institution: str = INSTITUTION) -> EventBatch:
    """A decoded batch of `events` as the store takes it."""
    return EventBatch(
        agent_id=agent, institution_code=institution, events=tuple(record(e) for e in events), received_at=RECEIVED
    )
