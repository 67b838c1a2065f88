"""The CDS Hooks service on the HTTP listener: discovery, the order-select / order-sign hooks and feedback.

Routes: `GET /cds-services` (discovery), `POST /cds-services/{id}` (a hook call → `{"cards": [...]}`) and
`POST /cds-services/{id}/feedback` (card outcomes → the decision store). Translation is
`fundguard.adapters.his.cds_hooks`; this module reads bodies, runs the check service and maps errors in one place
(`_STATUS`): a body that is not a JSON object → 400, a bad field → 422, required prefetch missing → 412 (CDS Hooks'
Precondition Failed), unknown service → 404, no knowledge base → 503, anything else → 500 with a log line. Every
error body is `{"code", "field", "message"}`. `Accept-Language: en…` gives English alert texts. With a check
budget, a hook whose check does not finish in time is answered with one warning card "check unavailable" (never
an empty list, which would read as "complies") and the workstation's alert stream is told.

Feedback: `overridden` is stored as dspo_way 1 with its reason (an override without one is refused, 422),
`accepted` as dspo_way 2; a card answered again is acknowledged (200) and its first decision stands.
"""

from __future__ import annotations

import contextlib
import functools
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from aiohttp import web

from fundguard.adapters.his import cds_hooks
from fundguard.agent.engine.errors import FundguardError, InvalidField, KbUnavailable
from fundguard.agent.feedback import DecisionStore, StoreResult
from fundguard.agent.log import bind_check, clear_check
from fundguard.agent.service import CheckService

from .budget import OVER_BUDGET, CheckBudget
from .http_server import RouteSetup

__all__ = ["DISCOVERY_PATH", "cds_routes"]

DISCOVERY_PATH = "/cds-services"

_log = structlog.get_logger("fundguard.agent.http")


class _NotFound(FundguardError):
    code = "not_found"


class _TooLarge(FundguardError):
    code = "too_large"


def _status(err: FundguardError) -> int:
    """The one place a CDS error becomes an HTTP status."""
    if isinstance(err, cds_hooks.MissingPrefetch):
        return 412
    if isinstance(err, InvalidField):
        return 422 if err.field else 400
    if isinstance(err, _NotFound):
        return 404
    if isinstance(err, _TooLarge):
        return 413
    if isinstance(err, KbUnavailable):
        return 503
    return 500


def _json(doc: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(doc, status=status, dumps=functools.partial(json.dumps, ensure_ascii=False))


def _locale(request: web.Request) -> str:
    return "en" if request.headers.get("Accept-Language", "").strip().lower().startswith("en") else "zh-CN"


class _CdsService:
    def __init__(
        self, service: CheckService, decisions: DecisionStore, clock: Callable[[], datetime], budget_ms: int
    ) -> None:
        self._service = service
        self._decisions = decisions
        self._clock = clock
        self._budget = CheckBudget(budget_ms, "cds")

    async def discovery(self, _request: web.Request) -> web.Response:
        return _json(cds_hooks.discovery())

    async def call(self, request: web.Request) -> web.Response:
        return await self._answer(request, self._cards)

    async def feedback(self, request: web.Request) -> web.Response:
        return await self._answer(request, self._feedback)

    async def _answer(self, request: web.Request, handler: Callable[[str, bytes, str], dict[str, Any]]) -> web.Response:
        service_id = request.match_info["id"]
        clear_check()  # the connection's task serves request after request: start each one clean
        try:
            hook = cds_hooks.SERVICES.get(service_id)
            if hook is None:
                known = ", ".join(cds_hooks.SERVICES)
                raise _NotFound(f"no CDS service {service_id[:60]!r} here ({known})", "id")
            try:
                raw = await request.read()
            except web.HTTPRequestEntityTooLarge as exc:
                raise _TooLarge(f"request body too large ({exc.text})") from None
            locale = _locale(request)
            answer = await self._budget.run(handler, hook, raw, locale)
            if answer is not OVER_BUDGET:
                return _json(answer)
            if handler == self._feedback:  # still being stored: an error the EHR retries (feedback is idempotent)
                raise FundguardError("feedback not stored within the agent's check budget: send it again")
            return _json(self._unavailable(hook, raw, locale))
        except FundguardError as exc:
            status = _status(exc)
            if status >= 500:
                _log.warning("cds.check_failed", reason=str(exc), service=service_id)
            else:
                _log.info("cds.invalid_request", code=exc.code, field=exc.field or "request", path=request.path)
            return _json(cds_hooks.encode_error(exc), status)
        except Exception as exc:
            _log.error("cds.internal_error", error=type(exc).__name__, path=request.path, exc_info=True)
            return _json(cds_hooks.encode_error(FundguardError("internal error (see the agent log)")), 500)

    def _cards(self, hook: str, raw: bytes, locale: str) -> dict[str, Any]:
        decoded = cds_hooks.decode(raw, hook=hook, locale=locale)
        request = decoded.parsed.request
        # the rest of this request's log lines (an internal error's traceback too) carry them, masked
        bind_check(request.encounter.mdtrt_id, request.patient.patn_id)
        outcome = self._service.check(decoded.parsed)
        _log.info("cds.checked", hook=hook, hook_instance=decoded.hook_instance, cards=len(outcome.result.alerts),
                  engine_micros=outcome.engine_micros)  # fmt: skip
        return cds_hooks.encode(outcome, decoded)

    def _unavailable(self, hook: str, raw: bytes, locale: str) -> dict[str, Any]:
        """Past the budget: one "check unavailable" warning card (never an empty, compliant-looking answer); the
        workstation's alert stream is told."""
        reason = self._budget.reason
        _log.warning("cds.check_unavailable", hook=hook, budget_ms=self._budget.budget_ms)
        card_id = f"unavailable-{uuid.uuid4()}"
        with contextlib.suppress(FundguardError):  # a request that does not decode: its error comes from the worker
            self._service.unavailable(cds_hooks.decode(raw, hook=hook, locale=locale).parsed, reason)
        return cds_hooks.encode_unavailable(reason, locale, card_id)

    def _feedback(self, hook: str, raw: bytes, _locale: str) -> dict[str, Any]:
        decisions = cds_hooks.decode_feedback(raw, received=self._clock())
        for n in self._decisions.unknown(decisions)[:1]:
            unknown = decisions[n].jr_id
            message = f"unknown card {unknown!r}: this agent answered no card with that uuid"
            raise InvalidField(message, f"feedback[{n}].card")
        results = self._decisions.record(decisions)
        repeats = [d.jr_id for d, r in zip(decisions, results, strict=True) if r != StoreResult.STORED]
        _log.info("cds.feedback", hook=hook, stored=len(decisions) - len(repeats), repeats=len(repeats))
        return {"stored": len(decisions) - len(repeats), "already_decided": repeats}


def cds_routes(
    service: CheckService,
    decisions: DecisionStore,
    clock: Callable[[], datetime] = datetime.now,
    budget_ms: int = 0,
) -> RouteSetup:
    """A route setup for the HTTP listener: the CDS Hooks discovery, service and feedback endpoints; past
    `budget_ms` (0: no budget) a hook is answered with one "check unavailable" card."""
    cds = _CdsService(service, decisions, clock, budget_ms)

    def setup(app: web.Application) -> None:
        app.router.add_get(DISCOVERY_PATH, cds.discovery)
        app.router.add_post(DISCOVERY_PATH + "/{id}", cds.call)
        app.router.add_post(DISCOVERY_PATH + "/{id}/feedback", cds.feedback)

    return setup
