"""The agent's Prometheus metrics: per-check instruments, and the service view that feeds them per transport.

`AgentMetrics` owns one `CollectorRegistry` (never prometheus-client's global one, so a process — a test — can build
several agents). Per check it costs one counter increment and one histogram observation (plus one increment per
alert raised), on label children bound in advance: `MeteredCheckService` is the check service as one transport sees
it, timing `check()` (code map, trace snapshot, engine, alert-fatigue filter and observers: everything but the
transport's decode/encode) under that transport's label; it also puts the patient's identity in the log scope for
the check (`agent.log.enter_identity`: one ContextVar set), so anything logged meanwhile masks it. Everything else
(KB, outbox, decisions, readiness) is read when Prometheus scrapes (`collectors`).

Series: `fundguard_check_seconds{transport}` (histogram), `fundguard_checks_total{transport}`,
`fundguard_checks_unavailable_total{transport}`, `fundguard_alerts_total{rule_class,sev_deg}`,
`fundguard_unauthenticated_total{transport}` (calls refused by `agent.auth`; grpc, national, cds_hooks, mllp,
alert_page).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from fundguard.agent.engine.model import CheckResult
from fundguard.agent.intake import ParsedRequest
from fundguard.agent.kb import KbStore
from fundguard.agent.log import enter_identity, leave_identity, remember_identity
from fundguard.agent.service import CheckOutcome, CheckService

__all__ = ["AUTH_TRANSPORTS", "LATENCY_BUCKETS", "TRANSPORTS", "AgentMetrics", "MeteredCheckService", "TransportMeter"]

# seconds: a check is ~50-300 µs of engine time; the budget (300 ms by default) is the far end
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.3, 1.0)
TRANSPORTS = ("grpc", "national", "cds_hooks", "mllp", "drop")  # the label values the agent uses
AUTH_TRANSPORTS = ("grpc", "national", "cds_hooks", "mllp", "alert_page")  # where calls are refused (agent.auth)


class AgentMetrics:
    """The registry and the per-check instruments of one agent."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._latency = Histogram(
            "fundguard_check_seconds",
            "Time a check spent in the check service (code map, trace snapshot, engine, filters), per transport.",
            ["transport"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._checks = Counter("fundguard_checks", "Checks answered, per transport.", ["transport"],
                               registry=self.registry)  # fmt: skip
        self._unavailable = Counter(
            "fundguard_checks_unavailable",
            "Checks answered CHECK_UNAVAILABLE (past the budget or the caller's deadline), per transport.",
            ["transport"],
            registry=self.registry,
        )
        self._alerts = Counter(
            "fundguard_alerts", "Alerts raised, by rule class and severity (sev_deg).", ["rule_class", "sev_deg"],
            registry=self.registry,
        )  # fmt: skip
        self._alert_children: dict[tuple[str, str], Any] = {}
        self._unauthenticated = Counter(
            "fundguard_unauthenticated", "Calls refused for want of valid credentials ([auth]), per transport.",
            ["transport"], registry=self.registry,
        )  # fmt: skip
        for transport in AUTH_TRANSPORTS:
            self._unauthenticated.labels(transport)
        self._lock = threading.Lock()
        for transport in TRANSPORTS:  # every transport's series exists from the start (0 rather than absent)
            self.transport(transport)

    def transport(self, name: str) -> TransportMeter:
        """The instruments of one transport, label children bound once."""
        return TransportMeter(
            self, self._latency.labels(name), self._checks.labels(name), self._unavailable.labels(name)
        )

    def unauthenticated(self, transport: str) -> None:
        """One call refused on `transport` (no or invalid credentials)."""
        self._unauthenticated.labels(transport).inc()

    def count_alerts(self, result: CheckResult) -> None:
        """One increment per alert, by (rule class, sev_deg); the children are cached after their first use."""
        children = self._alert_children
        for alert in result.alerts:
            key = (alert.rule_class, alert.sev_deg)
            child = children.get(key)
            if child is None:
                with self._lock:
                    child = children.setdefault(key, self._alerts.labels(*key))
            child.inc()


class TransportMeter:
    """What one transport's checks feed: latency, count, unavailable count, alerts."""

    __slots__ = ("_checks", "_latency", "_metrics", "_unavailable")

    def __init__(self, metrics: AgentMetrics, latency: Any, checks: Any, unavailable: Any) -> None:
        self._metrics = metrics
        self._latency = latency
        self._checks = checks
        self._unavailable = unavailable

    def checked(self, seconds: float, result: CheckResult) -> None:
        """One check answered after `seconds`."""
        self._latency.observe(seconds)
        self._checks.inc()
        if result.alerts:
            self._metrics.count_alerts(result)

    def unavailable(self) -> None:
        """One check answered "unavailable"."""
        self._unavailable.inc()


class MeteredCheckService(CheckService):
    """A view of the agent's one `CheckService` for one transport: the same service (same KB, observers, stores),
    each check timed and counted under the transport's label, the patient's identity in the log scope while it runs.
    Anything else is the underlying service's."""

    def __init__(self, service: CheckService, meter: TransportMeter) -> None:  # a view: no state of its own
        self._service = service
        self._meter = meter

    @property
    def store(self) -> KbStore:
        """The KB store checks run on."""
        return self._service.store

    def check(self, parsed: ParsedRequest) -> CheckOutcome:
        """The service's check, timed and counted. Meanwhile the patient's identity is in the log scope (whatever is
        logged masks it); when the check raises it is remembered, for the transport's error log and traceback."""
        patient = parsed.request.patient
        scope = enter_identity(patient.patn_id, patient.patn_name)
        started = time.perf_counter()
        try:
            outcome = self._service.check(parsed)
        except Exception:
            remember_identity(patient.patn_id, patient.patn_name)
            raise
        finally:
            leave_identity(scope)
        self._meter.checked(time.perf_counter() - started, outcome.result)
        return outcome

    def unavailable(self, parsed: ParsedRequest, reason: str) -> None:
        """The service's `unavailable`, counted."""
        self._meter.unavailable()
        self._service.unavailable(parsed, reason)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._service, name)
