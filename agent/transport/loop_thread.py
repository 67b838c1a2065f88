"""An asyncio event loop on its own daemon thread, driven from synchronous code (the composition root, tests).

The HTTP and MLLP listeners run their servers on one of these, so `Agent.start()` / `stop()` stay blocking calls
like the gRPC server's. `run(coro)` submits a coroutine and waits for its result. Every loop of the agent (these and
the gRPC server's) is made by `new_event_loop`: uvloop's where it is installed (a dependency except on Windows).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["LoopThread", "new_event_loop"]

T = TypeVar("T")


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new event loop: uvloop's (libuv) where it is installed, else asyncio's. Measured on the gRPC Check path
    (`make bench`, bench/README.md): the loop's own work per call is ~9 µs less on uvloop."""
    try:
        import uvloop  # noqa: PLC0415  # optional: absent on Windows
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class LoopThread:
    """Start with `LoopThread(name)`; `run(coro, timeout)`; `close()` stops the loop and joins the thread."""

    def __init__(self, name: str) -> None:
        self.loop = new_event_loop()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()

    @classmethod
    def running(cls, name: str, start: Coroutine[Any, Any, object], timeout: float = 30) -> LoopThread:
        """A new loop thread that has run `start` (a server's start-up); closed again if `start` fails."""
        thread = cls(name)
        try:
            thread.run(start, timeout)
        except BaseException:
            thread.close()
            raise
        return thread

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run `coro` on the loop and return its result (raises what it raises)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        """Stop the loop and wait for the thread (idempotent)."""
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join()
