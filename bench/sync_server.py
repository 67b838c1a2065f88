"""The agent's Check on a synchronous (thread-pool) grpcio server: the variant the throughput bench compares with the
agent's grpc.aio server. Bench only: the agent itself serves `agent.transport.grpc_server`.

The same handler code answers (`grpc_behaviors.CheckHandler`: raw bytes → CheckRequest → domain → CheckService →
CheckResponse) and errors become the same statuses (`grpc_behaviors.status_for`); what differs is where the work
runs: on one of the server's `grpc.max_workers` pool threads, inline (no check budget: a pool thread is already off
the completion-queue poller), instead of on the event loop plus the check pool.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc

from fundguard.agent.config import Settings
from fundguard.agent.service import CheckService
from fundguard.agent.transport.grpc_behaviors import CheckHandler, status_for
from fundguard.agent.transport.proto_codec import SERVICE_NAME
from fundguard.v1 import compliance_pb2 as pb

__all__ = ["create_sync_server"]


def _check(handler: CheckHandler) -> Any:
    def rpc(raw: bytes, context: grpc.ServicerContext) -> pb.CheckResponse:
        try:
            return handler(raw, context)
        except Exception as exc:  # the agent's one mapping: InvalidField, KbUnavailable, anything else
            context.abort_with_status(status_for(exc))
            raise AssertionError("abort_with_status returned") from exc  # pragma: no cover - abort always raises

    return rpc


def create_sync_server(service: CheckService, settings: Settings, address: str) -> tuple[grpc.Server, int]:
    """A started thread-pool server answering `fundguard.v1.ComplianceAgent/Check` on `address`; and its port."""
    server = grpc.server(
        ThreadPoolExecutor(max_workers=settings.grpc.max_workers, thread_name_prefix="bench-sync-check"),
        options=[("grpc.max_receive_message_length", settings.grpc.max_receive_bytes), ("grpc.so_reuseport", 0)],
    )
    handlers = {
        "Check": grpc.unary_unary_rpc_method_handler(
            _check(CheckHandler(service)),
            request_deserializer=None,  # raw bytes, as the agent registers it
            response_serializer=pb.CheckResponse.SerializeToString,
        )
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
    server.add_registered_method_handlers(SERVICE_NAME, handlers)  # type: ignore[attr-defined]  # grpcio fast path
    port = server.add_insecure_port(address)
    server.start()
    return server, port
