"""gRPC figures: client-observed latency of sequential unary calls on one channel over 127.0.0.1.

`compare_check_echo` times the agent's Check against the bare echo service with the same request payload (the
serialized 10-line CheckRequest), alternating between the two servers in rounds so that drift (CPU frequency,
other load on the host) affects both alike. The client sends pre-serialized bytes and takes raw bytes back on
both paths, so the figures differ only by what the servers do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter_ns
from typing import Any

import grpc
from google.protobuf import json_format

from fundguard.v1 import compliance_pb2 as pb

from .servers import ECHO_METHOD, Running
from .stats import Timing, summarize

__all__ = [
    "CHECK_METHOD",
    "Comparison",
    "check_payload",
    "compare_check_echo",
    "compare_echoes",
    "describe_check",
    "engine_micros_in_server",
]

CHECK_METHOD = "/fundguard.v1.ComplianceAgent/Check"
_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class Comparison:
    """Two series measured in the same run, and their ratios (a over b)."""

    where: str
    a_name: str
    a: Timing
    b_name: str
    b: Timing

    @property
    def ratio_p50(self) -> float:
        """a p50 / b p50."""
        return self.a.p50 / self.b.p50

    @property
    def ratio_p99(self) -> float:
        """a p99 / b p99."""
        return self.a.p99 / self.b.p99

    @property
    def ratio_p999(self) -> float:
        """a p99.9 / b p99.9."""
        return self.a.p999 / self.b.p999


def check_payload(request: dict[str, Any]) -> bytes:
    """The proto3-JSON-shaped request as a serialized `CheckRequest`."""
    return json_format.ParseDict(request, pb.CheckRequest()).SerializeToString()


class _Caller:
    """One channel to one server and a bytes-in, bytes-out callable for one method."""

    def __init__(self, port: int, method: str) -> None:
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(self.channel).result(timeout=_TIMEOUT)
        # as generated stubs do (grpcio's registered-method fast path); grpc-stubs does not know the argument yet
        self.call: Callable[..., bytes] = self.channel.unary_unary(method, _registered_method=True)  # type: ignore[call-arg]

    def close(self) -> None:
        """Close the channel."""
        self.channel.close()


def describe_check(server: Running, payload: bytes) -> pb.CheckResponse:
    """One Check call, decoded (to show the agent did real work: alerts, engine_micros)."""
    caller = _Caller(server.port, CHECK_METHOD)
    try:
        return pb.CheckResponse.FromString(caller.call(payload, timeout=_TIMEOUT))
    finally:
        caller.close()


def engine_micros_in_server(server: Running, payload: bytes, calls: int = 300) -> float:
    """p50 of the `engine_micros` the agent reports over `calls` Checks: engine time inside the serving process."""
    caller = _Caller(server.port, CHECK_METHOD)
    try:
        micros = sorted(
            pb.CheckResponse.FromString(caller.call(payload, timeout=_TIMEOUT)).engine_micros for _ in range(calls)
        )
        return float(micros[calls // 2])
    finally:
        caller.close()


def _timed(call: Callable[..., bytes], payload: bytes, n: int, out: list[int]) -> None:
    for _ in range(n):
        started = perf_counter_ns()
        call(payload, timeout=_TIMEOUT)
        out.append(perf_counter_ns() - started)


def _alternate(
    a: tuple[Running, str], b: tuple[Running, str], payload: bytes, calls: int, *, warmup: int, rounds: int
) -> tuple[Timing, Timing]:
    ca, cb = _Caller(a[0].port, a[1]), _Caller(b[0].port, b[1])
    try:
        for caller in (ca, cb):
            _timed(caller.call, payload, warmup, [])
        sa: list[int] = []
        sb: list[int] = []
        per_round = max(1, calls // rounds)
        for _ in range(rounds):
            _timed(ca.call, payload, per_round, sa)
            _timed(cb.call, payload, per_round, sb)
        return summarize(sa), summarize(sb)
    finally:
        ca.close()
        cb.close()


def compare_check_echo(
    agent: Running, echo: Running, payload: bytes, calls: int, *, warmup: int, rounds: int = 6
) -> Comparison:
    """Check on the agent vs the echo service, `calls` timed calls each after `warmup` untimed ones."""
    check, echoed = _alternate((agent, CHECK_METHOD), (echo, ECHO_METHOD), payload, calls, warmup=warmup, rounds=rounds)
    return Comparison(agent.where.split(" (")[0], "Check", check, "echo", echoed)


def compare_echoes(aio: Running, pool: Running, payload: bytes, calls: int, warmup: int) -> Comparison:
    """grpc.aio echo vs thread-pool echo, same payload."""
    a, p = _alternate((aio, ECHO_METHOD), (pool, ECHO_METHOD), payload, calls, warmup=warmup, rounds=4)
    return Comparison(aio.where.split(" (")[0], "aio echo", a, "thread-pool echo", p)
