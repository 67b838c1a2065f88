"""What `make bench` writes: `bench/results/latest.json` — every figure, each target beside its figure, the machine,
the time and the commit.

Targets (issues 3, 7, 9 and 11) are looked up in the figures by path, so a part that was skipped (`--only`,
`--quick` options) leaves its target row with `value: null` rather than a stale figure. The commit is read from
`.git` as files (HEAD → ref → packed-refs); whether the tree had uncommitted edits is not known from that.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["RESULTS", "TARGETS", "Target", "evaluate", "git_commit", "machine", "write"]

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"


@dataclass(frozen=True, slots=True)
class Target:
    """A figure (its path in the results) and the bound it must keep: `op` is "<=" or ">="."""

    name: str
    path: tuple[str, ...]
    op: str
    bound: float
    unit: str
    source: str  # which issue's must-show states it
    scale: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (what, path): the size the figure was taken at


_KB = (("KB points", ("kb_reload", "points")),)
TARGETS: tuple[Target, ...] = (
    Target("engine p99, 10 lines, synthetic KB", ("kb_reload", "engine", "10_lines", "p99_us"), "<=", 100, "µs",
           "#11 MS1, #3", _KB),
    Target("engine p99, 50 lines, synthetic KB", ("kb_reload", "engine", "50_lines", "p99_us"), "<=", 1000, "µs",
           "#11 MS1, #3", _KB),
    Target("gRPC Check p50 / echo p50", ("grpc", "ratio_p50"), "<=", 1.5, "×", "#11 MS2"),
    Target("gRPC Check p99 / echo p99", ("grpc", "ratio_p99"), "<=", 3, "×", "#11 MS2"),
    Target("checks/s with 16 in flight (gRPC, agent as deployed)", ("throughput", "at_16", "agent", "per_s"), ">=",
           2000, "/s", "#11 MS3"),
    Target("RSS, synthetic KB held + trace ledger open", ("trace", "rss_mib"), "<=", 1024, "MiB", "#11 MS4, #9",
           (("KB points", ("trace", "kb_points")), ("ledger codes", ("trace", "codes")))),
    Target("KB reload (full bundle), offer to swap", ("kb_reload", "agent_reload_full", "to_swap_ms"), "<=", 1000,
           "ms", "#7 MS6", _KB),
    Target("engine p99 with 5 years of history (warm)", ("history", "engine_warm_history", "p99_median_round_us"),
           "<=", 100, "µs",
           "#11, history"),
)  # fmt: skip


def _lookup(figures: dict[str, Any], path: Sequence[str]) -> float | None:
    node: Any = figures
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return float(node) if isinstance(node, int | float) else None


def evaluate(figures: dict[str, Any], targets: Sequence[Target] = TARGETS) -> list[dict[str, Any]]:
    """Each target with the figure measured (None when its part did not run) and whether it holds."""
    rows = []
    for t in targets:
        value = _lookup(figures, t.path)
        met = None if value is None else (value <= t.bound if t.op == "<=" else value >= t.bound)
        at = {what: _lookup(figures, path) for what, path in t.scale}
        rows.append({"name": t.name, "value": value, "op": t.op, "target": t.bound, "unit": t.unit, "met": met,
                     "at": {k: v for k, v in at.items() if v is not None}, "path": ".".join(t.path),
                     "source": t.source})  # fmt: skip
    return rows


def git_commit(repo: Path = REPO) -> str | None:
    """The commit HEAD names, read from the `.git` directory's files (no git command); None when unknown."""
    git = repo / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = head.removeprefix("ref: ")
        loose = git / ref
        if loose.is_file():
            return loose.read_text().strip()
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0]
    except OSError:
        return None
    return None


def _memory_mib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024)
    except OSError:
        return None
    return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def machine() -> dict[str, Any]:
    """Where the figures were taken: CPUs, load at the start, memory, OS, Python."""
    try:
        load: list[float] | None = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": _cpu_model(),
        "load_avg_at_start": load,
        "memory_mib": _memory_mib(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
    }


def write(
    figures: dict[str, Any],
    started: datetime,
    machine_info: dict[str, Any] | None = None,
    path: Path | None = None,
    note: str = "",
) -> dict[str, Any]:
    """The results document (figures, targets, the machine as `machine()` saw it at the start, time, commit),
    written as JSON to `path` (default bench/results/latest.json); returned."""
    doc = {
        "bench": "fundguard",
        "started_at": started.astimezone(UTC).isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "machine": machine_info or machine(),
        "note": note,
        "targets": evaluate(figures),
        "figures": figures,
    }
    out = path or RESULTS / "latest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    tmp.replace(out)
    return doc
