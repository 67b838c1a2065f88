"""Operations: Prometheus metrics (`metrics`, `collectors`, `exposition`), readiness for gRPC health
(`readiness`), alarms (`alarms`), damaged store files (`integrity`), their wiring into an agent (`wiring`) and
`fundguard doctor` (`doctor` and its checks)."""

from __future__ import annotations

from .alarms import Alarms
from .collectors import (
    AlarmCollector,
    FeedbackCollector,
    HistoryCollector,
    KbCollector,
    OutboxCollector,
    ReadyCollector,
)
from .exposition import METRICS_PATH, MetricsListener, metrics_routes
from .metrics import AgentMetrics, MeteredCheckService, TransportMeter
from .readiness import HealthMonitor, Readiness, ReadinessProbe, probe_writable
from .wiring import OpenedOps, open_ops

__all__ = [
    "METRICS_PATH",
    "AgentMetrics",
    "AlarmCollector",
    "Alarms",
    "FeedbackCollector",
    "HealthMonitor",
    "HistoryCollector",
    "KbCollector",
    "MeteredCheckService",
    "MetricsListener",
    "OpenedOps",
    "OutboxCollector",
    "Readiness",
    "ReadinessProbe",
    "ReadyCollector",
    "TransportMeter",
    "metrics_routes",
    "open_ops",
    "probe_writable",
]
