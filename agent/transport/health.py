"""The standard gRPC health service (`grpc.health.v1.Health`), fed by the agent's component status.

The agent is SERVING (for "" and for `fundguard.v1.ComplianceAgent`) once a knowledge base is active, NOT_SERVING
before that and from the moment a graceful shutdown begins, so load balancers and HIS probes stop sending checks.
"""

from __future__ import annotations

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from .proto_codec import SERVICE_NAME

__all__ = ["HEALTH_SERVICE_NAME", "AgentHealth"]

HEALTH_SERVICE_NAME: str = health.SERVICE_NAME
_SERVICES = ("", SERVICE_NAME)  # "" is the whole server (grpc_health_probe's default)


class AgentHealth:
    """Owns the health servicer; `update(kb_loaded)` on every KB change, `shutdown()` when stopping."""

    def __init__(self) -> None:
        self.servicer = health.HealthServicer()
        self._serving = False
        self._shut_down = False
        self.update(kb_loaded=False)

    @property
    def serving(self) -> bool:
        """True while the agent reports SERVING."""
        return self._serving

    def update(self, kb_loaded: bool) -> None:
        """SERVING when a knowledge base is loaded, else NOT_SERVING (no effect once shutting down)."""
        if self._shut_down:
            return
        self._serving = kb_loaded
        status = health_pb2.HealthCheckResponse.SERVING if kb_loaded else health_pb2.HealthCheckResponse.NOT_SERVING
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
