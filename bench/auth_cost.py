"""`python -m bench.auth_cost`: what authentication (`agent.auth`) adds per call. Prints, never asserts.

1. The per-call checks alone (timeit, best of 5): the token lookup (SHA-256 + dict), the bearer header parse, the
   gRPC token check on a call's metadata, MLLP's MSH-8 read + lookup, the pop-up page key (HMAC).
2. Inside a real grpc.aio server (127.0.0.1:0) whose client runs on the server's own event loop: the gRPC check as
   it runs per call on the server's context objects (`invocation_metadata()`, `auth_context()`), timed around the
   check only. (Timed with a client thread in the same process, the span also catches GIL waits: part 3's column.)
3. Client-observed Check p50 over real sockets, inline checks (budget 0): no auth vs token; mTLS vs mTLS with
   `allowed_clients` (the only mTLS mode with a per-call step; TLS itself is not auth's per-call cost).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import timeit
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import grpc

from fundguard.agent.auth.gate import Gate
from fundguard.agent.auth.grpc_auth import context_refusal
from fundguard.agent.auth.mllp_auth import msh8
from fundguard.agent.auth.page_keys import PageKeys
from fundguard.agent.auth.tokens import TokenStore, add_client
from fundguard.agent.auth.wiring import open_auth
from fundguard.agent.config import AuthSettings, GrpcSettings
from fundguard.agent.kb import KbStore
from fundguard.agent.service import CheckService
from fundguard.agent.transport.grpc_server import create_server
from fundguard.central.devcerts import agent_dir, write_dev_certs
from fundguard.knowledge_base import default_bundle_path
from fundguard.v1 import compliance_pb2 as pb
from fundguard.v1 import compliance_pb2_grpc as pb_grpc

CALLS = 3000


def _us(fn: Callable[[], object], number: int = 20_000) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


class _Context:
    """The metadata a grpcio client sends with a Check (user agent, authorization)."""

    def __init__(self, token: str) -> None:
        self._metadata = (("user-agent", "grpc-python/1.85.1 grpc-c/50.0.0 (linux; chttp2)"),
                          ("authorization", f"Bearer {token}"))  # fmt: skip

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata


def micro(tokens_path: Path, token: str) -> None:
    store = TokenStore(tokens_path)
    gate = Gate(AuthSettings(mode="token", tokens_file=tokens_path), store)
    refusal = context_refusal(gate)
    assert refusal is not None
    context = _Context(token)
    frame = f"MSH|^~\\&|HIS|H1|FUNDGUARD|H1|20250614142724|{token}|RDE^O11^RDE_O11|C1|P|2.5\rPID|1\r".encode()
    keys = PageKeys(b"s" * 64)
    key = keys.key("WS-12")
    print("per-call checks alone (µs, best of 5 × 20,000):")
    for name, fn in (
        ("token lookup (known token: dict)", lambda: store.client(token)),
        ("token lookup (new token: SHA-256 + dict)", lambda: store.client(token + "x")),
        ("Authorization: Bearer parse + lookup", lambda: gate.bearer_refusal(f"Bearer {token}")),
        ("gRPC token check on call metadata", lambda: refusal(context)),
        ("MLLP MSH-8 read + lookup", lambda: gate.token_refusal(msh8(frame))),
        ("pop-up page key (HMAC-SHA256)", lambda: keys.refusal("WS-12", key)),
    ):
        print(f"  {name:<40} {_us(fn):6.2f}")


def _timed(opened: Any, step: list[int]) -> None:
    """Wrap the gRPC per-call check of `opened` so that each run's duration lands in `step`."""
    inner = opened.grpc._refusal  # the bench times the step itself
    if inner is None:
        return

    def timed(context: Any) -> str | None:
        started = time.perf_counter_ns()
        reason = inner(context)
        step.append(time.perf_counter_ns() - started)
        return reason

    opened.grpc._refusal = timed


async def _in_loop(auth: AuthSettings, data: Path, credentials: grpc.ChannelCredentials | None,
                   metadata: tuple[tuple[str, str], ...]) -> float:  # fmt: skip
    """The check step's p50 (µs) inside a grpc.aio server whose client runs on the same event loop (no GIL
    hand-offs inside the timed span): an echo method behind `GrpcAuth.guard`."""
    opened = open_auth(auth, data)
    step: list[int] = []
    _timed(opened, step)

    async def echo(raw: bytes, _context: Any) -> bytes:
        return raw

    handlers = opened.grpc.guard("bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(echo)})
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("bench.Echo", handlers),))
    if opened.grpc.credentials is not None:
        port = server.add_secure_port("127.0.0.1:0", opened.grpc.credentials)
        channel = grpc.aio.secure_channel(f"localhost:{port}", credentials)
    else:
        port = server.add_insecure_port("127.0.0.1:0")
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    await server.start()
    try:
        call = channel.unary_unary("/bench.Echo/Echo")
        for _ in range(CALLS + 300):
            await call(b"x", metadata=metadata)
    finally:
        await channel.close()
        await server.stop(0)
    return statistics.median(step[300:]) / 1000


def _request() -> pb.CheckRequest:
    return pb.CheckRequest(
        patient=pb.Patient(patn_id="P-1", gend="1", brdy="1951-08-27"),
        encounter=pb.Encounter(mdtrt_id="E-1", med_type="21", insutype="390", medins_lv="01", orders=[
            pb.Order(rx_id="6374", hilist_code="XG02BAZ061Z007010279543", cnt="1", pric="1153")
        ]),
    )  # fmt: skip


def serve_and_time(
    service: CheckService,
    auth: AuthSettings,
    data: Path,
    channel: Callable[[int], grpc.Channel],
    metadata: tuple[tuple[str, str], ...] = (),
) -> tuple[float, float | None]:
    """(client-observed Check p50 µs, server-side check step p50 µs or None when there is no per-call step)."""
    opened = open_auth(auth, data)
    step: list[int] = []
    _timed(opened, step)
    server, port = create_server(service, GrpcSettings("127.0.0.1:0", 2, check_budget_ms=0), auth=opened.grpc)
    server.start()
    try:
        with channel(port) as ch:
            stub = pb_grpc.ComplianceAgentStub(ch)
            request = _request()
            for _ in range(300):
                stub.Check(request, metadata=metadata)
            step.clear()
            samples = []
            for _ in range(CALLS):
                started = time.perf_counter_ns()
                stub.Check(request, metadata=metadata)
                samples.append(time.perf_counter_ns() - started)
    finally:
        server.stop(0).wait()
    return statistics.median(samples) / 1000, (statistics.median(step) / 1000 if step else None)


def end_to_end(tmp: Path, tokens_path: Path, token: str) -> None:
    store = KbStore()
    store.load(default_bundle_path())
    service = CheckService(store, clock=lambda: datetime(2026, 11, 1, 10, 0))
    write_dev_certs(tmp / "pki", ["his-main"])
    folder = agent_dir(tmp / "pki", "his-main")
    credentials = grpc.ssl_channel_credentials((folder / "ca.pem").read_bytes(), (folder / "client.key").read_bytes(),
                                               (folder / "client.pem").read_bytes())  # fmt: skip

    def plain(port: int) -> grpc.Channel:
        return grpc.insecure_channel(f"127.0.0.1:{port}")

    def tls(port: int) -> grpc.Channel:
        return grpc.secure_channel(f"localhost:{port}", credentials)

    mtls = {"mode": "mtls", "cert": tmp / "pki" / "server.pem", "key": tmp / "pki" / "server.key",
            "client_ca": tmp / "pki" / "ca.pem"}  # fmt: skip
    runs = (
        ("none (plaintext)", AuthSettings(), plain, ()),
        ("token (plaintext)", AuthSettings(mode="token", tokens_file=tokens_path), plain,
         (("authorization", f"Bearer {token}"),)),
        ("mtls, any client of the CA", AuthSettings(**mtls), tls, ()),  # type: ignore[arg-type]
        ("mtls, allowed_clients", AuthSettings(**mtls, allowed_clients=("his-main",)), tls, ()),  # type: ignore[arg-type]
    )  # fmt: skip
    print(f"\nthe gRPC check step inside a grpc.aio server, client on the server's loop ({CALLS} calls, p50 µs):")
    for name, settings, _channel, metadata in runs:
        if name.endswith("any client of the CA") or name.startswith("none"):
            continue
        secure = credentials if settings.mode == "mtls" else None
        print(f"  {name:<30} {asyncio.run(_in_loop(settings, tmp, secure, metadata)):6.2f}")
    print(f"\ngRPC Check over 127.0.0.1, inline (budget 0), sync client thread, {CALLS} calls after 300 warm-up:")
    print(f"  {'mode':<30} {'client p50 µs':>14} {'auth step p50 µs (server, incl. GIL waits)':>44}")
    for name, settings, channel, metadata in runs:
        p50, step = serve_and_time(service, settings, tmp, channel, metadata)
        print(f"  {name:<30} {p50:14.1f} {f'{step:.2f}' if step is not None else '— (none per call)':>44}")


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        tokens_path = tmp / "clients.csv"
        token = add_client(tokens_path, "his-main")
        for n in range(20):  # a hospital's worth of clients
            add_client(tokens_path, f"client-{n}")
        micro(tokens_path, token)
        end_to_end(tmp, tokens_path, token)


if __name__ == "__main__":
    main()
