"""Wiring of operations for the composition root: metrics (registry, collectors, per-transport service views),
the health monitor and the `/metrics` listener of its own.

`open_ops(...)` registers the scrape-time collectors (KB status, outbox when the uplink is on, decisions, history
when its store is on, readiness)
on a fresh registry and returns an `OpenedOps`: `metered(service, transport)` gives a transport its timed view of
the check service, `routes` the `/metrics` route for the agent's HTTP listener, `listeners` what starts and stops
with the agent (the metrics listener, when `[metrics] address` is set); `monitor` the health monitor, which the
agent starts once its listeners run; `alarms` the alarm registry (each store's fault latch in `faults`, the outbox's
refusals and disk alarm, the uploader's backoff), judged by the monitor and at each scrape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from fundguard.agent.config import Settings
from fundguard.agent.faults import FaultLatch
from fundguard.agent.history import HistoryCache
from fundguard.agent.history.status import history_status
from fundguard.agent.kb import KbStore
from fundguard.agent.kb.status import KbStatus
from fundguard.agent.service import CheckService
from fundguard.agent.transport.health import AgentHealth
from fundguard.agent.transport.http_server import RouteSetup
from fundguard.agent.transport.listener import Listener
from fundguard.agent.uplink.outbox import Outbox
from fundguard.agent.uplink.uploader import Uploader

from .alarms import Alarms
from .collectors import (
    AlarmCollector,
    FeedbackCollector,
    HistoryCollector,
    KbCollector,
    OutboxCollector,
    ReadyCollector,
)
from .exposition import MetricsListener, metrics_routes
from .metrics import AgentMetrics, MeteredCheckService
from .readiness import HealthMonitor, ReadinessProbe

__all__ = ["OpenedOps", "open_ops", "store_alarms"]

_MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class OpenedOps:
    """Metrics and health monitoring of one agent."""

    metrics: AgentMetrics
    monitor: HealthMonitor
    listeners: tuple[Listener, ...]
    alarms: Alarms

    def metered(self, service: CheckService, transport: str) -> CheckService:
        """`service` as `transport` calls it: each check timed and counted under that label."""
        return MeteredCheckService(service, self.metrics.transport(transport))

    @property
    def routes(self) -> RouteSetup:
        """`GET /metrics` for the agent's HTTP listener."""
        return metrics_routes(self.metrics.registry)


def open_ops(
    settings: Settings,
    store: KbStore,
    health: AgentHealth,
    kb_status: Callable[[], KbStatus],
    *,
    stores: Iterable[Path],
    decisions: Path,
    outbox: Outbox | None = None,
    uploader: Uploader | None = None,
    faults: Mapping[str, FaultLatch] | None = None,
    history: HistoryCache | None = None,
) -> OpenedOps:
    """Metrics, alarms and the health monitor for an agent whose store files are `stores` (decisions: `decisions`)
    and whose stores latch their write failures in `faults` (alarm name → latch); `history`: the patient history's
    cache, when the store is on (its gauges)."""
    alarms = store_alarms(faults or {}, outbox, uploader)
    metrics = AgentMetrics()
    registry = metrics.registry
    registry.register(KbCollector(kb_status))
    registry.register(FeedbackCollector(decisions))
    registry.register(ReadyCollector(lambda: health.serving))
    if outbox is not None:
        registry.register(OutboxCollector(outbox.metrics))
    if history is not None:
        registry.register(HistoryCollector(lambda: history_status(history)))
    registry.register(AlarmCollector(alarms))
    probe = ReadinessProbe(
        lambda: store.loaded, settings.data.dir, stores, min_free_bytes=settings.health.min_free_mb * _MB
    )
    monitor = HealthMonitor(probe, health, settings.health.interval_seconds, alarms)
    listeners: list[Listener] = []
    if settings.metrics.address is not None:
        listeners.append(MetricsListener(settings.metrics.address, registry, settings.grpc.grace_seconds))
    return OpenedOps(metrics, monitor, tuple(listeners), alarms)


def store_alarms(faults: Mapping[str, FaultLatch], outbox: Outbox | None, uploader: Uploader | None) -> Alarms:
    """The alarms of an agent: a store's latched write failure (one alarm per latch); with the uplink, events the
    outbox refuses (`outbox_refusing`), the outbox past its alarm ratio (`outbox_full`) and the central platform
    failing (`central_unreachable`, while the uploader backs off)."""
    alarms = Alarms()
    for name, latch in faults.items():
        alarms.watch(name, latch.current)
    if outbox is not None:
        alarms.watch("outbox_refusing", outbox.refusal)
        alarms.watch("outbox_full", lambda: f"{outbox.path} past its alarm ratio" if outbox.metrics().alarm else None)
    if uploader is not None:
        alarms.watch("central_unreachable", uploader.trouble)
    return alarms
