"""The national JSON gateway: `POST` a 3101/3102/3103 envelope, get the national response envelope.

Routes (on the HTTP listener): `POST /` (transaction from the body's `infno`), `POST /{infno}` and
`POST /fsi/api/rsfComIfsService/callService/{infno}` (the path style of provincial gateways). A path `infno` that
contradicts the body's is refused. The answer is always HTTP 200 with the national envelope, as the national
platform answers: `infcode` 0 on success, -1 with `err_msg` "field: problem" naming the national field path on bad
input (so a HIS that only reads `infcode` sees the failure). `Accept-Language: en…` gives English `vola_cont`.
The one exception, with `[auth]`: a call without valid credentials is HTTP 401 with the same envelope, `infcode` -1
(`agent.auth.http_auth`, in front of these routes).

3101/3102 run the check service once per patient; 3103 stores the clinicians' decisions (`warn_rslt_id` = the
`jr_id` answered before) in the decision store and names repeats in `warn_msg`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from aiohttp import web

from fundguard.adapters.his import nhsa_feedback, nhsa_json
from fundguard.agent.engine.errors import FundguardError, InvalidField
from fundguard.agent.feedback import DecisionStore, StoreResult
from fundguard.agent.intake import text
from fundguard.agent.service import CheckService

from .budget import OVER_BUDGET, CheckBudget
from .http_server import RouteSetup

__all__ = ["CALL_SERVICE_PATH", "Gateway", "national_routes"]

CALL_SERVICE_PATH = "/fsi/api/rsfComIfsService/callService/{infno}"
HANDLED = frozenset({"3101", "3102", "3103"})

_log = structlog.get_logger("fundguard.agent.http")


def _json(doc: dict[str, Any]) -> web.Response:
    return web.json_response(doc, dumps=functools.partial(json.dumps, ensure_ascii=False))


def _locale(request: web.Request) -> str:
    return "en" if request.headers.get("Accept-Language", "").strip().lower().startswith("en") else "zh-CN"


class Gateway:
    """The national gateway's logic, transport-free: `respond(raw, path_infno, locale)` always gives an envelope."""

    def __init__(
        self,
        service: CheckService,
        decisions: DecisionStore,
        clock: Callable[[], datetime],
        budget_ms: int = 0,
    ) -> None:
        self._service = service
        self._decisions = decisions
        self._clock = clock
        self._budget = CheckBudget(budget_ms, "nhsa")

    async def handle(self, request: web.Request) -> web.Response:
        """The aiohttp handler: read the body (size-limited by the listener) and answer the envelope."""
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge as exc:
            err = InvalidField(f"request body too large ({exc.text})", "")
            return _json(nhsa_json.encode_error(err, refmsg_time=self._clock()))
        infno, locale = request.match_info.get("infno", ""), _locale(request)
        received = self._clock()
        answer = await self._budget.run(self.respond, raw, infno, locale)
        if answer is not OVER_BUDGET:
            return _json(answer)
        # never an empty success: the HIS sees infcode -1 and "check unavailable"
        _log.warning("nhsa.check_unavailable", budget_ms=self._budget.budget_ms, infno=infno)
        unavailable = FundguardError(self._budget.reason)
        self._tell_unavailable(raw, infno, locale, str(unavailable))
        return _json(nhsa_json.encode_error(unavailable, refmsg_time=received, respond_time=self._clock()))

    def _tell_unavailable(self, raw: bytes, infno: str, locale: str, reason: str) -> None:
        """Show the workstations concerned (the alert stream) that their check is unavailable: the body is parsed
        again here, on this rare path only (a body that does not parse gets its own error from the worker)."""
        try:
            doc = nhsa_json.load(raw)
            if (infno or text(doc.get("infno")) or "3101") == "3103":
                return
            requests = nhsa_json.decode(doc, locale=locale)
        except FundguardError:
            return
        for parsed in requests:
            self._service.unavailable(parsed, reason)

    def respond(self, raw: bytes, path_infno: str = "", locale: str = "zh-CN") -> dict[str, Any]:
        """The national answer to one request body; never raises (errors become infcode -1 naming the field)."""
        received = self._clock()
        try:
            return self._answer(raw, path_infno, locale, received)
        except FundguardError as exc:
            if isinstance(exc, InvalidField):
                _log.info("nhsa.invalid_request", field=exc.field or "request", infno=path_infno)
            else:
                _log.warning("nhsa.check_failed", reason=str(exc), infno=path_infno)
            return nhsa_json.encode_error(exc, refmsg_time=received, respond_time=self._clock())
        except Exception as exc:
            _log.error("nhsa.internal_error", error=type(exc).__name__, infno=path_infno, exc_info=True)
            err = FundguardError("internal error (see the agent log)")
            return nhsa_json.encode_error(err, refmsg_time=received, respond_time=self._clock())

    def _answer(self, raw: bytes, path_infno: str, locale: str, received: datetime) -> dict[str, Any]:
        doc = nhsa_json.load(raw)
        body_infno = text(doc.get("infno"))
        if path_infno and path_infno not in HANDLED:
            raise InvalidField(f"transaction {path_infno!r} is not handled here (3101, 3102, 3103 are)", "infno")
        if path_infno and body_infno and path_infno != body_infno:
            raise InvalidField(f"body says {body_infno!r} but the path says {path_infno!r}", "infno")
        infno = path_infno or body_infno or "3101"
        if infno not in HANDLED:
            raise InvalidField(f"transaction {infno!r} is not handled here (3101, 3102, 3103 are)", "infno")
        if infno == "3103":
            return self._feedback(doc, received)
        if path_infno and not body_infno:
            doc = {**doc, "infno": infno}
        requests = nhsa_json.decode(doc, locale=locale)
        outcomes = [self._service.check(parsed) for parsed in requests]
        return nhsa_json.encode(outcomes, requests, infno, refmsg_time=received, respond_time=self._clock())

    def _feedback(self, doc: dict[str, Any], received: datetime) -> dict[str, Any]:
        decisions = nhsa_feedback.decode_feedback(doc, source="nhsa-3103", decided_at=received.isoformat())
        for n in self._decisions.unknown(decisions)[:1]:
            raise InvalidField(
                f"unknown jr_id {decisions[n].jr_id!r}: this agent answered no alert with that id",
                f"input.data.warns[{n}].warn_rslt_id",
            )
        results = self._decisions.record(decisions)
        repeats = [f"{d.jr_id} ({r.value})" for d, r in zip(decisions, results, strict=True) if r != StoreResult.STORED]
        warn = f"already decided, first decision kept: {', '.join(repeats)}" if repeats else ""
        _log.info("nhsa.feedback", stored=results.count(StoreResult.STORED), repeats=len(repeats))
        return nhsa_json.envelope(received, self._clock(), warn_msg=warn)


def national_routes(
    service: CheckService,
    decisions: DecisionStore,
    clock: Callable[[], datetime] = datetime.now,
    budget_ms: int = 0,
) -> RouteSetup:
    """A route setup for the HTTP listener: the 3101/3102/3103 gateway. With `budget_ms`, a request not answered
    within it gets infcode -1 "check unavailable" (the work runs on a small pool); 0 answers inline."""
    gateway = Gateway(service, decisions, clock, budget_ms)

    def setup(app: web.Application) -> None:
        app.router.add_post("/", gateway.handle)
        app.router.add_post(r"/{infno:\d{4}}", gateway.handle)
        app.router.add_post(CALL_SERVICE_PATH, gateway.handle)

    return setup
