"""The gRPC transport: `fundguard.v1.ComplianceAgent/Check` on a thread-pool server, with health and reflection.

Check is registered with an identity request deserializer: the handler decodes the raw bytes itself, so a body
that is not a `CheckRequest` (say 5 MB of garbage) is answered INVALID_ARGUMENT naming `request`, not INTERNAL.
Errors become statuses in one place, `ErrorMappingInterceptor`:
- `InvalidField` → INVALID_ARGUMENT with `google.rpc.BadRequest` (the field path) and `google.rpc.ErrorInfo`;
- `KbUnavailable` → UNAVAILABLE;
- anything else → INTERNAL with an error log line; the agent keeps serving.
Business code never calls `context.abort`.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import structlog
from google.protobuf.message import DecodeError
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_reflection.v1alpha import reflection
from grpc_status import rpc_status
from structlog.contextvars import bind_contextvars

from fundguard.agent.config import GrpcSettings
from fundguard.agent.engine.errors import FundguardError, InvalidField, KbUnavailable
from fundguard.agent.log import ensure_logging
from fundguard.agent.service import CheckService
from fundguard.v1 import compliance_pb2 as pb

from .health import HEALTH_SERVICE_NAME, AgentHealth
from .proto_codec import SERVICE_NAME, request_from_proto, response_to_proto

__all__ = ["CHECK_METHOD", "BindError", "ErrorMappingInterceptor", "create_server", "status_for"]

CHECK_METHOD = f"/{SERVICE_NAME}/Check"
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


Behavior = Callable[[Any, grpc.ServicerContext], Any]


class ErrorMappingInterceptor(grpc.ServerInterceptor):  # type: ignore[type-arg]
    """Wraps the unary methods of `service_name` so every exception leaves as a proper status."""

    def __init__(self, service_name: str = SERVICE_NAME) -> None:
        self._prefix = f"/{service_name}/"
        self._wrapped: dict[str, tuple[object, grpc.RpcMethodHandler]] = {}  # type: ignore[type-arg]

    def intercept_service(self, continuation: Any, handler_call_details: Any) -> Any:
        """Return the method's handler with its behaviour guarded (cached per method)."""
        handler = continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None or handler.unary_unary is None or not method.startswith(self._prefix):
            return handler
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = grpc.unary_unary_rpc_method_handler(
            self._guard(method, handler.unary_unary),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    @staticmethod
    def _guard(method: str, behavior: Behavior) -> Behavior:
        def guarded(request: Any, context: grpc.ServicerContext) -> Any:
            try:
                return behavior(request, context)
            except InvalidField as exc:
                _log.info("grpc.invalid_argument", method=method, field=exc.field or "request")
                context.abort_with_status(status_for(exc))
            except KbUnavailable as exc:
                _log.warning("grpc.unavailable", method=method, reason=exc.message)
                context.abort_with_status(status_for(exc))
            except Exception as exc:
                _log.error("grpc.internal_error", method=method, error=type(exc).__name__, exc_info=True)
                context.abort_with_status(status_for(exc))

        return guarded


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


def create_server(
    service: CheckService, settings: GrpcSettings, health: AgentHealth | None = None
) -> tuple[grpc.Server, int]:
    """A bound, not yet started server with Check, health and reflection; returns it and the bound port.

    Configure logging before calling this (the Check handler binds its logger here); if nothing configured it,
    the masked default is installed.
    """
    ensure_logging()
    server = grpc.server(
        ThreadPoolExecutor(max_workers=settings.max_workers, thread_name_prefix="fundguard-grpc"),
        interceptors=[ErrorMappingInterceptor()],
        options=[
            ("grpc.max_receive_message_length", settings.max_receive_bytes),
            ("grpc.so_reuseport", 0),  # a second agent on the same port must fail, not share it
        ],
    )
    handlers = {
        "Check": grpc.unary_unary_rpc_method_handler(
            _CheckHandler(service),
            request_deserializer=None,  # raw bytes: the handler decodes, so garbage is INVALID_ARGUMENT
            response_serializer=pb.CheckResponse.SerializeToString,
        )
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
    server.add_registered_method_handlers(SERVICE_NAME, handlers)  # type: ignore[attr-defined]
    health = health if health is not None else AgentHealth()
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
