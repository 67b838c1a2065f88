"""Text for the operator's terminal: the CLI commands write through `write_utf8`, so Chinese rule names and texts
come out as UTF-8 whatever the console's locale (a Windows HIS box may run a GBK console)."""

from __future__ import annotations

from typing import TextIO

__all__ = ["write_utf8"]


def write_utf8(stream: TextIO, text: str) -> None:
    """Write `text` to `stream` as UTF-8 bytes (through its binary buffer when it has one) and flush."""
    buffer = getattr(stream, "buffer", None)
    if buffer is None:
        stream.write(text)
        stream.flush()
    else:
        stream.flush()
        buffer.write(text.encode("utf-8"))
        buffer.flush()
