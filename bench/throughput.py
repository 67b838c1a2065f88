"""Throughput against concurrency: checks/s and latency with 1, 4, 16, 64 requests in flight, per server.

A closed loop in this process (asyncio, one thread): N workers each send the bench's 10-line encounter, wait for
the answer and send again, for `seconds` per level after `warmup_s` untimed; checks/s is calls answered / wall
time, latency is client-observed per call. Servers run in child processes (`servers.start_subprocess`), so their
RSS is their own:
- gRPC Check on the agent's grpc.aio server as deployed (check budget on: the check runs on the check pool), the
  same with the budget off (inline on the loop), and the thread-pool server variant (`sync_server`); one HTTP/2
  channel carries every in-flight call, as one HIS connection would; a grpc.aio echo of the same bytes is the floor;
- the national 3101 JSON gateway (aiohttp; a pool of up to N keep-alive connections);
- HL7 v2 over MLLP (one connection per in-flight message: MLLP answers one frame at a time per connection).
The client shares the machine's cores with the server: on 2 cores, the figures are what one client process can drive.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import grpc

from .grpc_bench import CHECK_METHOD
from .servers import ECHO_METHOD, ProcessMemory, Running, start_subprocess
from .stats import Timing, summarize

__all__ = ["LEVELS", "SERVERS", "Level", "ServerRun", "measure", "print_runs"]

LEVELS = (1, 4, 16, 64)
_TIMEOUT = 30.0
Call = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ServerSpec:
    """A server to load: its bench kind, extra environment, protocol (grpc, national, mllp) and gRPC method."""

    name: str
    kind: str
    protocol: str
    env: tuple[tuple[str, str], ...] = ()
    method: str = CHECK_METHOD


SERVERS = (
    ServerSpec("grpc aio (agent, as deployed)", "agent", "grpc"),
    ServerSpec("grpc aio, check budget off", "agent", "grpc", (("FUNDGUARD_GRPC__CHECK_BUDGET_MS", "0"),)),
    ServerSpec("grpc thread pool (sync variant)", "sync-agent", "grpc"),
    ServerSpec("grpc aio echo (floor)", "aio-echo", "grpc", method=ECHO_METHOD),
    ServerSpec("national 3101 JSON (HTTP)", "national", "national"),
    ServerSpec("HL7 v2 (MLLP)", "mllp", "mllp"),
)


@dataclass(frozen=True, slots=True)
class Level:
    """One concurrency level: calls answered in `seconds`, their latency, and the calls that failed."""

    in_flight: int
    calls: int
    seconds: float
    errors: int
    timing: Timing

    @property
    def per_s(self) -> float:
        """Calls answered per second."""
        return self.calls / self.seconds

    def as_dict(self) -> dict[str, Any]:
        """Rounded figures for the JSON."""
        return {
            "in_flight": self.in_flight,
            "per_s": round(self.per_s, 1),
            "calls": self.calls,
            "errors": self.errors,
            **self.timing.as_dict(),
        }


@dataclass(frozen=True, slots=True)
class ServerRun:
    """Every level against one server, and the server process's memory after them."""

    spec: ServerSpec
    levels: tuple[Level, ...]
    memory: ProcessMemory | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return {
            "name": self.spec.name,
            "kind": self.spec.kind,
            "protocol": self.spec.protocol,
            "levels": [level.as_dict() for level in self.levels],
            "rss_mib": round(self.memory.rss_mib, 1) if self.memory else None,
            "peak_rss_mib": round(self.memory.peak_mib, 1) if self.memory else None,
        }


class _Client:
    """Opens what N workers need on one server and hands each worker its call."""

    def __init__(self, spec: ServerSpec, port: int, payloads: dict[str, bytes]) -> None:
        self._spec, self._port, self._payloads = spec, port, payloads
        self._channel: grpc.aio.Channel | None = None
        self._session: aiohttp.ClientSession | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def open(self, in_flight: int) -> list[Call]:
        """One call per worker."""
        protocol = self._spec.protocol
        if protocol == "grpc":
            self._channel = grpc.aio.insecure_channel(f"127.0.0.1:{self._port}")
            rpc = self._channel.unary_unary(self._spec.method)
            body = self._payloads["grpc"]

            async def grpc_call() -> None:
                await rpc(body, timeout=_TIMEOUT)

            return [grpc_call] * in_flight
        if protocol == "national":
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=in_flight))
            session, url, doc = self._session, f"http://127.0.0.1:{self._port}/3101", self._payloads["national"]
            headers = {"Content-Type": "application/json; charset=utf-8"}

            async def post() -> None:
                async with session.post(url, data=doc, headers=headers) as response:
                    answer = await response.json(content_type=None)
                if answer.get("infcode") != 0:
                    raise RuntimeError(f"infcode {answer.get('infcode')}: {answer.get('err_msg')}")

            return [post] * in_flight
        return [await self._mllp_worker() for _ in range(in_flight)]

    async def _mllp_worker(self) -> Call:
        reader, writer = await asyncio.open_connection("127.0.0.1", self._port)
        self._writers.append(writer)
        frame = self._payloads["mllp"]

        async def send() -> None:
            writer.write(frame)
            ack = await reader.readuntil(b"\x1c\r")
            if b"MSA|AA" not in ack:
                raise RuntimeError("MLLP answer is not AA")

        return send

    async def close(self) -> None:
        """Close the channel, session or connections."""
        if self._channel is not None:
            await self._channel.close()
        if self._session is not None:
            await self._session.close()
        for writer in self._writers:
            writer.close()
        self._channel, self._session, self._writers = None, None, []


async def _loop(calls: Sequence[Call], until: float, samples: list[int] | None) -> int:
    """Run every worker until `until` (monotonic); the latency of each answered call goes to `samples`."""
    errors = 0
    clock = time.perf_counter_ns

    async def worker(call: Call) -> None:
        nonlocal errors
        while time.monotonic() < until:
            started = clock()
            try:
                await call()
            except Exception:  # counted: a failed call is a figure, not the end of the run
                errors += 1
                continue
            if samples is not None:
                samples.append(clock() - started)

    await asyncio.gather(*(worker(c) for c in calls))
    return errors


async def _level(client: _Client, in_flight: int, seconds: float, warmup_s: float) -> Level:
    calls = await client.open(in_flight)
    try:
        await _loop(calls, time.monotonic() + warmup_s, None)
        samples: list[int] = []
        started = time.perf_counter()
        errors = await _loop(calls, time.monotonic() + seconds, samples)
        elapsed = time.perf_counter() - started
    finally:
        await client.close()
    if not samples:
        raise RuntimeError(f"no call answered with {in_flight} in flight ({errors} failed)")
    return Level(in_flight, len(samples), elapsed, errors, summarize(samples))


@contextmanager
def _serving(spec: ServerSpec) -> Iterator[Running]:
    running = start_subprocess(spec.kind, dict(spec.env))
    try:
        yield running
    finally:
        running.stop()


def measure(
    payloads: dict[str, bytes],
    *,
    levels: Sequence[int] = LEVELS,
    seconds: float = 2.0,
    warmup_s: float = 0.3,
    servers: Sequence[ServerSpec] = SERVERS,
) -> list[ServerRun]:
    """Each server in turn, each level in turn; `payloads` has the `grpc`, `national` and `mllp` request bytes."""
    runs = []
    for spec in servers:
        with _serving(spec) as running:
            client = _Client(spec, running.port, payloads)
            done = tuple(asyncio.run(_level(client, n, seconds, warmup_s)) for n in levels)
            runs.append(ServerRun(spec, done, running.rss()))
    return runs


def print_runs(runs: Sequence[ServerRun]) -> None:
    """A table: per server and level, checks/s, p50/p99/p99.9, errors; then the server's RSS."""
    print("\nthroughput: closed loop, N in flight, client in this process (asyncio), servers in child processes")
    print(f"  {'server':<34} {'N':>3} {'per s':>8} {'p50 µs':>9} {'p99 µs':>9} {'p99.9 µs':>9} {'errors':>6}")
    for run in runs:
        for level in run.levels:
            t = level.timing
            print(
                f"  {run.spec.name:<34} {level.in_flight:>3} {level.per_s:>8.0f} {t.p50:>9.0f} {t.p99:>9.0f} "
                f"{t.p999:>9.0f} {level.errors:>6}"
            )
        if run.memory is not None:
            print(f"  {'':<34} RSS {run.memory.rss_mib:.0f} MiB (peak {run.memory.peak_mib:.0f} MiB)")
