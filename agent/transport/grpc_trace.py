"""The trace ledger's gRPC methods: RecordDispense (3505 商品销售), RecordReturn (3506 销售退货), ImportInbound (入库).

Each handler decodes the raw request once (a field it cannot use is INVALID_ARGUMENT naming it), builds the ledger's
own objects and runs the ledger call. The ledger writes SQLite (a dispense waits for a concurrent one to commit:
that is what makes a double sale impossible), so these methods run on the check pool, never on the event loop.
Whether a line without codes needs one (and so may draw the 无码库) is the same `TracePolicy` the checks apply.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from google.protobuf.message import DecodeError, Message

from fundguard.agent.engine.errors import InvalidField
from fundguard.agent.engine.trace_model import TracePolicy
from fundguard.agent.intake import parse_decimal
from fundguard.agent.intake.scalars import parse_moment
from fundguard.agent.trace.importer import inbound_record
from fundguard.agent.trace.ledger import TraceLedger
from fundguard.agent.trace.settle import DispenseOutcome, ReturnOutcome, Sale
from fundguard.agent.trace.stock import InboundRecord
from fundguard.v1 import compliance_pb2 as pb

__all__ = ["TraceRpcs"]

MAX_IMPORT_CODES = 100_000  # per ImportInbound call; bigger deliveries go in several calls or `fundguard trace import`


def _decode(message: type[Message], raw: bytes) -> Message:
    msg = message()
    try:
        msg.ParseFromString(raw)
    except DecodeError:
        raise InvalidField(f"not a {message.DESCRIPTOR.full_name} message", "request") from None
    return msg


def _required(value: str, field: str) -> str:
    value = value.strip()
    if not value:
        raise InvalidField("is required", field)
    return value


class TraceRpcs:
    """The three methods over one ledger; `inpatient(med_type)` says whether a 医疗类别 is an inpatient one (from
    the active KB's parameters), for the policy's inpatient 拆零 exemption."""

    def __init__(
        self,
        ledger: TraceLedger,
        policy: TracePolicy,
        clock: Callable[[], datetime],
        inpatient: Callable[[str], bool],
        *,
        on_dispense: Callable[[Sale, DispenseOutcome], None] | None = None,
        on_return: Callable[[str, str, datetime, ReturnOutcome], None] | None = None,
    ) -> None:
        self._ledger = ledger
        self._policy = policy
        self._clock = clock
        self._inpatient = inpatient
        self._on_dispense = on_dispense  # the uplink's settled-code events (told after the ledger committed)
        self._on_return = on_return

    def dispense(self, raw: bytes, _context: object) -> pb.DispenseResponse:
        """RecordDispense: one 3505 line → the ledger, atomically; the outcome code by code."""
        msg = _decode(pb.DispenseRequest, raw)
        assert isinstance(msg, pb.DispenseRequest)
        cnt = parse_decimal(msg.cnt, "cnt")
        if cnt is None or cnt <= 0:
            raise InvalidField("is required, a decimal number > 0", "cnt")
        if msg.trdn_flag.strip() not in ("", "0", "1"):
            raise InvalidField("must be 0 or 1", "trdn_flag")
        hilist_code = _required(msg.hilist_code, "hilist_code")
        split = msg.trdn_flag.strip() == "1"
        at = parse_moment(msg.sel_retn_time, "sel_retn_time", self._clock)
        sale = Sale(
            mdtrt_id=_required(msg.mdtrt_id, "mdtrt_id"),
            rx_id=_required(msg.rx_id, "rx_id"),
            hilist_code=hilist_code,
            codes=tuple(c.strip() for c in msg.drug_trac_codg if c.strip()),
            cnt=cnt,
            trdn_flag=split,
            at=at,
            nocode_exempt=not self._policy.needs_code(
                hilist_code, at.date(), split=split, inpatient=self._inpatient(msg.med_type.strip())
            ),
        )
        outcome = self._ledger.dispense(sale)
        if self._on_dispense is not None:
            self._on_dispense(sale, outcome)
        out = pb.DispenseResponse(
            accepted=outcome.accepted,
            reason=outcome.reason,
            detail=outcome.detail,
            repeat=outcome.repeat,
            nocode_units=_plain(outcome.nocode_units),
        )
        for code in outcome.codes:
            out.codes.add(drug_trac_codg=code.code, reason=code.reason, detail=code.detail, units=_plain(code.units))
        return out

    def return_line(self, raw: bytes, _context: object) -> pb.ReturnResponse:
        """RecordReturn: a 3506 return of one dispensed line; its codes are released."""
        msg = _decode(pb.ReturnRequest, raw)
        assert isinstance(msg, pb.ReturnRequest)
        mdtrt_id, rx_id = _required(msg.mdtrt_id, "mdtrt_id"), _required(msg.rx_id, "rx_id")
        at = parse_moment(msg.sel_retn_time, "sel_retn_time", self._clock)
        outcome = self._ledger.return_line(mdtrt_id, rx_id, at)
        if self._on_return is not None:
            self._on_return(mdtrt_id, rx_id, at, outcome)
        detail = "" if outcome.returned else "no open dispense of this line (never dispensed, or returned already)"
        return pb.ReturnResponse(
            returned=outcome.returned, reason=outcome.reason, detail=detail, drug_trac_codg=list(outcome.codes)
        )

    def import_inbound(self, raw: bytes, _context: object) -> pb.ImportInboundResponse:
        """ImportInbound: inbound codes → the ledger (idempotent); a malformed code is reported by index."""
        msg = _decode(pb.ImportInboundRequest, raw)
        assert isinstance(msg, pb.ImportInboundRequest)
        if len(msg.codes) > MAX_IMPORT_CODES:
            raise InvalidField(f"at most {MAX_IMPORT_CODES} codes per call ({len(msg.codes)} sent)", "codes")
        out = pb.ImportInboundResponse()
        rows: list[InboundRecord] = []
        positions: list[int] = []
        for n, item in enumerate(msg.codes):
            fields = {"drug_trac_codg": item.drug_trac_codg.strip(), "manu_lotnum": item.manu_lotnum.strip(),
                      "expy_end": item.expy_end.strip()}  # fmt: skip
            try:
                rows.append(inbound_record(fields))  # the same validation as `fundguard trace import`
            except ValueError as exc:
                column, _, problem = str(exc).partition(": ")
                out.rejected.add(index=n, field=f"codes[{n}].{column}", reason=problem)
                continue
            positions.append(n)
        counts = self._ledger.import_inbound(rows, msg.source.strip() or "grpc", self._clock())
        out.added, out.unchanged, out.conflicting = counts.added, counts.unchanged, len(counts.conflicts)
        for position, reason in counts.conflicts:
            n = positions[position]
            out.rejected.add(index=n, field=f"codes[{n}].drug_trac_codg", reason=reason)
        return out


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"
