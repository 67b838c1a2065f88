"""The uplink to the bureau's central platform: events of what the agent does, kept in an on-disk outbox and
uploaded in order, at least once (stored once centrally by event id), over mutual TLS."""

from __future__ import annotations

from .events import EventDraft, IdentityMode
from .outbox import OUTBOX_FILE, Outbox, OutboxEvent, OutboxMetrics
from .recorder import UplinkRecorder, load_identity
from .tls import channel
from .uploader import UplinkMetrics, Uploader, UploadRefused, grpc_send

__all__ = [
    "OUTBOX_FILE",
    "EventDraft",
    "IdentityMode",
    "Outbox",
    "OutboxEvent",
    "OutboxMetrics",
    "UplinkMetrics",
    "UplinkRecorder",
    "UploadRefused",
    "Uploader",
    "channel",
    "grpc_send",
    "load_identity",
]
