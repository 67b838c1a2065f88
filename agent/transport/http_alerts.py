"""The clinician pop-up page on the HTTP listener: alerts as they are raised, and the clinician's decision on each.

Routes: `GET /alerts` (the page: `alert_page/` next to this module, plain HTML/JS/CSS, nothing from outside the
agent), `GET /alerts/page.js|page.css`, `GET /alerts/texts` (the page's own labels), `GET /alerts/events`
(Server-Sent Events) and `POST /alerts/feedback`. Filters `workstation`, `dept`, `practitioner` (empty: all);
`lang=en` or `Accept-Language: en…` gives English cards and labels, else Chinese.

Events: a `ready` event first (its `id` is the cursor the stream starts after, so a reconnect before any alert
still resumes there), then one `alert` event per matching alert, `id` = its bus cursor and data = the card as
JSON (`render_card`), with `decision` when one is already stored; a check from this workstation that did not
finish in time is an `unavailable` event (encounter and reason): silence never stands for "no alerts". The
browser's EventSource sends the last id back as `Last-Event-ID` when it reconnects; `?cursor=` does the same for a
page reload (the header wins). No cursor: from now on. A comment line every `heartbeat` seconds keeps proxies from
closing an idle stream; the listener's shutdown ends every stream at once.

Feedback `{jr_id, dspo_way, dspo_way_rea, warn_type?}` follows 3103 (`nhsa_feedback.decode_feedback`: continuing,
dspo_way 1, needs a reason); an unknown jr_id or a bad field is 422 `{code, field, message}`; else 200
`{jr_id, outcome, decision}` with outcome stored / duplicate / conflict and the decision that stands.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from importlib import resources
from typing import Any

import structlog
from aiohttp import web

from fundguard.adapters.his.nhsa_feedback import decode_feedback
from fundguard.agent.alerts.cards import card_locale, render_card
from fundguard.agent.engine.errors import InvalidField
from fundguard.agent.feedback import Decision, DecisionStore
from fundguard.agent.stream import AlertBus, AlertEvent, AlertFilter

from .http_server import RouteSetup

__all__ = ["HEARTBEAT_SECONDS", "PAGE_PATH", "SOURCE", "alert_page_routes", "card_json", "page_texts"]

PAGE_PATH = "/alerts"
PAGE_DIR = "alert_page"
SOURCE = "alert-page"  # Decision.source of what the page records
HEARTBEAT_SECONDS = 15.0
RETRY_MILLIS = 2000  # how soon a browser reconnects after the stream breaks
_ASSETS = {"page.js": "text/javascript", "page.css": "text/css"}
_NO_CACHE = {"Cache-Control": "no-cache"}
_CSP = "default-src 'self'; img-src 'self' data:"  # air-gapped: nothing but the agent itself

_log = structlog.get_logger("fundguard.agent.http")


def _asset(name: str) -> bytes:
    return resources.files(__name__.rpartition(".")[0]).joinpath(PAGE_DIR, name).read_bytes()


def page_texts() -> dict[str, dict[str, str]]:
    """The page's labels per locale (`alert_page/texts.json`); ValueError when a locale lacks a key."""
    texts: dict[str, dict[str, str]] = json.loads(_asset("texts.json"))
    keys = [set(labels) for labels in texts.values()]
    if not keys or any(k != keys[0] for k in keys):
        raise ValueError(f"{PAGE_DIR}/texts.json: every locale needs the same keys")
    return texts


def unavailable_json(event: AlertEvent) -> dict[str, Any]:
    """What an `unavailable` event carries: the encounter whose check did not finish in time, and why."""
    return {
        "cursor": event.cursor,
        "mdtrt_id": event.mdtrt_id,
        "reason": event.unavailable,
        "kb_revision": event.kb_revision,
        "workstation_id": event.workstation_id,
        "dept_code": event.dept_code,
        "practitioner_code": event.practitioner_code,
        "gap_before": event.gap_before,
    }


def card_json(event: AlertEvent, locale: str, decision: Decision | None) -> dict[str, Any]:
    """What an `alert` event carries: the card of the event's alert, where it came from, and its decision."""
    if event.alert is None:
        raise ValueError(f"event {event.cursor} is a 'check unavailable' notice, not an alert")
    card = render_card(event.alert, event.kb_revision, locale)
    return {
        "cursor": event.cursor,
        "jr_id": card.jr_id,
        "judgement_id": event.judgement_id,
        "summary": card.summary,
        "detail": card.detail,
        "sev_deg": card.sev_deg,
        "sev_label": card.sev_label,
        "workflow_impact": card.workflow_impact.value,
        "impact_label": card.impact_label,
        "rule_id": card.rule_id,
        "rule_name": card.rule_name,
        "rule_class": card.rule_class,
        "kp_id": card.kp_id,
        "kb_revision": card.kb_revision,
        "vola_amt": card.vola_amt,
        "lines": [line._asdict() for line in card.lines],
        "override_reasons": [reason._asdict() for reason in card.override_reasons],
        "workstation_id": event.workstation_id,
        "dept_code": event.dept_code,
        "practitioner_code": event.practitioner_code,
        "gap_before": event.gap_before,
        "decision": _decision_json(decision),
    }


def _decision_json(decision: Decision | None) -> dict[str, str] | None:
    if decision is None:
        return None
    return {k: v for k, v in asdict(decision).items() if k in ("dspo_way", "dspo_way_rea", "source", "decided_at")}


def _dumps(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def _json(doc: Any, status: int = 200) -> web.Response:
    return web.json_response(doc, status=status, dumps=functools.partial(json.dumps, ensure_ascii=False))


def _error(exc: InvalidField, status: int = 422) -> web.Response:
    return _json({"code": exc.code, "field": exc.field, "message": exc.message}, status)


def _locale(request: web.Request) -> str:
    return card_locale(request.query.get("lang", "") or request.headers.get("Accept-Language", ""))


def _filter(request: web.Request) -> AlertFilter:
    query = request.query
    return AlertFilter(
        query.get("workstation", "").strip(), query.get("dept", "").strip(), query.get("practitioner", "").strip()
    )


def _start_cursor(request: web.Request, last: int) -> int:
    """Where the stream starts: after `Last-Event-ID` (a reconnect), else `?cursor=` (a reload), else now."""
    for raw, field in (
        (request.headers.get("Last-Event-ID"), "Last-Event-ID"),
        (request.query.get("cursor"), "cursor"),
    ):
        if raw is not None and raw.strip():
            value = raw.strip()
            if not value.isdigit() or len(value) > 18:
                raise InvalidField("must be a cursor (a whole number ≥ 0) from an earlier event", field)
            return int(value)
    return last


def _frame(event: str, cursor: int, data: Any) -> bytes:
    return f"event: {event}\nid: {cursor}\ndata: {_dumps(data)}\n\n".encode()


class _AlertPage:
    """The handlers of one application; `stop` (the app's shutdown) ends every open stream."""

    def __init__(self, bus: AlertBus, decisions: DecisionStore, clock: Callable[[], datetime],
                 heartbeat: float, texts: dict[str, dict[str, str]]) -> None:  # fmt: skip
        self._bus = bus
        self._decisions = decisions
        self._clock = clock
        self._heartbeat = heartbeat
        self._texts = texts
        self._page = _asset("index.html")
        self._assets = {name: (_asset(name), kind) for name, kind in _ASSETS.items()}
        self._streams: set[asyncio.Event] = set()
        self._stopping = False

    async def page(self, _request: web.Request) -> web.Response:
        headers = {**_NO_CACHE, "Content-Security-Policy": _CSP}
        return web.Response(body=self._page, content_type="text/html", charset="utf-8", headers=headers)

    async def asset(self, request: web.Request) -> web.Response:
        body, kind = self._assets[request.match_info["name"]]
        return web.Response(body=body, content_type=kind, charset="utf-8", headers=_NO_CACHE)

    async def texts(self, request: web.Request) -> web.Response:
        locale = _locale(request)
        return _json({"locale": locale, "texts": self._texts[locale]})

    async def events(self, request: web.Request) -> web.StreamResponse:
        try:
            cursor = _start_cursor(request, self._bus.last_cursor)
        except InvalidField as exc:
            return _error(exc)
        wanted, locale = _filter(request), _locale(request)
        loop = asyncio.get_running_loop()
        woken = asyncio.Event()

        def wake() -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed under a late publisher
                loop.call_soon_threadsafe(woken.set)

        unwatch = self._bus.watch(wake)
        self._streams.add(woken)
        response = web.StreamResponse(headers={**_NO_CACHE, "Content-Type": "text/event-stream; charset=utf-8",
                                               "X-Accel-Buffering": "no"})  # fmt: skip
        _log.info("alerts.subscribed", workstation_id=wanted.workstation_id, dept_code=wanted.dept_code,
                  practitioner_code=wanted.practitioner_code, cursor=cursor)  # fmt: skip
        ended = "cancelled"  # unless the loop ends: the listener stopped waiting for this stream
        try:
            await response.prepare(request)
            await response.write(f"retry: {RETRY_MILLIS}\n".encode() + _frame("ready", cursor, {"cursor": cursor}))
            sent = cursor  # the id the page holds
            while not self._stopping:
                woken.clear()
                events, cursor = self._bus.since(cursor, wanted)
                if events:
                    await response.write(await self._frames(events, locale))
                    sent = events[-1].cursor
                    continue
                try:
                    await asyncio.wait_for(woken.wait(), self._heartbeat)
                except TimeoutError:  # idle: a comment, or the cursor moved past others' alerts (or a restart)
                    await response.write(_frame("cursor", cursor, {"cursor": cursor}) if cursor != sent else b": \n\n")
                    sent = cursor
            ended = "shutdown"
        except ConnectionResetError:
            ended = "disconnected"  # the page went away; it comes back with its cursor
        finally:
            unwatch()
            self._streams.discard(woken)
            _log.info("alerts.stream_ended", reason=ended, cursor=cursor)
        return response

    async def _frames(self, events: list[AlertEvent], locale: str) -> bytes:
        decided = await asyncio.to_thread(
            lambda: [self._decisions.get(e.alert.jr_id) if e.alert is not None else None for e in events]
        )
        return b"".join(
            _frame("alert", e.cursor, card_json(e, locale, d))
            if e.alert is not None
            else _frame("unavailable", e.cursor, unavailable_json(e))
            for e, d in zip(events, decided, strict=True)
        )

    async def feedback(self, request: web.Request) -> web.Response:
        try:
            doc = await request.json(loads=json.loads)
        except (ValueError, UnicodeDecodeError):
            return _error(InvalidField("must be a JSON object", "request"), 400)
        if not isinstance(doc, dict):
            return _error(InvalidField("must be a JSON object", "request"), 400)
        warn = {"warn_rslt_id": doc.get("jr_id"), "dspo_way": doc.get("dspo_way"),
                "dspo_way_rea": doc.get("dspo_way_rea")}  # fmt: skip
        data = {"warn_type": doc.get("warn_type") or "1", "warns": [warn]}
        try:
            (decision,) = decode_feedback({"data": data}, source=SOURCE, decided_at=self._clock().isoformat())
        except InvalidField as exc:  # "data.warns[0].dspo_way" → "dspo_way"
            field = exc.field.rpartition(".")[2].replace("warn_rslt_id", "jr_id")
            _log.info("alerts.feedback_refused", field=field)
            return _error(InvalidField(exc.message, field))
        outcome, standing = await asyncio.to_thread(self._record, decision)
        if outcome is None:
            message = f"unknown jr_id {decision.jr_id!r}: this agent answered no alert with that id"
            _log.info("alerts.feedback_refused", field="jr_id")
            return _error(InvalidField(message, "jr_id"))
        _log.info("alerts.feedback", outcome=outcome, dspo_way=decision.dspo_way)
        return _json({"jr_id": decision.jr_id, "outcome": outcome, "decision": _decision_json(standing)})

    def _record(self, decision: Decision) -> tuple[str | None, Decision | None]:
        if self._decisions.unknown([decision]):
            return None, None
        (outcome,) = self._decisions.record([decision])
        return outcome.value, self._decisions.get(decision.jr_id)

    async def stop(self, _app: web.Application) -> None:
        self._stopping = True
        for woken in self._streams:
            woken.set()


def alert_page_routes(
    bus: AlertBus,
    decisions: DecisionStore,
    clock: Callable[[], datetime] = datetime.now,
    *,
    heartbeat: float = HEARTBEAT_SECONDS,
) -> RouteSetup:
    """A route setup for the HTTP listener: the pop-up page, its alert stream and its feedback endpoint."""
    texts = page_texts()

    def setup(app: web.Application) -> None:
        page = _AlertPage(bus, decisions, clock, heartbeat, texts)
        app.router.add_get(PAGE_PATH, page.page)
        app.router.add_get(PAGE_PATH + "/events", page.events)
        app.router.add_get(PAGE_PATH + "/texts", page.texts)
        app.router.add_post(PAGE_PATH + "/feedback", page.feedback)
        app.router.add_get(PAGE_PATH + "/{name:page\\.(?:js|css)}", page.asset)
        app.on_shutdown.append(page.stop)

    return setup
