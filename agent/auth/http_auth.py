"""Authentication on the HTTP listener: one aiohttp middleware in front of every route.

What it guards, and how a refusal looks (the shape each protocol's clients read):
- the national gateway (`POST /`, `/{infno}`, `/fsi/api/rsfComIfsService/callService/{infno}`): HTTP 401 with the
  national envelope, `infcode` -1 and `err_msg` "unauthenticated: …" (the gateway's only non-200 answer);
- CDS Hooks calls and feedback (`POST /cds-services/…`): 401 `{code: "unauthenticated", field, message}`;
- the pop-up page, its stream and its feedback (`/alerts`, `/alerts/events`, `/alerts/feedback`): the workstation
  key (`?workstation=W&key=K`, `PageKeys`), 401 without one, 403 with another workstation's.
Token mode reads `Authorization: Bearer <token>`; mTLS the connection's verified client certificate. Open: CDS
discovery (`GET /cds-services`, as the CDS Hooks specification expects), the page's static assets and labels, and
`/metrics` (counts only, no patient data; keep the HTTP port on the intranet or use `[metrics] address`).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from fundguard.adapters.his import cds_hooks, nhsa_json

from .gate import Gate, Unauthenticated
from .page_keys import PageKeys
from .tls import cert_names

__all__ = ["HttpGuard"]

_NATIONAL = re.compile(r"/(?:\d{4})?|/fsi/api/rsfComIfsService/callService/[^/]+")
_PAGE = frozenset({"/alerts", "/alerts/events", "/alerts/feedback"})
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="fundguard"'}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(doc: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> web.Response:
    dumps = functools.partial(json.dumps, ensure_ascii=False)
    return web.json_response(doc, status=status, headers=headers, dumps=dumps)


def _realm(request: web.Request) -> str | None:
    """Which guarded part of the listener a request is for (the transport label of its refusals), or None."""
    path = request.path
    if path in _PAGE:
        return "alert_page"
    if request.method != "POST":
        return None
    if path.startswith("/cds-services/"):
        return "cds_hooks"
    if _NATIONAL.fullmatch(path):
        return "national"
    return None


class HttpGuard:
    """The middleware of one listener; `setup` is a route setup (`HttpListener(..., setups)`) that installs it."""

    def __init__(self, gate: Gate, page_keys: PageKeys, clock: Callable[[], datetime] = datetime.now) -> None:
        self._gate = gate
        self._page_keys = page_keys
        self._clock = clock

    def setup(self, app: web.Application) -> None:
        """Install the middleware (whatever the order of the other route setups)."""
        app.middlewares.append(self.middleware)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Let the request through, or answer the refusal in its protocol's shape."""
        realm = _realm(request)
        if realm is None:
            return await handler(request)
        if realm == "alert_page":
            query = request.query
            page_refusal = self._page_keys.refusal(query.get("workstation", "").strip(), query.get("key", "").strip())
            if page_refusal is None:
                return await handler(request)
            status, why = page_refusal
            self._gate.refused(realm, why, path=request.path, peer=request.remote or "")
            return _json({"code": "unauthenticated", "field": "key", "message": why}, status)
        reason = self._client_refusal(request)
        if reason is None:
            return await handler(request)
        self._gate.refused(realm, reason, path=request.path, peer=request.remote or "")
        err = Unauthenticated(f"unauthenticated: {reason}")
        if realm == "national":
            now = self._clock()
            return _json(nhsa_json.encode_error(err, refmsg_time=now, respond_time=now), 401, _CHALLENGE)
        return _json(cds_hooks.encode_error(err), 401, _CHALLENGE)

    def _client_refusal(self, request: web.Request) -> str | None:
        if self._gate.mode == "token":
            return self._gate.bearer_refusal(request.headers.get("Authorization"))
        if self._gate.mode == "mtls":
            transport = request.transport
            peercert = transport.get_extra_info("peercert") if transport is not None else None
            return self._gate.peer_refusal(cert_names(peercert))
        return None
