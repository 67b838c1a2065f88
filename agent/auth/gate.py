"""Who may call: the per-call decision every transport asks (`Gate`), and the one way a refusal is recorded.

A decision is a refusal reason or None (let in). Token mode: the presented token must hash to one in the token
store. mTLS: the peer's verified certificate must name (CN or SAN) one of `allowed_clients`; with an empty list any
certificate the client CA signed is let in (the TLS handshake already decided). Every refusal is one warning line
`auth.refused` (transport, reason, where it came from; never a token, never a request's content) and one increment
of `fundguard_unauthenticated_total{transport}`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import structlog

from fundguard.agent.config import AuthMode, AuthSettings
from fundguard.agent.engine.errors import FundguardError

from .tokens import TokenStore

__all__ = ["Gate", "Unauthenticated"]

_log = structlog.get_logger("fundguard.agent.auth")


class Unauthenticated(FundguardError):
    """A call without valid credentials (HTTP bodies carry `code` "unauthenticated")."""

    code = "unauthenticated"


class Gate:
    """The authentication decision of one agent (settings, token store, allowed client names)."""

    def __init__(
        self, settings: AuthSettings, tokens: TokenStore | None, on_refused: Callable[[str], None] = lambda _t: None
    ) -> None:
        if settings.mode == "token" and tokens is None:
            raise ValueError("auth.tokens_file: required when mode = 'token'")
        self.mode: AuthMode = settings.mode
        self.tokens = tokens
        self.allowed = frozenset(settings.allowed_clients)
        self.on_refused = on_refused  # the composition root attaches the metrics counter

    def token_refusal(self, token: str | None) -> str | None:
        """Why a presented token is refused (None: it is a known client's)."""
        if not token:
            return "no token"
        assert self.tokens is not None  # token mode has a store (checked in __init__)
        return None if self.tokens.client(token) is not None else "unknown token"

    def bearer_refusal(self, header: str | None) -> str | None:
        """Why an `Authorization` value is refused (None: `Bearer <a known token>`)."""
        if header is None:
            return "no Authorization: Bearer token"
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer":
            return "Authorization is not 'Bearer <token>'"
        return self.token_refusal(token.strip())

    def peer_refusal(self, names: Sequence[str]) -> str | None:
        """Why a verified client certificate's names are refused (None: allowed). No names: no certificate."""
        if not names:
            return "no client certificate"
        if self.allowed and self.allowed.isdisjoint(names):
            return f"client certificate {names[0][:64]!r} is not in auth.allowed_clients"
        return None

    def refused(self, transport: str, reason: str, **where: str) -> None:
        """Record one refusal: a log line and the counter of `transport`."""
        _log.warning("auth.refused", transport=transport, reason=reason, **where)
        self.on_refused(transport)
