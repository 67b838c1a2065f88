"""The servers the gRPC bench calls: the real agent, and bare echo services to compare it with.

- `agent`: `fundguard.agent.transport.grpc_server.create_server` on settings from `fundguard.agent.config`
  (address 127.0.0.1:0), logging configured as the agent configures it, the embedded default KB.
- `echo`: a thread-pool grpcio server (same pool size and options as the agent) with one generic handler whose
  (de)serializers are identity: it answers each request with the request's own bytes.
- `aio-echo`: the same echo on `grpc.aio` (asyncio, no thread pool).
- `sync-agent`: the agent's Check handler on a thread-pool grpcio server (`sync_server`), same KB and settings.
- `national`: the agent's HTTP listener with the national 3101/3102/3103 gateway (`national_routes`, decisions in
  a temporary directory), same check service; `mllp`: the agent's HL7 v2 MLLP listener on it.
The agent servers answer through a bare `CheckService` (no alert bus, uplink or history observers), each with the
agent's check budget (`grpc.check_budget_ms`, also `FUNDGUARD_GRPC__CHECK_BUDGET_MS` in a child's environment).

Each can run in this process (`start_in_process`) or in a child process (`start_subprocess`, which runs
`python -m bench.servers KIND`: the child prints `PORT <n>` and serves until its stdin closes); a child's resident
memory is read from /proc (`Running.rss`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from fundguard.agent.config import Settings, load_settings
from fundguard.agent.engine import CompiledKB
from fundguard.agent.service import CheckService

__all__ = [
    "ECHO_METHOD",
    "KINDS",
    "ProcessMemory",
    "Running",
    "agent_settings",
    "start_in_process",
    "start_subprocess",
]

ECHO_SERVICE = "fundguard.bench.Echo"
ECHO_METHOD = f"/{ECHO_SERVICE}/Echo"
KINDS = ("agent", "echo", "aio-echo", "sync-agent", "national", "mllp")
REPO = Path(__file__).resolve().parent.parent
LOCAL = "127.0.0.1:0"


@dataclass(frozen=True, slots=True)
class ProcessMemory:
    """A process's resident set (MiB): now (VmRSS) and its peak so far (VmHWM)."""

    rss_mib: float
    peak_mib: float


@dataclass
class Running:
    """A serving server: its port, how it runs and how to stop it."""

    kind: str
    port: int
    where: str  # "in-process" or "subprocess (pid N)"
    _stop: Callable[[], None]
    pid: int | None = None  # the child's, when it runs in one

    def stop(self) -> None:
        """Stop the server (and its process or loop thread)."""
        self._stop()

    def rss(self) -> ProcessMemory | None:
        """The child process's resident memory now and at peak (None in-process or where /proc is missing)."""
        if self.pid is None:
            return None
        try:
            status = Path(f"/proc/{self.pid}/status").read_text().splitlines()
        except OSError:
            return None
        kib = {k: int(v.split()[0]) for k, _, v in (line.partition(":") for line in status) if k in ("VmRSS", "VmHWM")}
        return ProcessMemory(kib.get("VmRSS", 0) / 1024, kib.get("VmHWM", 0) / 1024)


def agent_settings() -> Settings:
    """The agent's own settings (defaults, FUNDGUARD_* environment) with the address set to 127.0.0.1:0."""
    return load_settings(overrides={"grpc.address": LOCAL})


def _options(settings: Settings) -> list[tuple[str, Any]]:
    """The channel options the agent's server sets, so the echo server runs the same way."""
    return [("grpc.max_receive_message_length", settings.grpc.max_receive_bytes), ("grpc.so_reuseport", 0)]


def _echo(request: bytes, _context: Any) -> bytes:
    return request


async def _aio_echo(request: bytes, _context: Any) -> bytes:
    return request


def _echo_handlers(behavior: Callable[..., Any]) -> dict[str, grpc.RpcMethodHandler]:  # type: ignore[type-arg]
    # None (de)serializers: the bytes pass through untouched
    return {"Echo": grpc.unary_unary_rpc_method_handler(behavior)}


def _serve_echo(settings: Settings) -> tuple[grpc.Server, int]:
    server = grpc.server(
        ThreadPoolExecutor(max_workers=settings.grpc.max_workers, thread_name_prefix="bench-echo"),
        options=_options(settings),
    )
    handlers = _echo_handlers(_echo)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(ECHO_SERVICE, handlers),))
    # the agent registers its methods this way too (grpcio's faster lookup); same path for both
    server.add_registered_method_handlers(ECHO_SERVICE, handlers)  # type: ignore[attr-defined]
    port = server.add_insecure_port(LOCAL)
    server.start()
    return server, port


def _service(settings: Settings, kb: CompiledKB | None) -> CheckService:
    """The check service as the agent starts it: logging, runtime tuning, the KB loaded (or `kb`)."""
    from fundguard.agent.app import tune_runtime
    from fundguard.agent.kb import KbStore
    from fundguard.agent.log import configure_logging

    configure_logging(settings.log)  # as the agent does at start (level info: the per-check debug line is off)
    tune_runtime()  # as `fundguard serve` does
    store = KbStore(settings.kb.parameters)
    if kb is None:
        store.load(settings.kb.path)
    else:
        store.activate(kb, str(settings.kb.path))
    return CheckService(store)


def _serve_agent(settings: Settings, kb: CompiledKB | None) -> tuple[grpc.Server, int]:
    from fundguard.agent.transport.grpc_server import create_server

    server, port = create_server(_service(settings, kb), settings.grpc)
    server.start()
    return server, port


def _serve_listener(kind: str, settings: Settings, kb: CompiledKB | None) -> Running:
    """The national JSON gateway (`national`) or the MLLP listener (`mllp`) on 127.0.0.1, port chosen by the OS."""
    from datetime import datetime

    from fundguard.agent.config import load_settings
    from fundguard.agent.feedback import DecisionStore
    from fundguard.agent.transport.http_national import national_routes
    from fundguard.agent.transport.http_server import HttpListener
    from fundguard.agent.transport.mllp_server import MllpListener

    service = _service(settings, kb)
    budget = settings.grpc.check_budget_ms
    listener: HttpListener | MllpListener
    tmp = tempfile.TemporaryDirectory(prefix="fundguard-bench-")
    decisions = None
    if kind == "national":
        decisions = DecisionStore(Path(tmp.name) / "decisions.sqlite3")
        http = load_settings(overrides={"http.address": LOCAL}).http
        listener = HttpListener(http, [national_routes(service, decisions, datetime.now, budget)])
    else:
        listener = MllpListener(load_settings(overrides={"mllp.address": LOCAL}).mllp, service, datetime.now, budget)
    listener.start()

    def stop() -> None:
        listener.stop()
        if decisions is not None:
            decisions.close()
        tmp.cleanup()

    return Running(kind, int(listener.address.rpartition(":")[2]), "in-process", stop)


class _AioThread:
    """A grpc.aio echo server on its own event loop in a daemon thread."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._server: grpc.aio.Server | None = None
        self.port = 0
        self._thread = threading.Thread(target=self._run, name="bench-aio", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("aio echo server did not start")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()

    async def _start(self) -> None:
        server = grpc.aio.server(options=_options(self._settings))
        handlers = _echo_handlers(_aio_echo)
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(ECHO_SERVICE, handlers),))
        self.port = server.add_insecure_port(LOCAL)
        await server.start()
        self._server = server

    def stop(self) -> None:
        """Stop the server, then the loop and its thread."""
        if self._server is not None:
            asyncio.run_coroutine_threadsafe(self._server.stop(0), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def start_in_process(kind: str, settings: Settings, kb: CompiledKB | None = None) -> Running:
    """Start a server of `kind` in this process (its handlers share this interpreter's GIL with the client)."""
    if kind == "aio-echo":
        aio = _AioThread(settings)
        return Running(kind, aio.port, "in-process", aio.stop)
    if kind in ("national", "mllp"):
        return _serve_listener(kind, settings, kb)
    if kind == "sync-agent":
        from .sync_server import create_sync_server

        sync, port = create_sync_server(_service(settings, kb), settings, LOCAL)
        return Running(kind, port, "in-process", lambda: sync.stop(0).wait())
    server, port = _serve_agent(settings, kb) if kind == "agent" else _serve_echo(settings)

    def stop() -> None:
        server.stop(0).wait()

    return Running(kind, port, "in-process", stop)


def start_subprocess(kind: str, env: dict[str, str] | None = None) -> Running:
    """Start a server of `kind` in a child Python process (own GIL); it reads its settings itself (`env` is added to
    its environment, e.g. FUNDGUARD_GRPC__CHECK_BUDGET_MS)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.servers", kind],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert proc.stdout is not None and proc.stdin is not None
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        with proc:  # closes the pipes
            raise RuntimeError(f"{kind} server did not start (got {line!r}, exit {proc.wait()})")

    def stop() -> None:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.close()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()

    return Running(kind, int(line.split()[1]), f"subprocess (pid {proc.pid})", stop, proc.pid)


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.servers KIND`: serve until stdin closes (used by start_subprocess)."""
    parser = argparse.ArgumentParser(description="serve one bench server until stdin closes")
    parser.add_argument("kind", choices=KINDS)
    args = parser.parse_args(argv)
    running = start_in_process(args.kind, agent_settings())
    print(f"PORT {running.port}", flush=True)
    sys.stdin.read()  # returns at EOF: the parent closed our stdin
    running.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
