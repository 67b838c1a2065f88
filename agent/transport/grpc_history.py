"""The history store's gRPC method: ConfirmSettlement (a settled encounter joins the patient's history).

The handler decodes the raw request once and validates the patient and encounter exactly as Check does (the same
codec, so a bad field is INVALID_ARGUMENT naming the same path: `patient.gend`, `encounter.orders[2].cnt`), plus
`setl_id` (required) and `setl_time`. The store writes SQLite, so the method runs on the check pool, never on the
event loop. `status()` is GetStatus's history part (`agent.history.status`; it counts the store's file, so GetStatus
runs on the pool too when the store is on).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from google.protobuf.message import DecodeError

from fundguard.agent.engine.errors import InvalidField
from fundguard.agent.history import HistoryCache
from fundguard.agent.history.status import HistoryStatus, history_status
from fundguard.agent.intake.scalars import parse_moment
from fundguard.v1 import compliance_pb2 as pb

from .proto_codec import request_from_proto

__all__ = ["HistoryRpcs"]

SETTLEMENT_TRIG_SCEN = "8"  # 住院结算: the request the codec validates is only a vehicle for patient + encounter


class HistoryRpcs:
    """ConfirmSettlement over one history cache (which writes its store and refreshes the patient's entry)."""

    def __init__(self, cache: HistoryCache, clock: Callable[[], datetime]) -> None:
        self._cache = cache
        self._clock = clock

    def status(self) -> HistoryStatus:
        """GetStatus's history part: the cache's figures and the store's counts (reads the file: not on the loop)."""
        return history_status(self._cache)

    def confirm(self, raw: bytes, _context: object) -> pb.ConfirmSettlementResponse:
        """ConfirmSettlement: validate, store once per mdtrt_id + setl_id, answer whether it was new."""
        msg = pb.ConfirmSettlementRequest()
        try:
            msg.ParseFromString(raw)
        except DecodeError:
            raise InvalidField(f"not a {msg.DESCRIPTOR.full_name} message", "request") from None
        vehicle = pb.CheckRequest(trig_scen=SETTLEMENT_TRIG_SCEN)
        if msg.HasField("patient"):
            vehicle.patient.CopyFrom(msg.patient)
        if msg.HasField("encounter"):
            vehicle.encounter.CopyFrom(msg.encounter)
        request = request_from_proto(vehicle).request  # patient.*, encounter.* named as in Check
        setl_id = msg.setl_id.strip()
        if not setl_id:
            raise InvalidField("is required", "setl_id")
        settled_at = parse_moment(msg.setl_time, "setl_time", self._clock)
        stored = self._cache.confirm(request.patient, request.encounter, setl_id, settled_at)
        history = self._cache.facts_for(request).patient
        count = len(history.encounters) if history is not None else 0
        return pb.ConfirmSettlementResponse(stored=stored, patient_encounters=count)
