"""Authentication on the gRPC transport: each `ComplianceAgent` method's behaviour wrapped behind a check.

Token mode: metadata `authorization: Bearer <token>`. mTLS: the server's credentials require a client certificate
signed by the client CA (the handshake refuses anything else); with `allowed_clients` set, each call's peer (its CN
or a SAN: `peer_identities()`, else `auth_context()`) must be one of them. Otherwise the call ends UNAUTHENTICATED
before its behaviour runs, counted and logged (`Gate.refused`). Health and reflection stay open: they carry no
patient data and hospital IT probes them (`grpcurl`, load balancers); they are registered apart, not wrapped here.

Per call this costs reading the call's metadata and one dict lookup (token: ~5 µs inside the server, most of it
grpc's `invocation_metadata()`), the peer's identities and a set lookup (mTLS with `allowed_clients`), or nothing
(mTLS without); `python -m bench.auth_cost` prints the figures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, TypeAlias

import grpc

from .gate import Gate
from .tls import grpc_names

__all__ = ["GrpcAuth", "context_refusal"]

Refusal = Callable[[Any], str | None]  # the call's context → why it is refused, or None
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"  # generic in the stubs only


def context_refusal(gate: Gate) -> Refusal | None:
    """The per-call check of `gate`'s mode, or None when calls need no check (no auth, or mTLS with any client the
    CA signed)."""
    if gate.mode == "token":

        def token(context: Any) -> str | None:
            for key, value in context.invocation_metadata() or ():
                if key == "authorization":
                    return gate.bearer_refusal(value)
            return gate.bearer_refusal(None)

        return token
    if gate.mode == "mtls" and gate.allowed:
        allowed = gate.allowed

        def peer(context: Any) -> str | None:
            # fast path: the peer's identities (its SANs, else its CN: ~1 µs); all its names (~5 µs) only otherwise
            for identity in context.peer_identities() or ():
                if identity.decode("utf-8", "replace") in allowed:
                    return None
            return gate.peer_refusal(grpc_names(context.auth_context()))

        return peer
    return None


class GrpcAuth:
    """What the gRPC server takes from the auth settings: its port credentials and the wrapping of its methods."""

    def __init__(self, gate: Gate, credentials: grpc.ServerCredentials | None) -> None:
        self.gate = gate
        self.credentials = credentials  # None: a plaintext port
        self._refusal = context_refusal(gate)

    def guard(self, service: str, handlers: Mapping[str, Handler]) -> dict[str, Handler]:
        """`handlers` (name → method handler of `service`) with each behaviour behind the check."""
        refusal = self._refusal
        if refusal is None:
            return dict(handlers)
        out: dict[str, Handler] = {}
        for name, handler in handlers.items():
            h: Any = handler
            method = f"/{service}/{name}"
            if h.unary_unary is not None:
                out[name] = h._replace(unary_unary=self._unary(method, h.unary_unary, refusal))
            elif h.unary_stream is not None:
                out[name] = h._replace(unary_stream=self._stream(method, h.unary_stream, refusal))
            else:  # no client-streaming methods in the contract
                raise ValueError(f"{method}: only unary and server-streaming methods can be guarded")
        return out

    def _unary(self, method: str, behavior: Any, refusal: Refusal) -> Any:
        gate = self.gate

        async def rpc(raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            reason = refusal(context)
            if reason is not None:
                gate.refused("grpc", reason, method=method, peer=context.peer())
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, f"unauthenticated: {reason}")
            return await behavior(raw, context)

        return rpc

    def _stream(self, method: str, behavior: Any, refusal: Refusal) -> Any:
        gate = self.gate

        async def rpc(raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
            reason = refusal(context)
            if reason is not None:
                gate.refused("grpc", reason, method=method, peer=context.peer())
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, f"unauthenticated: {reason}")
            async for message in behavior(raw, context):
                yield message

        return rpc
