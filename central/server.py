"""The `fundguard.v1.CentralPlatform` gRPC service: Upload (ingest, deduplicated) and PractitionerStatuses (long
poll by revision), on a synchronous `grpc.server` with mutual TLS (or insecure, for tests), health and reflection.

- Upload: decode and validate (`central.ingest`), store and score (`central.scoring.Scorer.ingest`), acknowledge
  every event id of the batch. Under mTLS the batch's `agent_id` must be the client certificate's CN (an agent
  cannot write under another agent's ids). Stored before answered: an ack means committed.
- PractitionerStatuses: the standings changed after `since_revision`; when there are none, the call waits up to
  min(`wait_seconds`, `max_wait_seconds`) (and the caller's deadline) for one. A `since_revision` ahead of the store
  (the database was replaced) is answered with every standing under the store's lower revision: a full snapshot.
- Errors become statuses in one place (`_guarded`): BadBatch → INVALID_ARGUMENT with a `google.rpc.BadRequest`
  naming the field; a CN mismatch → PERMISSION_DENIED; a database that is busy or down → UNAVAILABLE (the agent
  retries); anything else → INTERNAL with a log line. Event payloads are never logged (they may carry identity).

Each waiting long poll holds one worker thread: size `workers` for the number of agents polling at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import grpc
import sqlalchemy as sa
import structlog
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from grpc_status import rpc_status

from fundguard.v1 import central_pb2 as pb
from fundguard.v1 import central_pb2_grpc as pb_grpc

from .ingest import DEFAULT_MAX_BATCH_BYTES, BadBatch, decode_batch
from .points import DEFAULT_TABLE, PointsTable
from .scoring import Scorer, china_today
from .store import StatusRow, Store
from .watch import DEFAULT_RECHECK_SECONDS, RevisionWatch

__all__ = [
    "SERVICE_NAME",
    "CentralServer",
    "CentralSettings",
    "create_server",
    "load_server_credentials",
]

SERVICE_NAME: str = pb.DESCRIPTOR.services_by_name["CentralPlatform"].full_name
ERROR_DOMAIN = "fundguard.v1"
DEADLINE_MARGIN_S = 0.05  # answer a long poll this long before the caller's deadline

_log = structlog.get_logger("fundguard.central")
_Reply = TypeVar("_Reply")


@dataclass(frozen=True, slots=True)
class CentralSettings:
    """How the server listens and its limits."""

    address: str = "127.0.0.1:0"
    workers: int = 32
    max_wait_seconds: int = 30  # long-poll cap
    max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES  # decompressed EventList
    max_message_bytes: int = 16 * 1024 * 1024  # the compressed UploadBatch on the wire
    refresh_seconds: float = 60.0  # how often ended suspensions and a new year are published
    recheck_seconds: float = DEFAULT_RECHECK_SECONDS  # how soon another process's change reaches a long poll


class PermissionDeniedError(Exception):
    """The caller may not do this (its certificate names another agent)."""


def _status(code: int, message: str, *details: Any) -> grpc.Status:
    status = status_pb2.Status(code=code, message=message)
    for detail in details:
        status.details.add().Pack(detail)
    return rpc_status.to_status(status)


def _invalid(exc: BadBatch) -> grpc.Status:
    violation = error_details_pb2.BadRequest.FieldViolation(field=exc.field, description=exc.message)
    info = error_details_pb2.ErrorInfo(reason="INVALID_FIELD", domain=ERROR_DOMAIN, metadata={"field": exc.field})
    return _status(
        code_pb2.INVALID_ARGUMENT, str(exc), error_details_pb2.BadRequest(field_violations=[violation]), info
    )


def _guarded(method: str, call: Callable[[], _Reply], context: grpc.ServicerContext) -> _Reply:
    """Run an RPC body; every exception leaves as a proper status (the one mapping place)."""
    try:
        return call()
    except BadBatch as exc:
        _log.info("central.invalid_argument", method=method, field=exc.field)
        status = _invalid(exc)
    except PermissionDeniedError as exc:
        _log.warning("central.permission_denied", method=method, reason=str(exc))
        status = _status(code_pb2.PERMISSION_DENIED, str(exc))
    except (sa.exc.OperationalError, sa.exc.IntegrityError, sa.exc.TimeoutError) as exc:
        _log.warning("central.store_unavailable", method=method, error=type(exc).__name__)
        status = _status(code_pb2.UNAVAILABLE, "central store busy or unavailable; retry later")
    except Exception as exc:
        _log.error("central.internal_error", method=method, error=type(exc).__name__, exc_info=True)
        status = _status(code_pb2.INTERNAL, "internal error (see the central platform's log)")
    context.abort_with_status(status)
    raise AssertionError("abort_with_status returned")  # pragma: no cover - abort always raises


def _status_proto(row: StatusRow) -> pb.PractitionerStatus:
    s = row.standing
    return pb.PractitionerStatus(
        practitioner_code=row.code,
        status=s.status,
        until=s.until.isoformat() if s.until is not None else "",
        points=s.points,
        year=s.year,
        reason=s.reason,
    )


def _peer_agent(context: grpc.ServicerContext) -> str | None:
    """The client certificate's CN under mTLS, None on an insecure server."""
    names: Any = context.auth_context().get("x509_common_name")  # a list of bytes (grpc-stubs says bytes)
    if not names:
        return None
    first = names[0] if isinstance(names, list) else names
    return bytes(first).decode("utf-8", "replace")


class CentralServicer(pb_grpc.CentralPlatformServicer):
    """Upload and PractitionerStatuses over a store, a scorer and the revision watch."""

    def __init__(
        self,
        scorer: Scorer,
        watch: RevisionWatch,
        settings: CentralSettings,
        *,
        mtls: bool,
        now: Callable[[], datetime],
    ) -> None:
        self._scorer = scorer
        self._store = scorer.store
        self._watch = watch
        self._settings = settings
        self._mtls = mtls
        self._now = now

    def Upload(self, request: pb.UploadBatch, context: grpc.ServicerContext) -> pb.UploadAck:
        """Store a batch (see the module doc)."""
        return _guarded("Upload", lambda: self._upload(request, context), context)

    def PractitionerStatuses(self, request: pb.StatusesRequest, context: grpc.ServicerContext) -> pb.StatusesResponse:
        """Standings changed after a revision, long-polled (see the module doc)."""
        return _guarded("PractitionerStatuses", lambda: self._statuses(request, context), context)

    def _upload(self, request: pb.UploadBatch, context: grpc.ServicerContext) -> pb.UploadAck:
        if self._mtls:
            peer = _peer_agent(context)
            if peer != request.agent_id:
                raise PermissionDeniedError(
                    f"agent_id {request.agent_id!r} is not this client certificate's ({peer!r})"
                )
        batch = decode_batch(request, self._now(), self._settings.max_batch_bytes)
        result = self._scorer.ingest(batch)
        _log.info(
            "central.upload",
            agent_id=batch.agent_id,
            institution_code=batch.institution_code,
            events=len(batch.events),
            new=result.new,
            duplicates=result.duplicates,
        )
        return pb.UploadAck(stored_ids=result.stored_ids, new_events=result.new, duplicates=result.duplicates)

    def _statuses(self, request: pb.StatusesRequest, context: grpc.ServicerContext) -> pb.StatusesResponse:
        since = request.since_revision
        current = self._store.revision()
        if since > current:  # the agent knows a revision this store never had: send everything
            since = 0
        elif since == current and request.wait_seconds > 0:
            wait = float(min(request.wait_seconds, self._settings.max_wait_seconds))
            remaining = context.time_remaining()
            if remaining is not None:
                wait = min(wait, max(remaining - DEADLINE_MARGIN_S, 0.0))
            self._watch.wait_newer(since, wait, context.is_active)
        revision, rows = self._store.statuses_since(since)
        return pb.StatusesResponse(revision=revision, statuses=[_status_proto(row) for row in rows])


def load_server_credentials(certs: Path) -> grpc.ServerCredentials:
    """mTLS credentials from a `dev-certs` folder: `server.key` + `server.pem`, clients verified against `ca.pem`."""
    try:
        key, cert, ca = ((certs / name).read_bytes() for name in ("server.key", "server.pem", "ca.pem"))
    except OSError as exc:
        raise ValueError(f"certs: cannot read {exc.filename}: {exc.strerror}") from None
    return grpc.ssl_server_credentials([(key, cert)], root_certificates=ca, require_client_auth=True)


class CentralServer:
    """The running platform: the gRPC server, its health, and the thread that publishes time-driven changes."""

    def __init__(
        self, server: grpc.Server, scorer: Scorer, watch: RevisionWatch, health_servicer: Any, refresh_s: float
    ) -> None:
        self.scorer = scorer
        self.watch = watch
        self._server = server
        self._health = health_servicer
        self._refresh_s = refresh_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._refresh_loop, name="fundguard-central-refresh", daemon=True)

    def _refresh_loop(self) -> None:
        while not self._stopping.wait(self._refresh_s):
            try:
                self.scorer.refresh()
            except sa.exc.SQLAlchemyError as exc:
                _log.warning("central.refresh_failed", error=type(exc).__name__)

    def start(self) -> None:
        """Publish what time changed while stopped, then serve."""
        self.scorer.refresh()
        self._server.start()
        for name in ("", SERVICE_NAME):
            self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        self._thread.start()

    def stop(self, grace: float | None = None) -> None:
        """NOT_SERVING, release the long polls, let running calls finish within `grace`, close the store."""
        self._health.enter_graceful_shutdown()
        self.watch.close()
        self._stopping.set()
        self._server.stop(grace).wait()
        if self._thread.is_alive():
            self._thread.join()
        self.scorer.store.close()

    def wait(self) -> None:
        """Block until the server stops."""
        self._server.wait_for_termination()


def create_server(
    store: Store,
    settings: CentralSettings = CentralSettings(),
    *,
    credentials: grpc.ServerCredentials | None = None,
    table: PointsTable = DEFAULT_TABLE,
    today: Callable[[], date] = china_today,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> tuple[CentralServer, int]:
    """A bound, not yet started platform on `settings.address` (port 0: any free port); it and the bound port.
    `credentials` None serves insecure (tests only); ValueError naming `listen` when the address cannot be bound."""
    watch = RevisionWatch(store.revision, settings.recheck_seconds)
    scorer = Scorer(store, table, today=today, now=now, on_change=watch.changed)
    server = grpc.server(
        ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="fundguard-central"),
        options=[
            ("grpc.max_receive_message_length", settings.max_message_bytes),
            ("grpc.so_reuseport", 0),  # a second platform on the same port must fail, not share it
        ],
    )
    pb_grpc.add_CentralPlatformServicer_to_server(
        CentralServicer(scorer, watch, settings, mtls=credentials is not None, now=now), server
    )
    health_servicer = health.HealthServicer()
    for name in ("", SERVICE_NAME):
        health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    try:
        if credentials is None:
            port = server.add_insecure_port(settings.address)
        else:
            port = server.add_secure_port(settings.address, credentials)
    except RuntimeError as exc:
        raise ValueError(f"listen: cannot listen on {settings.address}: {exc}") from None
    if port == 0:
        raise ValueError(f"listen: cannot listen on {settings.address}")
    return CentralServer(server, scorer, watch, health_servicer, settings.refresh_seconds), port
