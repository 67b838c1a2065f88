"""The gRPC methods beside Check: Feedback (3103 semantics → the decision store), SubscribeAlerts (the alert
bus, filtered, resumable from a cursor) and GetStatus (the knowledge base running, the patient history)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import grpc
import structlog
from google.protobuf.message import DecodeError

from fundguard.adapters.his.nhsa_feedback import decode_feedback
from fundguard.agent.engine.errors import InvalidField
from fundguard.agent.feedback import DecisionStore
from fundguard.agent.history.status import HistoryStatus
from fundguard.agent.kb.status import KbStatus
from fundguard.agent.stream import AlertBus, AlertFilter
from fundguard.v1 import compliance_pb2 as pb

from .grpc_behaviors import status_for
from .proto_codec import event_to_proto

__all__ = ["AlertStream", "FeedbackHandler", "status_proto"]

_log = structlog.get_logger("fundguard.agent.grpc")


def status_proto(kb: KbStatus, history: HistoryStatus | None = None) -> pb.AgentStatus:
    """GetStatus's answer (the request has no fields: any bytes are accepted); `history` unset without a store."""
    out = pb.AgentStatus()
    k = out.kb
    k.revision, k.source, k.activated_at = kb.revision, kb.source, kb.activated_at
    k.activations, k.rejections, k.last_error, k.last_error_at = (
        kb.activations, kb.rejections, kb.last_error, kb.last_error_at
    )  # fmt: skip
    k.points_per_rule_class.update(kb.rule_classes)
    if history is not None:
        out.history.CopyFrom(pb.HistoryStatus(
            patients_cached=history.patients_cached, cache_loads=history.cache_loads,
            encounters_stored=history.encounters_stored, settlements_stored=history.settlements_stored,
            store_error=history.store_error,
        ))  # fmt: skip
    return out


class FeedbackHandler:
    """Feedback: a clinician's decision (3103 semantics) → the decision store, once per jr_id."""

    def __init__(self, decisions: DecisionStore, clock: Callable[[], datetime]) -> None:
        self._decisions = decisions
        self._clock = clock

    def __call__(self, raw: bytes, _context: grpc.ServicerContext) -> pb.FeedbackResponse:
        msg = pb.FeedbackRequest()
        try:
            msg.ParseFromString(raw)
        except DecodeError:
            raise InvalidField(f"not a {pb.FeedbackRequest.DESCRIPTOR.full_name} message", "request") from None
        warn = {"warn_rslt_id": msg.jr_id, "dspo_way": msg.dspo_way, "dspo_way_rea": msg.dspo_way_rea}
        data = {"warn_type": msg.warn_type or "1", "warns": [warn]}
        try:
            (decision,) = decode_feedback({"data": data}, source="grpc", decided_at=self._clock().isoformat())
        except InvalidField as exc:  # "data.warns[0].dspo_way" → "dspo_way"
            field = exc.field.rpartition(".")[2].replace("warn_rslt_id", "jr_id")
            raise InvalidField(exc.message, field) from None
        if self._decisions.unknown([decision]):
            raise InvalidField(f"unknown jr_id {decision.jr_id!r}: this agent answered no alert with that id", "jr_id")
        (outcome,) = self._decisions.record([decision])
        return pb.FeedbackResponse(jr_id=decision.jr_id, outcome=outcome.value)


class AlertStream:
    """SubscribeAlerts: the alert bus, filtered, from the subscriber's cursor on; waits on the bus between batches."""

    def __init__(self, bus: AlertBus) -> None:
        self._bus = bus

    async def subscribe(self, raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[pb.AlertEvent]:
        """The RPC (a bound async generator method: grpc.aio recognises those as streaming behaviours)."""
        msg = pb.SubscribeAlertsRequest()
        try:
            msg.ParseFromString(raw)
        except DecodeError:
            status = status_for(InvalidField(f"not a {msg.DESCRIPTOR.full_name} message", "request"))
            await context.abort(status.code, status.details, status.trailing_metadata)
        wanted = AlertFilter(msg.workstation_id.strip(), msg.dept_code.strip(), msg.practitioner_code.strip())
        cursor = msg.cursor or self._bus.last_cursor
        loop = asyncio.get_running_loop()
        woken = asyncio.Event()

        def wake() -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed under a late publisher
                loop.call_soon_threadsafe(woken.set)

        unwatch = self._bus.watch(wake)
        _log.info("grpc.subscribed", workstation_id=wanted.workstation_id, dept_code=wanted.dept_code,
                  practitioner_code=wanted.practitioner_code, cursor=cursor)  # fmt: skip
        try:
            while True:
                woken.clear()
                events, cursor = self._bus.since(cursor, wanted)
                for event in events:
                    yield event_to_proto(event)
                if not events:
                    await woken.wait()
        finally:
            unwatch()
