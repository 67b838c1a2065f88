"""The HL7 v2 MLLP listener: python-hl7's asyncio MLLP server on its own loop thread, one ACK per message.

Framing is the standard's (VT message FS CR). `MllpListener(settings, service, clock)` serves
`hl7.mllp.start_hl7_server` on a `LoopThread` and exposes the agent listener's blocking `start()` / `stop()`.
Frames are read with the `HL7StreamReader` it hands each connection (`readuntil` FS CR rather than its `readblock`,
which on an over-long frame drops the buffer mid-frame, so the frame's tail would come back as a second, bogus
frame) and answered with its writer's `writeblock`.

Every complete frame is answered (`MllpResponder.respond`, transport-free): AA with the alerts, AE for bad content,
AR for what cannot be processed — a frame over `settings.max_message_bytes` (its tail is read and dropped, then
answered once), bytes without a start block (VT), an unparseable or unsupported message. A half frame at end of
stream is dropped with the connection. An unexpected exception is answered AE "internal error" and logged; the
connection and the listener keep serving. The answer is synchronous CPU work; with a check budget it runs on a
small pool and past the budget the frame is answered AE "check unavailable" (never silence, never an AA without
the check), the workstation's alert stream is told, and the abandoned answer is dropped. Budget 0: on the loop.
With `auth` (agent.auth), a message without valid credentials (MSH-8 token, or the TLS connection's client
certificate) is answered AR "unauthenticated: …" before it is decoded; the connection stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog
from hl7.mllp import start_hl7_server

from fundguard.adapters.his import hl7v2
from fundguard.agent.config import MllpSettings
from fundguard.agent.engine.errors import FundguardError, InvalidField
from fundguard.agent.log import ensure_logging
from fundguard.agent.service import CheckService

from .budget import OVER_BUDGET, CheckBudget
from .loop_thread import LoopThread

if TYPE_CHECKING:
    from fundguard.agent.auth.mllp_auth import MllpAuth

__all__ = ["MllpListener", "MllpResponder", "new_control_id"]

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c\r"
HEAD_BYTES = 4096  # of an over-long frame, kept to answer it with its own MSH-10

_log = structlog.get_logger("fundguard.agent.mllp")


def new_control_id() -> str:
    """A unique ACK message control id (MSH-10: 20 characters)."""
    return uuid.uuid4().hex[:20].upper()


class MllpResponder:
    """Frame bytes in, ACK bytes out: the adapter path (load → decode → check → encode) with every error mapped."""

    def __init__(
        self,
        service: CheckService,
        clock: Callable[[], datetime],
        control_id: Callable[[], str] = new_control_id,
    ) -> None:
        self._service = service
        self._clock = clock
        self._control_id = control_id

    def respond(self, frame: bytes) -> bytes:
        """The ACK (encoded in the message's character set) answering one frame's message."""
        text: str | None = None
        try:
            text = hl7v2.load(frame)
            parsed = hl7v2.decode(text)
            outcome = self._service.check(parsed)
            answer = hl7v2.encode_ack(outcome, text, control_id=self._control_id(), now=self._clock())
            _log.debug("mllp.checked", alerts=len(outcome.result.alerts), engine_micros=outcome.engine_micros)
        except FundguardError as exc:
            _logged(exc)
            answer = self._error(exc, text)
        except Exception as exc:
            _log.error("mllp.internal_error", error=type(exc).__name__, exc_info=True)
            answer = self._error(FundguardError("internal error (see the agent log)"), text)
        return answer.encode(hl7v2.charset(frame), errors="replace")

    def unavailable(self, frame: bytes, reason: str) -> bytes:
        """The AE answering a frame whose check did not finish within the budget; the check service is told."""
        _log.warning("mllp.check_unavailable", reason=reason)
        text: str | None = None
        try:
            text = hl7v2.load(frame)
            self._service.unavailable(hl7v2.decode(text), reason)
        except FundguardError:
            pass  # a message that does not decode got (or gets) its own AE from the worker
        return self._error(FundguardError(reason), text).encode(hl7v2.charset(frame), errors="replace")

    def refuse(self, reason: str, head: bytes = b"", hl7_code: str = "100") -> bytes:
        """The AR answering a frame that was not processed (`head`: its first bytes, for the request's MSH)."""
        codec = hl7v2.charset(head)
        exc = hl7v2.Rejected(reason, "", hl7_code)
        _logged(exc)
        return self._error(exc, head.decode(codec, errors="replace")).encode(codec, errors="replace")

    def _error(self, exc: FundguardError, text: str | None) -> str:
        return hl7v2.encode_error(exc, text, control_id=self._control_id(), now=self._clock())


def _logged(exc: FundguardError) -> None:
    """Log a refused message by its field and error code only (the message may quote values)."""
    if isinstance(exc, InvalidField):
        _log.info("mllp.invalid_message", field=exc.field or "message", code=exc.code)
    else:
        _log.warning("mllp.check_failed", reason=str(exc))


async def _skip_frame(reader: asyncio.StreamReader, consumed: int) -> bytes | None:
    """Drop an over-long frame through its FS CR; its first bytes, or None when the stream ends first."""
    head = b""
    try:
        while True:
            dropped = await reader.readexactly(consumed)
            head = head or dropped[:HEAD_BYTES]
            try:
                await reader.readuntil(END_BLOCK)
            except asyncio.LimitOverrunError as exc:
                consumed = exc.consumed
            else:
                return head
    except asyncio.IncompleteReadError:
        return None


class MllpListener:
    """HL7 v2 over MLLP on its own loop thread."""

    name = "mllp"

    def __init__(
        self,
        settings: MllpSettings,
        service: CheckService,
        clock: Callable[[], datetime],
        budget_ms: int = 0,
        *,
        auth: MllpAuth | None = None,  # token in MSH-8 or the connection's client certificate (agent.auth)
        ssl_context: ssl.SSLContext | None = None,  # TLS-wrapped MLLP ([auth] cert/key)
    ) -> None:
        if settings.address is None:
            raise ValueError("mllp.address is not set")
        ensure_logging()  # never through structlog's unmasked defaults
        host, _, port = settings.address.rpartition(":")
        self._host = host.strip("[]")
        self._port = int(port)
        self._limit = settings.max_message_bytes
        self._responder = MllpResponder(service, clock)
        self._budget = CheckBudget(budget_ms, "mllp")
        self._auth = auth
        self._ssl = ssl_context
        self._thread: LoopThread | None = None
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()

    @property
    def address(self) -> str:
        """HOST:PORT actually listened on."""
        return f"{self._host}:{self._port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: Any) -> None:
        task = asyncio.current_task()
        assert task is not None  # the MLLP protocol runs each connection as a task
        self._connections.add(task)
        peercert = writer.get_extra_info("peercert")  # the verified client certificate of a TLS connection
        peer = str((writer.get_extra_info("peername") or ("",))[0])
        try:
            while (answer := await self._next_answer(reader, peercert, peer)) is not None:
                writer.writeblock(answer)
                await writer.drain()
        except ConnectionError:
            pass  # the peer went away; nothing to answer
        except Exception as exc:
            _log.error("mllp.connection_failed", error=type(exc).__name__, exc_info=True)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            self._connections.discard(task)

    async def _next_answer(self, reader: asyncio.StreamReader, peercert: Any = None, peer: str = "") -> bytes | None:
        """Read the next frame and answer it; None at end of stream (a half frame is dropped)."""
        try:
            block = await reader.readuntil(END_BLOCK)
        except asyncio.IncompleteReadError:
            return None
        except asyncio.LimitOverrunError as exc:
            head = await _skip_frame(reader, exc.consumed)
            if head is None:
                return None
            start = head.find(START_BLOCK)
            return self._responder.refuse(f"message larger than {self._limit} bytes", head[start + 1 :], "207")
        start = block.find(START_BLOCK)
        if start < 0:
            return self._responder.refuse("not an MLLP frame: no start block (VT) before the end block (FS CR)")
        frame = block[start + 1 : -len(END_BLOCK)]
        if self._auth is not None and (refusal := self._auth.refusal(frame, peercert)) is not None:
            self._auth.refused(refusal, peer)
            return self._responder.refuse(f"unauthenticated: {refusal}", frame, "207")  # AR; the connection stays
        answer = await self._budget.run(self._responder.respond, frame)
        return self._responder.unavailable(frame, self._budget.reason) if answer is OVER_BUDGET else answer

    async def _start(self) -> None:
        # a frame is VT + message + FS CR, the reader's limit applies to what comes before the separator
        self._server = await start_hl7_server(self._serve, self._host, self._port, limit=self._limit + 1,
                                              ssl=self._ssl)  # fmt: skip
        self._port = int(self._server.sockets[0].getsockname()[1])

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        await asyncio.sleep(0)  # connections accepted just before close start their tasks
        while self._connections:
            running = list(self._connections)
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            self._connections.difference_update(running)
        if self._server is not None:
            await self._server.wait_closed()

    def start(self) -> None:
        """Bind and serve; raises OSError when the address cannot be bound."""
        self._thread = LoopThread.running("fundguard-mllp", self._start())
        _log.info("mllp.started", address=self.address)

    def stop(self) -> None:
        """Stop accepting, close the connections (a message being read is abandoned unanswered: MLLP senders
        resend what was not acknowledged), then stop the loop."""
        thread = self._thread
        if thread is None:
            return
        thread.run(self._stop(), timeout=30)
        thread.close()
        self._budget.close()
        self._thread = self._server = None
