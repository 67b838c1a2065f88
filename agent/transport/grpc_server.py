"""The gRPC transport: `fundguard.v1.ComplianceAgent/Check` on a grpc.aio server, with health and reflection.

Measured (bench/, `make bench`): with the thread-pool server a Check p50 was ~1.6x a bare echo's, with grpc.aio
~1.45x: the handler is CPU-bound Python, and running it on the event loop that polls the completion queue saves the
hand-off to a worker thread. The aio server runs on its own event-loop thread behind the blocking `start()` /
`stop(grace).wait()` API of a `grpc.Server`, so the composition root, tests and bench stay synchronous. The
synchronous health servicer runs on the server's migration thread pool (`grpc.max_workers` threads).

Check is registered with an identity request deserializer: the handler decodes the raw bytes itself, so a body
that is not a `CheckRequest` (say 5 MB of garbage) is answered INVALID_ARGUMENT naming `request`, not INTERNAL.
Errors become statuses in one place, `_guarded`:
- `InvalidField` → INVALID_ARGUMENT with `google.rpc.BadRequest` (the field path) and `google.rpc.ErrorInfo`;
- `KbUnavailable` → UNAVAILABLE;
- anything else → INTERNAL with an error log line; the agent keeps serving.
Business code never calls `context.abort`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime
from typing import Any

import grpc
import structlog
from google.protobuf.message import DecodeError, Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_reflection.v1alpha import reflection
from grpc_status import rpc_status
from structlog.contextvars import STRUCTLOG_KEY_PREFIX, bind_contextvars

from fundguard.adapters.his.nhsa_feedback import decode_feedback
from fundguard.agent.config import GrpcSettings
from fundguard.agent.engine.errors import FundguardError, InvalidField, KbUnavailable
from fundguard.agent.feedback import DecisionStore
from fundguard.agent.log import ensure_logging
from fundguard.agent.service import CheckService
from fundguard.agent.stream import AlertBus, AlertFilter
from fundguard.v1 import compliance_pb2 as pb

from .grpc_trace import TraceRpcs
from .health import HEALTH_SERVICE_NAME, AgentHealth
from .proto_codec import SERVICE_NAME, event_to_proto, request_from_proto, response_to_proto

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
DEADLINE_MARGIN_S = 0.02  # answer this long before the caller's deadline, so the answer still arrives (a busy loop)
FEEDBACK_METHOD = f"/{SERVICE_NAME}/Feedback"
SUBSCRIBE_METHOD = f"/{SERVICE_NAME}/SubscribeAlerts"
ERROR_DOMAIN = "fundguard.v1"

_log = structlog.get_logger("fundguard.agent.grpc")


class BindError(RuntimeError):
    """The server could not listen on the configured address."""


def _status(code: int, message: str, *details: Any) -> grpc.Status:
    status = status_pb2.Status(code=code, message=message)
    for detail in details:
        status.details.add().Pack(detail)
    return rpc_status.to_status(status)


def status_for(exc: BaseException) -> grpc.Status:
    """The gRPC status of an error: rich details (BadRequest naming the field, ErrorInfo with the stable code);
    anything that is not a known client or availability error is INTERNAL without details of the cause."""
    code = exc.code if isinstance(exc, FundguardError) else "internal"
    info = error_details_pb2.ErrorInfo(reason=code.upper(), domain=ERROR_DOMAIN)
    if isinstance(exc, InvalidField):
        field = exc.field or "request"
        info.metadata["field"] = field
        violation = error_details_pb2.BadRequest.FieldViolation(field=field, description=exc.message)
        bad = error_details_pb2.BadRequest(field_violations=[violation])
        return _status(code_pb2.INVALID_ARGUMENT, f"{field}: {exc.message}", bad, info)
    if isinstance(exc, KbUnavailable):
        return _status(code_pb2.UNAVAILABLE, exc.message, info)
    return _status(code_pb2.INTERNAL, "internal error (see the agent log)", info)


AioBehavior = Callable[[bytes, grpc.aio.ServicerContext[Any, Any]], Awaitable[Message]]


def _guarded(method: str, behavior: AioBehavior) -> AioBehavior:
    """The RPC as the aio server runs it: every exception leaves as a proper status (the one mapping place)."""

    async def rpc(raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> Message:
        try:
            return await behavior(raw, context)
        except InvalidField as exc:
            _log.info("grpc.invalid_argument", method=method, field=exc.field or "request")
            status = status_for(exc)
        except KbUnavailable as exc:
            _log.warning("grpc.unavailable", method=method, reason=exc.message)
            status = status_for(exc)
        except Exception as exc:
            _log.error("grpc.internal_error", method=method, error=type(exc).__name__, exc_info=True)
            status = status_for(exc)
        await context.abort(status.code, status.details, status.trailing_metadata)
        raise AssertionError("context.abort returned")  # pragma: no cover - abort always raises

    return rpc


def _inline(behavior: Callable[[bytes, Any], Message]) -> AioBehavior:
    """A quick synchronous behaviour run on the event loop itself."""

    async def run(raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> Message:
        return behavior(raw, context)

    return run


def _on_pool(behavior: Callable[[bytes, Any], Message], pool: ThreadPoolExecutor) -> AioBehavior:
    """A behaviour that may block (a ledger write waits for a concurrent one) run on the pool, not the loop."""

    async def run(raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> Message:
        scope = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(pool, scope.run, behavior, raw, context)

    return run


class _Budgeted:
    """Check under a time limit: the work runs on the check pool while the loop waits at most the budget (or the
    caller's deadline less a margin, if sooner); past it the caller gets CHECK_UNAVAILABLE with the reason, never an
    empty success. The abandoned check finishes in the background and its answer is dropped."""

    def __init__(
        self, behavior: Callable[[bytes, Any], Message], budget_ms: int, pool: ThreadPoolExecutor, service: CheckService
    ) -> None:
        self._behavior = behavior
        self._budget = budget_ms / 1000
        self._pool = pool
        self._service = service

    async def __call__(self, raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> Message:
        limit, why = self._budget, f"the agent's check budget ({self._budget * 1000:.0f} ms)"
        remaining = context.time_remaining()
        if remaining is not None and remaining - DEADLINE_MARGIN_S < limit:
            limit, why = max(remaining - DEADLINE_MARGIN_S, 0.0), "the caller's deadline"
        # the worker binds the encounter and masked patient to its log context: bring them back for the error log
        scope = contextvars.copy_context()
        work = asyncio.get_running_loop().run_in_executor(self._pool, scope.run, self._behavior, raw, context)
        try:
            return await asyncio.wait_for(work, limit)
        except TimeoutError:
            _log.warning("grpc.check_unavailable", limit_ms=round(limit * 1000), reason=why)
            reason = f"check unavailable: not finished within {why}; the order is not known to comply"
            self._tell_unavailable(raw, reason)
            store = self._service.store
            return pb.CheckResponse(
                status=pb.CHECK_UNAVAILABLE,
                status_reason=reason,
                kb_revision=store.current.revision if store.loaded else "",
            )
        finally:  # read without entering: on a timeout the worker is still inside `scope`
            bind_contextvars(**{
                var.name.removeprefix(STRUCTLOG_KEY_PREFIX): value
                for var, value in scope.items()
                if var.name.startswith(STRUCTLOG_KEY_PREFIX) and value is not Ellipsis
            })  # fmt: skip

    def _tell_unavailable(self, raw: bytes, reason: str) -> None:
        """Show the workstation that asked (the alert stream) that its check is unavailable: the request is parsed
        again here, on this rare path only; one that does not parse is answered by the worker's error anyway."""
        try:
            parsed = request_from_proto(pb.CheckRequest.FromString(raw))
        except (DecodeError, FundguardError):
            return
        self._service.unavailable(parsed, reason)


def _check_behavior(service: CheckService, budget_ms: int, pool: ThreadPoolExecutor) -> AioBehavior:
    """Check under the budget on the pool, or inline on the loop when the budget is 0 (off)."""
    handler = _CheckHandler(service)
    return _Budgeted(handler, budget_ms, pool, service) if budget_ms > 0 else _inline(handler)


class _CheckHandler:
    """Check: raw bytes → CheckRequest → domain → CheckService → CheckResponse."""

    def __init__(self, service: CheckService) -> None:
        self._service = service
        self._log = structlog.get_logger("fundguard.agent.grpc").bind()  # concrete: no proxy cost per call

    def __call__(self, raw: bytes, _context: grpc.ServicerContext) -> pb.CheckResponse:
        msg = pb.CheckRequest()
        try:
            msg.ParseFromString(raw)
        except DecodeError:
            raise InvalidField(
                f"not a {pb.CheckRequest.DESCRIPTOR.full_name} message ({len(raw)} bytes could not be decoded)",
                "request",
            ) from None
        parsed = request_from_proto(msg)
        request = parsed.request
        # every log line of this RPC (its own contextvars context) carries the encounter and the masked patient
        bind_contextvars(mdtrt_id=request.encounter.mdtrt_id, patn_id=request.patient.patn_id)
        outcome = self._service.check(parsed)
        result = outcome.result
        self._log.debug(
            "check.done",
            judgement_id=result.judgement_id,
            kb_revision=result.kb_revision,
            alerts=len(result.alerts),
            engine_micros=outcome.engine_micros,
        )
        return response_to_proto(outcome, request.task_id)


class _FeedbackHandler:
    """Feedback: a clinician's decision (3103 semantics) → the decision store, once per jr_id."""

    def __init__(self, decisions: DecisionStore, clock: Callable[[], datetime]) -> None:
        self._decisions = decisions
        self._clock = clock

    def __call__(self, raw: bytes, _context: grpc.ServicerContext) -> pb.FeedbackResponse:
        msg = pb.FeedbackRequest()
        try:
            msg.ParseFromString(raw)
        except DecodeError:
            raise InvalidField(f"not a {pb.FeedbackRequest.DESCRIPTOR.full_name} message", "request") from None
        warn = {"warn_rslt_id": msg.jr_id, "dspo_way": msg.dspo_way, "dspo_way_rea": msg.dspo_way_rea}
        data = {"warn_type": msg.warn_type or "1", "warns": [warn]}
        try:
            (decision,) = decode_feedback({"data": data}, source="grpc", decided_at=self._clock().isoformat())
        except InvalidField as exc:  # "data.warns[0].dspo_way" → "dspo_way"
            field = exc.field.rpartition(".")[2].replace("warn_rslt_id", "jr_id")
            raise InvalidField(exc.message, field) from None
        if self._decisions.unknown([decision]):
            raise InvalidField(f"unknown jr_id {decision.jr_id!r}: this agent answered no alert with that id", "jr_id")
        (outcome,) = self._decisions.record([decision])
        return pb.FeedbackResponse(jr_id=decision.jr_id, outcome=outcome.value)


class _AlertStream:
    """SubscribeAlerts: the alert bus, filtered, from the subscriber's cursor on; waits on the bus between batches."""

    def __init__(self, bus: AlertBus) -> None:
        self._bus = bus

    async def subscribe(self, raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[pb.AlertEvent]:
        """The RPC (a bound async generator method: grpc.aio recognises those as streaming behaviours)."""
        msg = pb.SubscribeAlertsRequest()
        try:
            msg.ParseFromString(raw)
        except DecodeError:
            status = status_for(InvalidField(f"not a {msg.DESCRIPTOR.full_name} message", "request"))
            await context.abort(status.code, status.details, status.trailing_metadata)
        wanted = AlertFilter(msg.workstation_id.strip(), msg.dept_code.strip(), msg.practitioner_code.strip())
        cursor = msg.cursor or self._bus.last_cursor
        loop = asyncio.get_running_loop()
        woken = asyncio.Event()

        def wake() -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed under a late publisher
                loop.call_soon_threadsafe(woken.set)

        unwatch = self._bus.watch(wake)
        _log.info("grpc.subscribed", workstation_id=wanted.workstation_id, dept_code=wanted.dept_code,
                  practitioner_code=wanted.practitioner_code, cursor=cursor)  # fmt: skip
        try:
            while True:
                woken.clear()
                events, cursor = self._bus.since(cursor, wanted)
                for event in events:
                    yield event_to_proto(event)
                if not events:
                    await woken.wait()
        finally:
            unwatch()


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
    feedback: _FeedbackHandler | None,
    stream: _AlertStream | None,
    trace: TraceRpcs | None = None,
    check_pool: ThreadPoolExecutor,
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
            _guarded(CHECK_METHOD, _check_behavior(service, settings.check_budget_ms, check_pool)),
            request_deserializer=None,  # raw bytes: the handler decodes, so garbage is INVALID_ARGUMENT
            response_serializer=pb.CheckResponse.SerializeToString,
        )
    }
    if feedback is not None:  # without a decision store (bench, some tests) Feedback is UNIMPLEMENTED
        handlers["Feedback"] = grpc.unary_unary_rpc_method_handler(
            _guarded(FEEDBACK_METHOD, _inline(feedback)), response_serializer=pb.FeedbackResponse.SerializeToString
        )
    if stream is not None:  # without an alert bus SubscribeAlerts is UNIMPLEMENTED
        handlers["SubscribeAlerts"] = grpc.unary_stream_rpc_method_handler(
            stream.subscribe, response_serializer=pb.AlertEvent.SerializeToString
        )
    if trace is not None:  # without a trace ledger the trace methods are UNIMPLEMENTED
        methods: dict[str, tuple[Callable[[bytes, Any], Message], type[Message]]] = {
            "RecordDispense": (trace.dispense, pb.DispenseResponse),
            "RecordReturn": (trace.return_line, pb.ReturnResponse),
            "ImportInbound": (trace.import_inbound, pb.ImportInboundResponse),
        }
        for name, (behavior, reply) in methods.items():
            handlers[name] = grpc.unary_unary_rpc_method_handler(
                _guarded(f"/{SERVICE_NAME}/{name}", _on_pool(behavior, check_pool)),
                response_serializer=reply.SerializeToString,
            )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
    # grpcio's registered-method fast path (as generated code does): no per-call walk of the generic handlers
    server.add_registered_method_handlers(SERVICE_NAME, handlers)  # type: ignore[attr-defined]  # not in grpc-stubs
    health.add_to(server)
    health.update(kb_loaded=service.store.loaded)
    reflection.enable_server_reflection((SERVICE_NAME, HEALTH_SERVICE_NAME, reflection.SERVICE_NAME), server)
    try:
        port = server.add_insecure_port(settings.address)
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
) -> tuple[AgentServer, int]:
    """A bound, not yet started server with Check, health and reflection; returns it and the bound port.

    Configure logging before calling this (the Check handler binds its logger here); if nothing configured it,
    the masked default is installed.
    """
    ensure_logging()
    check_pool = ThreadPoolExecutor(max_workers=settings.max_workers, thread_name_prefix="fundguard-check")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=_run_loop, args=(loop,), name="fundguard-grpc-loop", daemon=True)
    thread.start()
    try:
        server, port = asyncio.run_coroutine_threadsafe(
            _build(
                service,
                settings,
                health=health if health is not None else AgentHealth(),
                feedback=_FeedbackHandler(decisions, clock) if decisions is not None else None,
                stream=_AlertStream(bus) if bus is not None else None,
                trace=trace,
                check_pool=check_pool,
            ),
            loop,
        ).result()
    except BaseException:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        check_pool.shutdown(wait=False)
        raise
    return AgentServer(loop, thread, server, check_pool), port
