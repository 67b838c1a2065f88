"""Serving `/metrics` (Prometheus text format): a route on the agent's HTTP listener, and a small listener of its own.

`metrics_routes(registry)` adds `GET /metrics` to an aiohttp application (the agent's HTTP listener adds it beside
the national gateway and CDS Hooks). `MetricsListener` serves only that route on `[metrics] address`, so metrics are
there without the national HTTP gateway (off by default; e.g. 127.0.0.1:9464). The text is rendered on a worker
thread: collectors read SQLite files, which must not stall the listener's event loop.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from fundguard.agent.config import HttpSettings
from fundguard.agent.transport.http_server import HttpListener, RouteSetup

__all__ = ["METRICS_PATH", "MetricsListener", "metrics_routes"]

METRICS_PATH = "/metrics"
_MAX_BODY = 1024  # a scrape sends no body


def metrics_routes(registry: CollectorRegistry) -> RouteSetup:
    """A route setup adding `GET /metrics` for `registry`."""

    async def metrics(_request: web.Request) -> web.Response:
        body = await asyncio.get_running_loop().run_in_executor(None, generate_latest, registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})

    def setup(app: web.Application) -> None:
        app.router.add_get(METRICS_PATH, metrics)

    return setup


class MetricsListener(HttpListener):
    """`/metrics` alone on its own address ([metrics] address)."""

    name = "metrics"

    def __init__(self, address: str, registry: CollectorRegistry, grace_seconds: float = 1.0) -> None:
        super().__init__(HttpSettings(address, _MAX_BODY), [metrics_routes(registry)], grace_seconds)
