"""Composition root: the only module that knows every piece (settings, logging, KB store, check service, gRPC).

`build_agent(settings)` loads the knowledge base and wires the server; `Agent.start()` / `Agent.stop(grace)` are
its lifecycle; `run(settings)` serves until SIGTERM/SIGINT and shuts down gracefully (health NOT_SERVING, then
`server.stop(grace)`); `run_serve(...)` is what `fundguard serve` calls.
"""

from __future__ import annotations

import gc
import signal
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

import structlog

from fundguard.agent.auth.wiring import OpenedAuth, open_auth
from fundguard.agent.codes import CodeMap, CodeMapError, load_code_map
from fundguard.agent.config import ConfigError, Settings, load_settings
from fundguard.agent.engine.errors import KbInvalid
from fundguard.agent.faults import FaultLatch
from fundguard.agent.feedback import DecidedAlerts, DecisionStore, IssuedAlerts
from fundguard.agent.history.wiring import OpenedHistory, open_history
from fundguard.agent.kb import KbStore
from fundguard.agent.kb.sources import open_kb
from fundguard.agent.log import configure_logging
from fundguard.agent.ops import AgentMetrics, HealthMonitor, OpenedOps, open_ops
from fundguard.agent.ops.alarms import Alarms
from fundguard.agent.ops.integrity import damaged_stores, store_files
from fundguard.agent.practitioners import CACHE_FILE as PRACTITIONERS_FILE
from fundguard.agent.practitioners import StatusCache
from fundguard.agent.service import CheckService
from fundguard.agent.stream import AlertBus
from fundguard.agent.trace.ledger import LEDGER_FILE, TraceLedger
from fundguard.agent.transport.drop_folder import DropFolderListener
from fundguard.agent.transport.grpc_history import HistoryRpcs
from fundguard.agent.transport.grpc_server import AgentServer, BindError, create_server
from fundguard.agent.transport.grpc_trace import TraceRpcs
from fundguard.agent.transport.health import AgentHealth
from fundguard.agent.transport.http_alerts import alert_page_routes
from fundguard.agent.transport.http_cds import cds_routes
from fundguard.agent.transport.http_national import national_routes
from fundguard.agent.transport.http_server import HttpListener, RouteSetup
from fundguard.agent.transport.listener import Listener
from fundguard.agent.transport.mllp_server import MllpListener
from fundguard.agent.uplink.wiring import OpenedUplink, open_uplink

__all__ = ["DECISIONS_FILE", "Agent", "StartupError", "build_agent", "run", "run_serve"]

DECISIONS_FILE = "decisions.sqlite3"

EXIT_OK = 0
EXIT_START_FAILED = 1
EXIT_CONFIG = 2
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

_log = structlog.get_logger("fundguard.agent")


class StartupError(Exception):
    """The agent cannot start (knowledge base not loadable, address not bindable); the message says why."""


@dataclass
class Agent:
    """A wired agent: the KB store, the check service, the bound (not yet started) gRPC server and the other
    listeners the settings enable (HTTP, MLLP, drop folder), which all call the same check service."""

    settings: Settings
    store: KbStore
    service: CheckService
    server: AgentServer
    port: int
    health: AgentHealth
    decisions: DecisionStore
    issued: IssuedAlerts
    listeners: tuple[Listener, ...] = ()
    trace: TraceLedger | None = None
    uplink: OpenedUplink | None = None
    practitioners: StatusCache | None = None
    metrics: AgentMetrics | None = None  # Prometheus registry and per-check instruments (agent.ops)
    monitor: HealthMonitor | None = None  # readiness → gRPC health, re-evaluated while running (agent.ops)
    history: OpenedHistory | None = None  # the patient-history store and its warm cache (agent.history)
    auth: OpenedAuth | None = None  # HIS client authentication on the listeners, page keys (agent.auth)
    alarms: Alarms | None = None  # a store that cannot write, the outbox refusing, the central failing (agent.ops)

    @property
    def address(self) -> str:
        """The address actually listened on (the bound port replaces a configured 0)."""
        configured = self.settings.grpc.address
        if configured.startswith("unix:"):
            return configured
        return f"{configured.rpartition(':')[0]}:{self.port}"

    def start(self) -> None:
        """Start serving; health reports SERVING when a KB is loaded. A listener that cannot start stops the rest
        and raises StartupError."""
        self.server.start()
        started: list[Listener] = []
        for listener in self.listeners:
            try:
                listener.start()
            except OSError as exc:
                for running in reversed(started):
                    running.stop()
                self.server.stop(0).wait()
                self.decisions.close()
                self.issued.close()
                raise StartupError(f"cannot start the {listener.name} listener on {listener.address}: {exc}") from exc
            started.append(listener)
        if self.monitor is not None:  # readiness first: no SERVING before the stores were probed
            self.monitor.start()
        self.health.update(kb_loaded=self.store.loaded)

    def stop(self, grace: float | None = None) -> None:
        """Report NOT_SERVING, then stop accepting calls and wait up to `grace` seconds for running ones."""
        if self.monitor is not None:
            self.monitor.stop()
        self.health.shutdown()
        for listener in reversed(self.listeners):
            listener.stop()
        self.server.stop(self.settings.grpc.grace_seconds if grace is None else grace).wait()
        self.decisions.close()
        self.issued.close()
        if self.trace is not None:
            self.trace.close()
        if self.history is not None:
            self.history.close()
        if self.uplink is not None:  # after the uploader stopped: what was not sent goes up at the next start
            self.uplink.close()


# A check allocates a few thousand short-lived, acyclic objects; with CPython's default gen-0 threshold (700) that
# is several collections per check. Refcounting frees them anyway, so collect the young generation less often.
GC_THRESHOLDS = (50_000, 20, 20)


def tune_runtime() -> None:
    """Process-level tuning for serving checks (called once by `run`; the bench calls it for its agent too)."""
    gc.set_threshold(*GC_THRESHOLDS)


def build_agent(settings: Settings, clock: Callable[[], datetime] = datetime.now) -> Agent:  # noqa: PLR0915 - wires all
    """Load the configured KB (with parameter overrides) and wire service, health and server; raises StartupError."""
    auth = _auth(settings, clock)  # before anything is opened: a bad [auth] file leaves nothing to close
    damaged = damaged_stores(store_files(settings, DECISIONS_FILE))
    if damaged:  # a store file overwritten with garbage: refuse to start, naming it and the way back (ops.integrity)
        raise StartupError("\n".join(damaged))
    store = KbStore(settings.kb.parameters)
    try:
        kb = open_kb(settings.kb, settings.data.dir, store, clock)
    except KbInvalid as exc:
        raise StartupError(f"cannot load the knowledge base {settings.kb.path}: {exc}") from exc
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise StartupError(f"cannot load the knowledge base {settings.kb.path}: {reason}") from exc
    except ValueError as exc:  # trusted keys that cannot be read
        raise StartupError(f"kb.trusted_keys: {exc}") from exc
    codes: CodeMap | None = None
    if settings.codes.map_file is not None:
        try:
            codes = load_code_map(settings.codes.map_file)
        except CodeMapError as exc:
            raise StartupError(str(exc)) from exc
    cache = StatusCache(settings.data.dir / PRACTITIONERS_FILE)  # enforces offline what the central last said
    try:
        issued = IssuedAlerts(settings.data.dir / DECISIONS_FILE)
        uplink = open_uplink(settings.uplink, settings.data.dir, issued.get, cache, clock)
        decided = DecidedAlerts()
        decisions = DecisionStore(settings.data.dir / DECISIONS_FILE, issued, decided,
                                  on_stored=uplink.recorder.decisions if uplink else None)  # fmt: skip
    except (OSError, sqlite3.Error) as exc:
        raise StartupError(f"cannot open the agent's stores in {settings.data.dir}: {exc}") from exc
    except ValueError as exc:  # uplink keys, certificates or secret
        raise StartupError(str(exc)) from exc
    ledger, history = _trace_ledger(settings), _history(settings, clock, codes)
    bus = AlertBus()
    recorder = uplink.recorder if uplink else None
    service = CheckService(
        store,
        clock=clock,
        codes=codes,
        # memory only; the history cache's observer writes only when `history.source.needs_disk` said so
        quick_observers=(issued.record, bus.publish, *history.observers),
        observers=(recorder.check,) if recorder else (),  # the uplink outbox commits each check's event
        suppress=decided.suppress,
        on_unavailable=(bus.publish_unavailable, *((recorder.unavailable,) if recorder else ())),
        trace=ledger,
        trace_policy=settings.trace.policy,
        practitioners=cache,
        check_practitioner_codes=settings.practitioners.check_codes,
        history=history.source,
    )
    health = AgentHealth()
    ops = open_ops(  # metrics and readiness (gRPC health follows the stores' writability, the disk's free space)
        settings, store, health, kb.activator.status, decisions=settings.data.dir / DECISIONS_FILE,
        stores=(settings.data.dir / DECISIONS_FILE, *((ledger.path,) if ledger else ()),
                *((uplink.outbox.path,) if uplink else ()), *((history.cache.store.path,) if history.cache else ())),
        outbox=uplink.outbox if uplink else None, uploader=uplink.uploader if uplink else None,
        faults=_store_faults(decisions, issued, ledger, history),  # fundguard_alarm{name}: a store cannot write
        history=history.cache,  # fundguard_history_*: patients cached, encounters and settlements stored
    )  # fmt: skip
    auth.gate.on_refused = ops.metrics.unauthenticated  # fundguard_unauthenticated_total{transport}
    listeners = (
        *(uplink.listeners if uplink else ()),  # stopped last of the listeners
        *_listeners(settings, service, decisions, clock, bus, ops=ops, auth=auth),
        *kb.listeners,
        *ops.listeners,  # the /metrics port of its own, when set
    )
    rpcs = None
    if ledger is not None:
        rpcs = TraceRpcs(
            ledger, settings.trace.policy, clock, inpatient=lambda med_type: _inpatient(store, med_type),
            on_dispense=recorder.dispense if recorder else None, on_return=recorder.returned if recorder else None,
        )  # fmt: skip
    try:
        server, port = create_server(
            ops.metered(service, "grpc"), settings.grpc, health, decisions=decisions, clock=clock, bus=bus, trace=rpcs,
            status=kb.activator.status, history=HistoryRpcs(history.cache, clock) if history.cache else None,
            auth=auth.grpc,
        )  # fmt: skip
    except BindError as exc:
        decisions.close()
        issued.close()
        if ledger is not None:
            ledger.close()
        history.close()
        if uplink is not None:
            uplink.close()
        raise StartupError(str(exc)) from exc
    return Agent(settings, store, service, server, port, health, decisions, issued, listeners, ledger, uplink, cache,
                 ops.metrics, ops.monitor, history, auth, ops.alarms)  # fmt: skip


def _auth(settings: Settings, clock: Callable[[], datetime]) -> OpenedAuth:
    """HIS client authentication ([auth]): token file, certificates and page secret read and checked."""
    try:
        return open_auth(settings.auth, settings.data.dir, clock=clock)
    except ValueError as exc:
        raise StartupError(str(exc)) from exc


def _store_faults(
    decisions: DecisionStore, issued: IssuedAlerts, ledger: TraceLedger | None, history: OpenedHistory
) -> dict[str, FaultLatch]:
    """Each store's write-failure latch, by the name of its alarm."""
    faults = {"decisions": decisions.fault, "issued_alerts": issued.fault}
    if ledger is not None:
        faults["trace_ledger"] = ledger.fault
    if history.cache is not None:
        faults["history_store"] = history.cache.store.fault
    return faults


def _trace_ledger(settings: Settings) -> TraceLedger | None:
    """The trace ledger ([trace]; on by default, in the data dir), or None when the trace checks are off."""
    if not settings.trace.enabled:
        return None
    path = settings.trace.ledger if settings.trace.ledger is not None else settings.data.dir / LEDGER_FILE
    try:
        return TraceLedger(path)
    except (OSError, sqlite3.Error) as exc:
        raise StartupError(f"cannot open the trace ledger {path}: {exc}") from exc


def _history(settings: Settings, clock: Callable[[], datetime], codes: CodeMap | None) -> OpenedHistory:
    """The patient history ([history]; on by default, `history.sqlite3` in the data dir) and institution state."""
    try:
        return open_history(settings, clock, codes.resolve if codes is not None else None)
    except (OSError, sqlite3.Error) as exc:
        raise StartupError(f"cannot open the history store in {settings.data.dir}: {exc}") from exc


def _inpatient(store: KbStore, med_type: str) -> bool:
    """Whether a 医疗类别 is an inpatient one, by the active KB's parameters."""
    return store.loaded and store.current.params.visit_class_by_med_type.get(med_type) == "inpatient"


def _listeners(
    settings: Settings,
    service: CheckService,
    decisions: DecisionStore,
    clock: Callable[[], datetime],
    bus: AlertBus,
    *,
    ops: OpenedOps,
    auth: OpenedAuth,
) -> tuple[Listener, ...]:
    """The listeners the settings enable, each translating its protocol to the same check service (each through
    its own metered view of it, labelled by transport)."""
    out: list[Listener] = []
    if settings.http.address is not None:
        budget = settings.grpc.check_budget_ms  # the agent's check budget, whatever the transport
        routes: list[RouteSetup] = [
            national_routes(ops.metered(service, "national"), decisions, clock, budget),
            cds_routes(ops.metered(service, "cds_hooks"), decisions, clock, budget),
            alert_page_routes(bus, decisions, clock),
            ops.routes,  # GET /metrics
            *((auth.http_routes,) if auth.http_routes else ()),  # the client check in front of the routes
        ]
        out.append(HttpListener(settings.http, routes, settings.grpc.grace_seconds, auth.http_ssl))
    if settings.mllp.address is not None:
        out.append(MllpListener(settings.mllp, ops.metered(service, "mllp"), clock, settings.grpc.check_budget_ms,
                                auth=auth.mllp, ssl_context=auth.mllp_ssl))  # fmt: skip
    if settings.drop.dir is not None:
        out.append(DropFolderListener(settings.drop, ops.metered(service, "drop"), clock))
    return tuple(out)


def run(settings: Settings) -> int:
    """Serve until SIGTERM/SIGINT, then stop gracefully; returns the process exit code."""
    configure_logging(settings.log)
    tune_runtime()
    try:
        agent = build_agent(settings)
    except StartupError as exc:
        _log.error("agent.start_failed", reason=str(exc))
        print(f"fundguard: {exc}", file=sys.stderr)
        return EXIT_START_FAILED

    received: list[int] = []

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        # only a list append: a handler that takes a lock (Event.set, a log line) can deadlock against the main
        # thread it interrupts when that thread holds the same lock
        received.append(signum)

    previous: dict[int, Any] = {sig: signal.signal(sig, _on_signal) for sig in _STOP_SIGNALS}
    try:
        try:
            agent.start()
        except StartupError as exc:
            _log.error("agent.start_failed", reason=str(exc))
            print(f"fundguard: {exc}", file=sys.stderr)
            return EXIT_START_FAILED
        kb = agent.store.current
        _log.info(
            "agent.started",
            address=agent.address,
            kb_revision=kb.revision,
            kb_source=agent.store.source,
            kb_points=len(kb.points),
            kb_codes=kb.code_count,
            max_workers=settings.grpc.max_workers,
            listeners={listener.name: listener.address for listener in agent.listeners},
        )
        if settings.auth.mode == "none":
            _log.warning("auth.disabled", hint="[auth] mode = none: any program that reaches the listeners is served; "
                         "set mode = 'token' or 'mtls' (README, Authentication)")  # fmt: skip
        while not received:
            time.sleep(0.2)
        _log.info("agent.stopping", signal=signal.Signals(received[0]).name)
        agent.stop(settings.grpc.grace_seconds)
        _log.info("agent.stopped")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return EXIT_OK


def run_serve(config_file: Path | None, overrides: dict[str, Any]) -> int:
    """`fundguard serve [--grpc HOST:PORT] [--http HOST:PORT] [--mllp HOST:PORT] [--drop-dir DIR] [--code-map CSV]
    [--data-dir DIR] [--kb PATH] [--config FILE]`: exit 0 after a clean stop, 1 when the agent cannot start, 2 on a
    configuration error (printed to stderr, one `key: problem` line each). `overrides` are dotted settings keys
    (`{"grpc.address": ...}`); None values are left to the file and environment."""
    try:
        settings = load_settings(config_file, overrides)
    except ConfigError as exc:
        lines = "\n".join(f"  {problem}" for problem in exc.problems)
        print(f"fundguard: invalid configuration\n{lines}", file=sys.stderr)
        return EXIT_CONFIG
    return run(settings)
