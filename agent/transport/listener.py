"""What the composition root needs of every non-gRPC listener (HTTP, MLLP, drop folder)."""

from __future__ import annotations

from typing import Protocol

__all__ = ["Listener"]


class Listener(Protocol):
    """Blocking lifecycle: `start()` returns once serving (raises OSError if it cannot bind/open); `stop()` stops
    accepting work, finishes or safely abandons what is running (nothing lost), and returns when done."""

    name: str

    @property
    def address(self) -> str:
        """Where it listens (HOST:PORT, or a folder)."""
        ...

    def start(self) -> None:
        """Start serving."""

    def stop(self) -> None:
        """Stop serving."""
