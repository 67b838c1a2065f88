"""Authentication on the MLLP transport: a token in MSH-8 (Security), or the connection's client certificate.

Token mode: every message carries its client's token in MSH-8 (`MSH|^~\\&|HIS|H1|FUNDGUARD|H1|…|<token>|RDE^O11…`);
the listener reads it from the frame's first segment before anything is decoded. mTLS: the listener is TLS-wrapped
MLLP; the connection's verified certificate (CN or SAN) must be allowed. A message that fails is answered with an
`AR` whose MSA-3 / ERR-8 say "unauthenticated: …", and the connection stays open for the next message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .gate import Gate
from .tls import cert_names

__all__ = ["MllpAuth", "msh8"]

_SEGMENT_ENDS = (b"\r", b"\n")


def msh8(frame: bytes) -> str:
    """MSH-8 of a frame's message ("" when there is none: no MSH first, or fewer fields)."""
    head = frame.lstrip(b"\xef\xbb\xbf \r\n")[:4096]
    if not head.startswith(b"MSH") or len(head) < 4:
        return ""
    for end in _SEGMENT_ENDS:
        head = head.split(end, 1)[0]
    fields = head.split(head[3:4])
    return fields[7].strip().decode("ascii", "replace") if len(fields) > 7 else ""


class MllpAuth:
    """The per-message check of the MLLP listener."""

    def __init__(self, gate: Gate) -> None:
        self.gate = gate

    def refusal(self, frame: bytes, peercert: Mapping[str, Any] | None) -> str | None:
        """Why the frame's message is refused (None: let in); `peercert` is the connection's verified certificate."""
        if self.gate.mode == "token":
            return self.gate.token_refusal(msh8(frame))
        if self.gate.mode == "mtls":
            return self.gate.peer_refusal(cert_names(peercert))
        return None

    def refused(self, reason: str, peer: str) -> None:
        """Record one refused message."""
        self.gate.refused("mllp", reason, peer=peer)
