"""Wiring of the central link for the composition root: the outbox and its recorder, the uploader, and the
practitioner-status poller, over one (mutual TLS) channel.

`open_uplink(settings, data_dir, issued, cache, clock)` returns `None` when `[uplink] central` is not set (nothing is
recorded, nothing sent; the status cache still enforces what it last knew). Otherwise an `OpenedUplink`: the
recorder's observers for the check service, the decision store and the trace RPCs; the listeners (uploader, status
poller) to start with the agent; and `close()` for after they stopped (outbox, then channel).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import grpc

from fundguard.agent.config import UplinkSettings
from fundguard.agent.feedback.issued import IssuedAlert
from fundguard.agent.practitioners import StatusCache, StatusPoller, central_call
from fundguard.agent.transport.listener import Listener

from .outbox import OUTBOX_FILE, Outbox
from .recorder import UplinkRecorder, load_identity
from .tls import channel
from .uploader import Uploader, grpc_send

__all__ = ["OpenedUplink", "open_uplink"]


@dataclass(frozen=True, slots=True)
class OpenedUplink:
    """The recorder (observers), the listeners to start and stop with the agent, and what to close after them."""

    recorder: UplinkRecorder
    outbox: Outbox
    uploader: Uploader
    listeners: tuple[Listener, ...]
    channel: grpc.Channel

    def close(self) -> None:
        """After the listeners stopped: close the outbox (what was not sent goes up at the next start), then the
        channel."""
        self.outbox.close()
        self.channel.close()


def open_uplink(
    settings: UplinkSettings,
    data_dir: Path,
    issued: Callable[[str], IssuedAlert | None],
    cache: StatusCache,
    clock: Callable[[], datetime],
) -> OpenedUplink | None:
    """The uplink as configured, or None when off; raises ValueError naming the key (keys, certificates, secret)
    and OSError / sqlite3.Error when the outbox cannot be opened."""
    if not settings.enabled or settings.central is None:
        return None
    identity = load_identity(settings)
    chan = channel(settings)
    try:
        outbox = Outbox(settings.outbox or data_dir / OUTBOX_FILE, settings.max_queue_bytes, settings.alarm_ratio,
                        clock, agent_id=settings.agent_id)  # fmt: skip
    except BaseException:
        chan.close()
        raise
    uploader = Uploader(
        outbox,
        grpc_send(chan, settings.upload_timeout_seconds),
        institution_code=settings.institution_code,
        address=settings.central,
        batch_size=settings.batch_size,
    )
    poller = StatusPoller(
        central_call(chan),
        cache,
        agent_id=settings.agent_id,
        institution_code=settings.institution_code,
        target=settings.central,
        wait_seconds=settings.status_poll_seconds,
    )
    recorder = UplinkRecorder(outbox, identity, issued)
    return OpenedUplink(recorder, outbox, uploader, (uploader, poller), chan)
