"""The HTTP listener (aiohttp): the national 3101/3102/3103 gateway and the CDS Hooks service share one port.

`HttpListener(settings, setups)` builds one `aiohttp.web.Application` whose routes the `setups` add (each a
function `setup(app)`, e.g. `national_routes(...)`), serves it on its own event-loop thread and exposes the
blocking `start()` / `stop(grace)` of every agent listener. `address` is the bound address (port 0 → real port).
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Sequence

import structlog
from aiohttp import web

from fundguard.agent.config import HttpSettings
from fundguard.agent.log import ensure_logging

from .loop_thread import LoopThread

__all__ = ["HttpListener", "RouteSetup"]

RouteSetup = Callable[[web.Application], None]

_log = structlog.get_logger("fundguard.agent.http")


class HttpListener:
    """One aiohttp server on its own loop thread."""

    name = "http"

    def __init__(
        self,
        settings: HttpSettings,
        setups: Sequence[RouteSetup],
        grace_seconds: float = 5.0,
        ssl_context: ssl.SSLContext | None = None,  # HTTPS (agent.auth: [auth] cert/key, client certificates)
    ) -> None:
        if settings.address is None:
            raise ValueError("http.address is not set")
        ensure_logging()  # its routes log encounters: never through structlog's unmasked defaults
        self._settings = settings
        self._setups = tuple(setups)
        self._grace = grace_seconds
        self._ssl = ssl_context
        host, _, port = settings.address.rpartition(":")
        self._host = host.strip("[]")
        self._port = int(port)
        self._thread: LoopThread | None = None
        self._runner: web.AppRunner | None = None

    @property
    def address(self) -> str:
        """HOST:PORT actually listened on."""
        return f"{self._host}:{self._port}"

    def _app(self) -> web.Application:
        app = web.Application(client_max_size=self._settings.max_body_bytes)
        for setup in self._setups:
            setup(app)
        return app

    async def _start(self) -> None:
        runner = web.AppRunner(self._app(), access_log=None, handle_signals=False, shutdown_timeout=self._grace)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port, ssl_context=self._ssl)
        await site.start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    def start(self) -> None:
        """Bind and serve; raises OSError when the address cannot be bound."""
        self._thread = LoopThread.running("fundguard-http", self._start())
        _log.info("http.started", address=self.address)

    def stop(self) -> None:
        """Stop accepting, let running requests finish (up to the grace period), then close."""
        thread, runner = self._thread, self._runner
        if thread is None:
            return
        if runner is not None:
            thread.run(runner.cleanup(), timeout=self._grace + 30)
        thread.close()
        self._thread = self._runner = None
