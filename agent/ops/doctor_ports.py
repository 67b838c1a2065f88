"""`fundguard doctor`'s port checks: each configured listening address is either free to bind, or held by a running
fundguard agent (its gRPC health service answers, or its HTTP port serves fundguard's `/metrics`), or held by
another program (a problem: the agent could not start)."""

from __future__ import annotations

import errno
import socket
import urllib.request
from collections.abc import Iterator

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from fundguard.agent.config import Settings

from .findings import Finding

__all__ = ["port_findings"]

PROBE_TIMEOUT_S = 2.0
_WILDCARD = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def _bind_error(host: str, port: int) -> OSError | None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT is not "in use"
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc
    return None


def _target(host: str, port: int) -> str:
    host = _WILDCARD.get(host, host)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _grpc_agent(host: str, port: int) -> str | None:
    """The health status a fundguard agent answers there, or None when nothing gRPC answers."""
    try:
        with grpc.insecure_channel(_target(host, port)) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=PROBE_TIMEOUT_S)
    except grpc.RpcError:
        return None
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


def _http_agent(host: str, port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{_target(host, port)}/metrics", timeout=PROBE_TIMEOUT_S) as resp:
            return b"fundguard_" in resp.read(1 << 20)
    except (OSError, ValueError):
        return False


def _addresses(settings: Settings) -> list[tuple[str, str]]:
    out = [("grpc", settings.grpc.address)]
    out += [(name, address) for name, address in (
        ("http", settings.http.address), ("mllp", settings.mllp.address), ("metrics", settings.metrics.address)
    ) if address is not None]  # fmt: skip
    return out


def port_findings(settings: Settings) -> Iterator[Finding]:
    """One finding per configured listening address."""
    agent_running = False
    for name, address in _addresses(settings):
        check = f"port {name}"
        if address.startswith("unix:"):
            yield Finding.ok(check, f"{address} (a unix socket)")
            continue
        host, port = _split(address)
        if port == 0:
            yield Finding.ok(check, f"{address}: any free port")
            continue
        error = _bind_error(host, port)
        if error is None:
            yield Finding.ok(check, f"{address} is free to listen on")
        elif error.errno == errno.EADDRINUSE:
            finding, ours = _in_use(name, address, agent_running)
            agent_running = agent_running or ours
            yield finding
        elif error.errno == errno.EADDRNOTAVAIL:
            yield Finding.fail(check, f"{address}: this machine has no address {host}")
        elif error.errno == errno.EACCES:
            yield Finding.fail(check, f"{address}: a port below 1024 needs privileges the service does not have")
        else:
            yield Finding.fail(check, f"{address}: cannot listen ({error.strerror or error})")


def _in_use(name: str, address: str, agent_running: bool) -> tuple[Finding, bool]:
    """The finding for an address in use, and whether a fundguard agent was recognised holding it."""
    check = f"port {name}"
    host, port = _split(address)
    if name == "grpc":
        status = _grpc_agent(host, port)
        if status == "SERVING":
            return Finding.ok(check, f"{address} is in use by the running fundguard agent (health SERVING)"), True
        if status is not None:
            text = f"{address} is in use by the running fundguard agent, which reports {status}"
            return Finding.fail(check, text), True
    elif name in ("http", "metrics") and _http_agent(host, port):
        return Finding.ok(check, f"{address} is in use by the running fundguard agent (it serves /metrics)"), True
    elif agent_running:
        return Finding.ok(check, f"{address} is in use, by the running agent (its gRPC port answers)"), True
    return Finding.fail(
        check, f"{address} is already in use by another program: the agent could not listen there"
    ), False
