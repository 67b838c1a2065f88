"""Wiring of authentication for the composition root: `open_auth(settings, data_dir, on_refused)`.

Reads and checks everything at start (the token file, the certificates, the page secret), so a bad file stops the
agent with a message naming the `auth.*` key instead of refusing calls later. `OpenedAuth` holds what each listener
takes: gRPC its credentials and method guard, HTTP its SSL context and middleware, MLLP its SSL context and message
check. Mode "none" guards nothing (the listeners still serve TLS when `cert`/`key` are set).
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from aiohttp import web

from fundguard.agent.config import AuthSettings

from .gate import Gate
from .grpc_auth import GrpcAuth
from .http_auth import HttpGuard
from .mllp_auth import MllpAuth
from .page_keys import PAGE_SECRET_FILE, PageKeys, load_page_secret
from .tls import server_credentials, ssl_context
from .tokens import TokenStore

__all__ = ["OpenedAuth", "open_auth", "page_secret_path"]


def page_secret_path(settings: AuthSettings, data_dir: Path) -> Path:
    """Where the pop-up page's secret is: `page_secret_file`, else `<data dir>/auth/page.secret`."""
    return settings.page_secret_file if settings.page_secret_file is not None else data_dir / PAGE_SECRET_FILE


@dataclass(frozen=True, slots=True)
class OpenedAuth:
    """Authentication as each listener takes it."""

    gate: Gate
    grpc: GrpcAuth
    http_ssl: ssl.SSLContext | None = None
    http_routes: Callable[[web.Application], None] | None = None  # installs the middleware; None: nothing guarded
    mllp: MllpAuth | None = None
    mllp_ssl: ssl.SSLContext | None = None
    page_keys: PageKeys | None = None


def open_auth(
    settings: AuthSettings,
    data_dir: Path,
    on_refused: Callable[[str], None] = lambda _transport: None,
    clock: Callable[[], datetime] = datetime.now,
) -> OpenedAuth:
    """Authentication for an agent; ValueError naming the `auth.*` key when a file cannot be used."""
    tokens = TokenStore(settings.tokens_file) if settings.mode == "token" and settings.tokens_file else None
    gate = Gate(settings, tokens, on_refused)
    grpc_auth = GrpcAuth(gate, server_credentials(settings))
    http_ssl = ssl_context(settings, require_client_cert=False)  # a browser without a certificate reaches the page
    mllp_ssl = ssl_context(settings, require_client_cert=True)
    if settings.mode == "none":
        return OpenedAuth(gate, grpc_auth, http_ssl, None, None, mllp_ssl)
    keys = PageKeys(load_page_secret(page_secret_path(settings, data_dir)))
    return OpenedAuth(gate, grpc_auth, http_ssl, HttpGuard(gate, keys, clock).setup, MllpAuth(gate), mllp_ssl, keys)
