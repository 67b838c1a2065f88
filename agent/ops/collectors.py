"""Metrics read when Prometheus scrapes, not on the check path: the knowledge base, the outbox, the clinicians'
decisions, the patient history and the agent's readiness.

Each is a prometheus-client custom collector (`collect()` yields metric families) registered on the agent's own
registry. They read what the components already keep: `KbActivator.status()`, `Outbox.metrics()`, the decision
store's SQLite file (read-only), `history_status` (the warm cache, and the history store's file read-only),
`AgentHealth.serving`.

Series: `fundguard_kb_info{revision,source}`, `fundguard_kb_revision`, `fundguard_kb_activations_total`,
`fundguard_kb_rejections_total`, `fundguard_kb_points{rule_class}`; `fundguard_outbox_depth`,
`fundguard_outbox_oldest_age_seconds`, `fundguard_outbox_bytes`, `fundguard_outbox_refused_total`,
`fundguard_outbox_alarm`; `fundguard_feedback_decisions_total{decision}` (decision `modify` = dspo_way 2,
`override` = dspo_way 1, continued with a reason); `fundguard_ready`; `fundguard_alarm{name}` (`alarms`);
`fundguard_history_patients_cached`, `fundguard_history_cache_loads_total`, `fundguard_history_encounters_stored`,
`fundguard_history_settlements_stored` (the two stored counts absent while the store cannot be read).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from fundguard.agent.history.status import HistoryStatus
from fundguard.agent.kb.status import KbStatus
from fundguard.agent.ops.alarms import Alarms
from fundguard.agent.uplink.outbox import OutboxMetrics

__all__ = [
    "DECISION_NAMES",
    "AlarmCollector",
    "FeedbackCollector",
    "HistoryCollector",
    "KbCollector",
    "OutboxCollector",
    "ReadyCollector",
]

DECISION_NAMES = {"1": "override", "2": "modify"}  # 3103 dspo_way: 1 continue (with a reason), 2 modify the order


class KbCollector(Collector):
    """The running knowledge base: revision, source, activations, rejections, points per rule class."""

    def __init__(self, status: Callable[[], KbStatus]) -> None:
        self._status = status

    def collect(self) -> Iterator[Metric]:
        kb = self._status()
        yield InfoMetricFamily("fundguard_kb", "The knowledge base running.",
                               value={"revision": kb.revision, "source": kb.source})  # fmt: skip
        revision = GaugeMetricFamily("fundguard_kb_revision", "Revision of the knowledge base running (0: none).")
        revision.add_metric([], float(kb.revision) if kb.revision.isdigit() else 0.0)
        yield revision
        yield CounterMetricFamily("fundguard_kb_activations", "Bundles activated (the start-up one included).",
                                  value=kb.activations)  # fmt: skip
        yield CounterMetricFamily("fundguard_kb_rejections", "Bundles refused (signature, hashes, downgrade, compile).",
                                  value=kb.rejections)  # fmt: skip
        points = GaugeMetricFamily(
            "fundguard_kb_points", "Knowledge points compiled, per rule class.", labels=["rule_class"]
        )
        for rule_class, count in kb.rule_classes.items():
            points.add_metric([rule_class], count)
        yield points


class OutboxCollector(Collector):
    """The uplink's outbox: events waiting, age of the oldest, bytes on disk, refusals, the alarm."""

    def __init__(self, metrics: Callable[[], OutboxMetrics]) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        m = self._metrics()
        yield GaugeMetricFamily("fundguard_outbox_depth", "Events waiting to go up to the central platform.",
                                value=m.depth)  # fmt: skip
        yield GaugeMetricFamily("fundguard_outbox_oldest_age_seconds", "Age of the oldest event waiting (0: none).",
                                value=m.oldest_age_s)  # fmt: skip
        yield GaugeMetricFamily("fundguard_outbox_bytes", "Outbox file plus WAL on disk.", value=m.bytes)
        yield GaugeMetricFamily("fundguard_outbox_max_bytes", "The outbox bound ([uplink] max_queue_mb).",
                                value=m.max_bytes)  # fmt: skip
        yield CounterMetricFamily("fundguard_outbox_refused", "Events refused because the outbox was full.",
                                  value=m.refused)  # fmt: skip
        yield GaugeMetricFamily("fundguard_outbox_alarm", "1 while the outbox is past its alarm ratio.",
                                value=1.0 if m.alarm else 0.0)  # fmt: skip


class HistoryCollector(Collector):
    """The patient history: patients in the warm cache, loads from the store, encounter records and settlements
    stored (counted at each scrape on a read-only connection: ~16 ms for 240,000 records)."""

    def __init__(self, status: Callable[[], HistoryStatus]) -> None:
        self._status = status

    def collect(self) -> Iterator[Metric]:
        h = self._status()
        yield GaugeMetricFamily("fundguard_history_patients_cached", "Patients whose history is in the warm cache.",
                                value=h.patients_cached)  # fmt: skip
        yield CounterMetricFamily("fundguard_history_cache_loads",
                                  "Patient histories loaded from the store (cache misses and reloads).",
                                  value=h.cache_loads)  # fmt: skip
        if h.store_error:  # absent rather than a false 0; the history_store alarm covers failed writes
            return
        yield GaugeMetricFamily("fundguard_history_encounters_stored",
                                "Encounter records in the history store (settlements and encounters checks carried).",
                                value=h.encounters_stored)  # fmt: skip
        yield GaugeMetricFamily("fundguard_history_settlements_stored",
                                "Settlements confirmed in the history store (ConfirmSettlement).",
                                value=h.settlements_stored)  # fmt: skip


class FeedbackCollector(Collector):
    """Clinicians' decisions stored (all time, read from the decision store's file), by decision."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def _counts(self) -> dict[str, int]:
        if not self._path.exists():
            return {}
        db = sqlite3.connect(f"file:{self._path}?mode=ro", uri=True)
        try:
            rows = db.execute("SELECT dspo_way, COUNT(*) FROM decisions GROUP BY dspo_way").fetchall()
        except sqlite3.Error:  # the table is not created yet
            return {}
        finally:
            db.close()
        return {str(dspo_way): int(count) for dspo_way, count in rows}

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "fundguard_feedback_decisions",
            "Clinicians' decisions on alerts: override (dspo_way 1, continued with a reason) or modify (2).",
            labels=["decision"],
        )
        counts = self._counts()
        for dspo_way, decision in DECISION_NAMES.items():  # both always present, 0 when none
            family.add_metric([decision], counts.get(dspo_way, 0))
        yield family


class ReadyCollector(Collector):
    """Whether gRPC health reports SERVING."""

    def __init__(self, serving: Callable[[], bool]) -> None:
        self._serving = serving

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("fundguard_ready", "1 while the agent reports SERVING (KB loaded, stores writable).",
                                value=1.0 if self._serving() else 0.0)  # fmt: skip


class AlarmCollector(Collector):
    """Every watched alarm, judged at the scrape: 1 while raised, 0 otherwise."""

    def __init__(self, alarms: Alarms) -> None:
        self._alarms = alarms

    def collect(self) -> Iterator[Metric]:
        raised = self._alarms.evaluate()
        family = GaugeMetricFamily("fundguard_alarm", "1 while the named alarm is raised (see the log's alarm.raised).",
                                   labels=["name"])  # fmt: skip
        for name in self._alarms.names:
            family.add_metric([name], 1.0 if name in raised else 0.0)
        yield family
