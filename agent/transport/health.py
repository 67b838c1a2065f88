"""The standard gRPC health service (`grpc.health.v1.Health`), fed by the agent's component status.

The agent is SERVING (for "" and for `fundguard.v1.ComplianceAgent`) while a knowledge base is active and the
readiness probe (`fundguard.agent.ops.readiness`: stores writable, disk not full) finds no problem; NOT_SERVING
before that, while a problem lasts, and from the moment a graceful shutdown begins, so load balancers and HIS probes
stop sending checks.
"""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from .proto_codec import SERVICE_NAME

__all__ = ["HEALTH_SERVICE_NAME", "AgentHealth"]

HEALTH_SERVICE_NAME: str = health.SERVICE_NAME
_SERVICES = ("", SERVICE_NAME)  # "" is the whole server (grpc_health_probe's default)


class AgentHealth:
    """Owns the health servicer; `update(kb_loaded, problems)` on every KB or readiness change, `shutdown()` when
    stopping."""

    def __init__(self) -> None:
        self.servicer = health.HealthServicer()
        self._serving = False
        self._shut_down = False
        self._problems: tuple[str, ...] = ()
        self.update(kb_loaded=False)

    @property
    def serving(self) -> bool:
        """True while the agent reports SERVING."""
        return self._serving

    @property
    def problems(self) -> tuple[str, ...]:
        """What the readiness probe last found wrong (empty: nothing)."""
        return self._problems

    def update(self, kb_loaded: bool, problems: Sequence[str] | None = None) -> None:
        """SERVING when a knowledge base is loaded and there is no readiness problem, else NOT_SERVING (no effect
        once shutting down). `problems` None keeps the ones last reported."""
        if self._shut_down:
            return
        if problems is not None:
            self._problems = tuple(problems)
        self._serving = kb_loaded and not self._problems
        status = health_pb2.HealthCheckResponse.SERVING if self._serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in _SERVICES:
            self.servicer.set(name, status)

    def shutdown(self) -> None:
        """NOT_SERVING for every service from now on (later updates are ignored)."""
        self._serving = False
        self._shut_down = True
        self.servicer.enter_graceful_shutdown()

    def add_to(self, server: grpc.Server | grpc.aio.Server) -> None:
        """Register the health service on `server`."""
        health_pb2_grpc.add_HealthServicer_to_server(self.servicer, server)
