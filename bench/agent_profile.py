"""Where the agent's Check time goes, outside the network: each stage of the gRPC handler timed alone, then a
cProfile of the whole handler (what the server's worker thread runs per call).

Stages: decode the bytes (protobuf), proto → domain (`request_from_proto`), the service (`CheckService.check`:
date of service, judgement id, engine), domain → proto (`response_to_proto`), serialize. The whole handler is the
transport's own `_CheckHandler` (it adds the log context and a debug log line) when the module still has it.
"""

from __future__ import annotations

import cProfile
import pstats
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fundguard.agent.engine import CompiledKB, check
from fundguard.agent.kb import KbStore
from fundguard.agent.service import CheckService
from fundguard.agent.transport import grpc_server
from fundguard.agent.transport.proto_codec import request_from_proto, response_to_proto
from fundguard.v1 import compliance_pb2 as pb

from .stats import Timing, sample

__all__ = ["HotSpot", "Stage", "hot_spots", "stage_breakdown"]


@dataclass(frozen=True, slots=True)
class Stage:
    """One stage of the handler, timed alone (hot loop)."""

    name: str
    timing: Timing


@dataclass(frozen=True, slots=True)
class HotSpot:
    """One function of the cProfile, per Check call (µs)."""

    function: str
    calls_per_check: float
    own_us: float
    cumulative_us: float


def _handler(service: CheckService) -> Callable[[bytes], bytes]:
    """The transport's handler (raw bytes in, serialized response out), or an equivalent chain."""
    native = getattr(grpc_server, "_CheckHandler", None)
    if native is not None:
        h = native(service)
        return lambda raw: bytes(h(raw, None).SerializeToString())

    def chain(raw: bytes) -> bytes:
        parsed = request_from_proto(pb.CheckRequest.FromString(raw))
        return bytes(response_to_proto(service.check(parsed), parsed.request.task_id).SerializeToString())

    return chain


def _service(kb: CompiledKB) -> CheckService:
    store = KbStore()
    store.activate(kb, "bench")
    return CheckService(store)


def stage_breakdown(kb: CompiledKB, payload: bytes, iterations: int, warmup: int) -> list[Stage]:
    """Each stage of one Check, `iterations` times after `warmup`, on the serialized request `payload`."""
    service = _service(kb)
    msg = pb.CheckRequest.FromString(payload)
    parsed = request_from_proto(msg)
    request = parsed.request
    outcome = service.check(parsed)
    day = outcome.result.service_date
    response = response_to_proto(outcome, request.task_id)
    handler = _handler(service)
    stages: list[tuple[str, Callable[[], Any]]] = [
        ("decode (ParseFromString)", lambda: pb.CheckRequest.FromString(payload)),
        ("proto -> domain (request_from_proto)", lambda: request_from_proto(msg)),
        ("engine (check)", lambda: check(request, kb, day, "bench")),
        ("service (CheckService.check)", lambda: service.check(parsed)),
        ("domain -> proto (response_to_proto)", lambda: response_to_proto(outcome, request.task_id)),
        ("serialize (SerializeToString)", response.SerializeToString),
        ("whole handler (bytes -> bytes)", lambda: handler(payload)),
    ]
    return [Stage(name, sample(fn, iterations, warmup)) for name, fn in stages]


def _label(key: tuple[str, int, str]) -> str:
    path, line, name = key
    if path == "~":
        return name
    short = path.split("/fundguard/")[-1] if "/fundguard/" in path else path.rsplit("/", 1)[-1]
    return f"{short}:{line}({name})"


def hot_spots(kb: CompiledKB, payload: bytes, calls: int, top: int) -> list[HotSpot]:
    """cProfile `calls` runs of the whole handler; the `top` functions by own time, per Check."""
    handler = _handler(_service(kb))
    for _ in range(200):
        handler(payload)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        handler(payload)
    profiler.disable()
    stats: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    theirs = [kv for kv in stats.items() if "/bench/" not in kv[0][0]]  # not the bench's own call wrappers
    rows = sorted(theirs, key=lambda kv: kv[1][2], reverse=True)[:top]
    return [
        HotSpot(_label(key), ncalls / calls, own * 1e6 / calls, cum * 1e6 / calls)
        for key, (_, ncalls, own, cum, _) in rows
    ]
