"""The gRPC transport: `fundguard.v1.ComplianceAgent/Check` on a grpc.aio server, with health and reflection.

Measured (bench/, `make bench`): with the thread-pool server a Check p50 was ~1.6x a bare echo's, with grpc.aio
~1.45x: the handler is CPU-bound Python, and running it on the event loop that polls the completion queue saves the
hand-off to a worker thread. The aio server runs on its own event-loop thread behind the blocking `start()` /
`stop(grace).wait()` API of a `grpc.Server`, so the composition root, tests and bench stay synchronous. The
synchronous health servicer runs on the server's migration thread pool (`grpc.max_workers` threads).

Check is registered with an identity request deserializer: the handler decodes the raw bytes itself, so a body
that is not a `CheckRequest` (say 5 MB of garbage) is answered INVALID_ARGUMENT naming `request`, not INTERNAL.
How each method runs and how errors become statuses: `grpc_behaviors`; the methods beside Check: `grpc_handlers`;
the trace ledger's: `grpc_trace`; the history store's: `grpc_history`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime
from typing import TYPE_CHECKING, Any

import grpc
import structlog
from google.protobuf.message import Message
from grpc_reflection.v1alpha import reflection

from fundguard.agent.config import GrpcSettings
from fundguard.agent.feedback import DecisionStore
from fundguard.agent.kb.status import KbStatus, store_status
from fundguard.agent.log import ensure_logging
from fundguard.agent.service import CheckService
from fundguard.agent.stream import AlertBus
from fundguard.v1 import compliance_pb2 as pb

from .grpc_behaviors import check_behavior, guarded, inline, on_pool, status_for
from .grpc_handlers import AlertStream, FeedbackHandler, status_proto
from .grpc_history import HistoryRpcs
from .grpc_trace import TraceRpcs
from .health import HEALTH_SERVICE_NAME, AgentHealth
from .loop_thread import new_event_loop
from .proto_codec import SERVICE_NAME

if TYPE_CHECKING:
    from fundguard.agent.auth.grpc_auth import GrpcAuth

__all__ = [
    "CHECK_METHOD",
    "FEEDBACK_METHOD",
    "SUBSCRIBE_METHOD",
    "AgentServer",
    "BindError",
    "create_server",
    "status_for",
]

CHECK_METHOD = f"/{SERVICE_NAME}/Check"
FEEDBACK_METHOD = f"/{SERVICE_NAME}/Feedback"
SUBSCRIBE_METHOD = f"/{SERVICE_NAME}/SubscribeAlerts"

_log = structlog.get_logger("fundguard.agent.grpc")


class BindError(RuntimeError):
    """The server could not listen on the configured address."""


class _Stopping:
    """What `AgentServer.stop` returns: `wait()` blocks until the grace period is over and the loop is closed."""

    def __init__(self, stopped: Future[None], server: AgentServer) -> None:
        self._stopped = stopped
        self._server = server

    def wait(self, timeout: float | None = None) -> bool:
        """True once the server stopped (False if `timeout` ran out first)."""
        try:
            self._stopped.result(timeout)
        except FutureTimeout:
            return False
        self._server.close_loop()
        return True


class AgentServer:
    """A grpc.aio server on its own event-loop thread, with the blocking API of a `grpc.Server`."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        thread: threading.Thread,
        server: grpc.aio.Server,
        check_pool: ThreadPoolExecutor,
    ) -> None:
        self._check_pool = check_pool
        self._loop = loop
        self._thread = thread
        self._server = server

    def start(self) -> None:
        """Start serving (returns once the server accepts calls)."""
        asyncio.run_coroutine_threadsafe(self._server.start(), self._loop).result()

    def stop(self, grace: float | None) -> _Stopping:
        """Stop accepting calls; running ones get up to `grace` seconds. `.wait()` on the result blocks until done."""
        return _Stopping(asyncio.run_coroutine_threadsafe(self._server.stop(grace), self._loop), self)

    def close_loop(self) -> None:
        """End the event-loop thread (after stop)."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
        self._check_pool.shutdown(wait=False, cancel_futures=True)  # an abandoned (over-budget) check may still run


def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        loop.close()


async def _build(
    service: CheckService,
    settings: GrpcSettings,
    *,
    health: AgentHealth,
    feedback: FeedbackHandler | None,
    stream: AlertStream | None,
    trace: TraceRpcs | None = None,
    history: HistoryRpcs | None = None,
    status: Callable[[], KbStatus],
    check_pool: ThreadPoolExecutor,
    auth: GrpcAuth | None = None,
) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server(
        migration_thread_pool=ThreadPoolExecutor(max_workers=settings.max_workers, thread_name_prefix="fundguard-grpc"),
        options=[
            ("grpc.max_receive_message_length", settings.max_receive_bytes),
            ("grpc.so_reuseport", 0),  # a second agent on the same port must fail, not share it
        ],
    )
    handlers = {
        "Check": grpc.unary_unary_rpc_method_handler(
            guarded(CHECK_METHOD, check_behavior(service, settings.check_budget_ms, check_pool)),
            request_deserializer=None,  # raw bytes: the handler decodes, so garbage is INVALID_ARGUMENT
            response_serializer=pb.CheckResponse.SerializeToString,
        )
    }
    if feedback is not None:  # without a decision store (bench, some tests) Feedback is UNIMPLEMENTED
        handlers["Feedback"] = grpc.unary_unary_rpc_method_handler(
            guarded(FEEDBACK_METHOD, inline(feedback)), response_serializer=pb.FeedbackResponse.SerializeToString
        )
    if stream is not None:  # without an alert bus SubscribeAlerts is UNIMPLEMENTED
        handlers["SubscribeAlerts"] = grpc.unary_stream_rpc_method_handler(
            stream.subscribe, response_serializer=pb.AlertEvent.SerializeToString
        )
    get_status = inline(lambda _raw, _context: status_proto(status()))
    if history is not None:  # with the history counts, which read the store's file: on the pool, not the loop
        get_status = on_pool(lambda _raw, _context: status_proto(status(), history.status()), check_pool)
    handlers["GetStatus"] = grpc.unary_unary_rpc_method_handler(
        guarded(f"/{SERVICE_NAME}/GetStatus", get_status), response_serializer=pb.AgentStatus.SerializeToString
    )
    if trace is not None:  # without a trace ledger the trace methods are UNIMPLEMENTED
        methods: dict[str, tuple[Callable[[bytes, Any], Message], type[Message]]] = {
            "RecordDispense": (trace.dispense, pb.DispenseResponse),
            "RecordReturn": (trace.return_line, pb.ReturnResponse),
            "ImportInbound": (trace.import_inbound, pb.ImportInboundResponse),
        }
        for name, (behavior, reply) in methods.items():
            handlers[name] = grpc.unary_unary_rpc_method_handler(
                guarded(f"/{SERVICE_NAME}/{name}", on_pool(behavior, check_pool)),
                response_serializer=reply.SerializeToString,
            )
    if history is not None:  # without a history store ConfirmSettlement is UNIMPLEMENTED
        handlers["ConfirmSettlement"] = grpc.unary_unary_rpc_method_handler(
            guarded(f"/{SERVICE_NAME}/ConfirmSettlement", on_pool(history.confirm, check_pool)),
            response_serializer=pb.ConfirmSettlementResponse.SerializeToString,
        )
    if auth is not None:  # every method behind the client check (agent.auth); health and reflection stay open
        handlers = auth.guard(SERVICE_NAME, handlers)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
    # grpcio's registered-method fast path (as generated code does): no per-call walk of the generic handlers
    server.add_registered_method_handlers(SERVICE_NAME, handlers)  # type: ignore[attr-defined]  # not in grpc-stubs
    health.add_to(server)
    health.update(kb_loaded=service.store.loaded)
    reflection.enable_server_reflection((SERVICE_NAME, HEALTH_SERVICE_NAME, reflection.SERVICE_NAME), server)
    try:
        credentials = auth.credentials if auth is not None else None  # TLS (and client certificates) from [auth]
        port = (server.add_secure_port(settings.address, credentials) if credentials is not None
                else server.add_insecure_port(settings.address))  # fmt: skip
    except RuntimeError as exc:
        raise BindError(f"cannot listen on {settings.address}: {exc}") from None
    if port == 0:
        raise BindError(f"cannot listen on {settings.address}")
    return server, port


def create_server(
    service: CheckService,
    settings: GrpcSettings,
    health: AgentHealth | None = None,
    *,
    decisions: DecisionStore | None = None,
    clock: Callable[[], datetime] = datetime.now,
    bus: AlertBus | None = None,
    trace: TraceRpcs | None = None,
    status: Callable[[], KbStatus] | None = None,
    history: HistoryRpcs | None = None,
    auth: GrpcAuth | None = None,
) -> tuple[AgentServer, int]:
    """A bound, not yet started server with Check, health and reflection; returns it and the bound port. `auth`
    (agent.auth): the port's TLS credentials and the client check in front of every ComplianceAgent method.

    Configure logging before calling this (the Check handler binds its logger here); if nothing configured it,
    the masked default is installed.
    """
    ensure_logging()
    check_pool = ThreadPoolExecutor(max_workers=settings.max_workers, thread_name_prefix="fundguard-check")
    loop = new_event_loop()
    thread = threading.Thread(target=_run_loop, args=(loop,), name="fundguard-grpc-loop", daemon=True)
    thread.start()
    try:
        server, port = asyncio.run_coroutine_threadsafe(
            _build(
                service,
                settings,
                health=health if health is not None else AgentHealth(),
                feedback=FeedbackHandler(decisions, clock) if decisions is not None else None,
                stream=AlertStream(bus) if bus is not None else None,
                trace=trace,
                history=history,
                status=status if status is not None else lambda: store_status(service.store),
                check_pool=check_pool,
                auth=auth,
            ),
            loop,
        ).result()
    except BaseException:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        check_pool.shutdown(wait=False)
        raise
    return AgentServer(loop, thread, server, check_pool), port
