"""How each gRPC method runs: the error → status mapping (`guarded`), where the work runs (`inline` on the event
loop, `on_pool` on the check pool, `Budgeted` under the check budget) and the Check handler itself.

Errors become statuses in one place, `guarded`:
- `InvalidField` → INVALID_ARGUMENT with `google.rpc.BadRequest` (the field path) and `google.rpc.ErrorInfo`;
- `KbUnavailable` → UNAVAILABLE;
- anything else → INTERNAL with an error log line; the agent keeps serving.
Business code never calls `context.abort`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import structlog
from google.protobuf.message import DecodeError, Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from fundguard.agent.engine.errors import FundguardError, InvalidField, KbUnavailable
from fundguard.agent.intake import ParsedRequest
from fundguard.agent.log import bind_check
from fundguard.agent.service import CheckService
from fundguard.v1 import compliance_pb2 as pb

from .proto_codec import request_from_proto, response_to_proto

__all__ = [
    "DEADLINE_MARGIN_S",
    "AioBehavior",
    "Budgeted",
    "CheckHandler",
    "check_behavior",
    "guarded",
    "inline",
    "on_pool",
    "status_for",
]

DEADLINE_MARGIN_S = 0.02  # answer this long before the caller's deadline, so the answer still arrives (a busy loop)
ERROR_DOMAIN = "fundguard.v1"


_log = structlog.get_logger("fundguard.agent.grpc")


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


# what the aio server runs for a unary method: raw request bytes and the context → the response message
AioBehavior = Callable[[bytes, grpc.aio.ServicerContext[Any, Any]], Awaitable[Message]]


def guarded(method: str, behavior: AioBehavior) -> AioBehavior:
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


def inline(behavior: Callable[[bytes, Any], Message]) -> AioBehavior:
    """A quick synchronous behaviour run on the event loop itself."""

    async def run(raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> Message:
        return behavior(raw, context)

    return run


def on_pool(behavior: Callable[[bytes, Any], Message], pool: ThreadPoolExecutor) -> AioBehavior:
    """A behaviour that may block (a ledger write waits for a concurrent one) run on the pool, not the loop."""

    async def run(raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> Message:
        scope = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(pool, scope.run, behavior, raw, context)

    return run


class _OverBudget(Exception):
    """The check did not finish within its limit."""


def _settle(answer: asyncio.Future[Message], result: Message | None, exc: BaseException | None) -> None:
    """Give `answer` its outcome unless it has one already (the timer and the worker race; the first one wins)."""
    if answer.done():
        return
    if exc is not None:
        answer.set_exception(exc)
    else:
        answer.set_result(result)  # type: ignore[arg-type]


class Budgeted:
    """Check under a time limit. The request is decoded on the loop (CPU only; a bad one is refused there). A check
    that touches memory only (`CheckService.touches_disk` is False) is answered inline: nothing in it can stall, and
    the hand-off to a thread would cost more than the check. Any other runs on the check pool while the loop waits at
    most the budget (or the caller's deadline less a margin, if sooner); past it the caller gets CHECK_UNAVAILABLE
    with the reason, never an empty success. The abandoned check finishes in the background; its answer is dropped."""

    def __init__(self, handler: CheckHandler, budget_ms: int, pool: ThreadPoolExecutor, service: CheckService) -> None:
        self._handler = handler
        self._budget = budget_ms / 1000
        self._pool = pool
        self._service = service

    async def __call__(self, raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> Message:
        parsed = self._handler.decode(raw)  # binds the encounter and masked patient to this RPC's log context
        if not self._service.touches_disk(parsed):
            return self._handler.answer(parsed)
        limit, why = self._budget, f"the agent's check budget ({self._budget * 1000:.0f} ms)"
        remaining = context.time_remaining()
        if remaining is not None and remaining - DEADLINE_MARGIN_S < limit:
            limit, why = max(remaining - DEADLINE_MARGIN_S, 0.0), "the caller's deadline"
        scope = contextvars.copy_context()  # the worker logs with this RPC's bindings
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Message] = loop.create_future()
        run = self._handler.answer

        def work() -> None:  # on the pool; hands the outcome back to the loop (cheaper than run_in_executor)
            result: Message | None = None
            error: BaseException | None = None
            try:
                result = scope.run(run, parsed)
            except BaseException as exc:  # re-raised on the loop, where `guarded` maps it
                error = exc
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile (the agent stopped): nobody waits
                loop.call_soon_threadsafe(_settle, answer, result, error)

        self._pool.submit(work)
        timer = loop.call_later(limit, _settle, answer, None, _OverBudget())
        try:
            return await answer
        except _OverBudget:
            _log.warning("grpc.check_unavailable", limit_ms=round(limit * 1000), reason=why)
            reason = f"check unavailable: not finished within {why}; the order is not known to comply"
            self._service.unavailable(parsed, reason)  # the workstation's alert stream shows it
            store = self._service.store
            return pb.CheckResponse(
                status=pb.CHECK_UNAVAILABLE,
                status_reason=reason,
                kb_revision=store.current.revision if store.loaded else "",
            )
        finally:
            timer.cancel()


def check_behavior(service: CheckService, budget_ms: int, pool: ThreadPoolExecutor) -> AioBehavior:
    """Check under the budget (inline when it touches memory only, else on the pool), or always inline on the loop
    when the budget is 0 (off)."""
    handler = CheckHandler(service)
    return Budgeted(handler, budget_ms, pool, service) if budget_ms > 0 else inline(handler)


class CheckHandler:
    """Check: raw bytes → CheckRequest → domain → CheckService → CheckResponse."""

    def __init__(self, service: CheckService) -> None:
        self._service = service
        self._log = structlog.get_logger("fundguard.agent.grpc").bind()  # concrete: no proxy cost per call
        self._debug = self._log.is_enabled_for(logging.DEBUG)  # fixed with the logger: no keyword call per check

    def __call__(self, raw: bytes, _context: grpc.ServicerContext) -> pb.CheckResponse:
        """The whole Check, inline."""
        return self.answer(self.decode(raw))

    def decode(self, raw: bytes) -> ParsedRequest:
        """Bytes → validated domain request (raises InvalidField naming the field); binds the encounter and the
        masked patient to the current log context, so every log line of this RPC carries them."""
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
        bind_check(request.encounter.mdtrt_id, request.patient.patn_id)
        return parsed

    def answer(self, parsed: ParsedRequest) -> pb.CheckResponse:
        """Check a decoded request and render the response."""
        outcome = self._service.check(parsed)
        result = outcome.result
        if self._debug:
            self._log.debug(
                "check.done",
                judgement_id=result.judgement_id,
                kb_revision=result.kb_revision,
                alerts=len(result.alerts),
                engine_micros=outcome.engine_micros,
            )
        return response_to_proto(outcome, parsed.request.task_id)
