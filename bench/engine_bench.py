"""Engine figures: KB load + compile time, and `check()` latency on the 10- and 50-line encounters."""

from __future__ import annotations

import gc
import json
import time
from dataclasses import dataclass
from pathlib import Path

from fundguard.agent.engine import CompiledKB, build_index, check
from fundguard.agent.intake import ParsedRequest, parse_request

from .encounters import SERVICE_DATE, BenchEncounter
from .stats import Timing, peak_rss_mib, sample

__all__ = ["EngineRun", "KbLoad", "bench_engine", "load_kb"]


@dataclass(frozen=True, slots=True)
class KbLoad:
    """How long reading, parsing and compiling the bundle took (ms), and what came out."""

    path: Path
    read_parse_ms: float
    compile_ms: float
    kb: CompiledKB
    rss_after_mib: float

    @property
    def total_ms(self) -> float:
        """Read + parse + compile."""
        return self.read_parse_ms + self.compile_ms


@dataclass(frozen=True, slots=True)
class EngineRun:
    """One encounter's figures."""

    encounter: BenchEncounter
    current_lines: int
    alerts: int
    families: tuple[str, ...]
    timing: Timing


def load_kb(path: Path) -> KbLoad:
    """Read and compile the bundle at `path`, timing both steps (the agent's start-up and hot-reload cost)."""
    started = time.perf_counter_ns()
    bundle = json.loads(path.read_text(encoding="utf-8"))
    parsed = time.perf_counter_ns()
    kb = build_index(bundle)
    compiled = time.perf_counter_ns()
    del bundle
    gc.collect()
    return KbLoad(path, (parsed - started) / 1e6, (compiled - parsed) / 1e6, kb, peak_rss_mib())


def _parsed(encounter: BenchEncounter) -> ParsedRequest:
    return parse_request(encounter.request)


def bench_engine(
    kb: CompiledKB, encounter: BenchEncounter, iterations: int, warmup: int, pause_s: float = 0.0
) -> EngineRun:
    """Time `check(request, kb, service_date, judgement_id)` alone (no parsing, no transport); `pause_s` idles
    before each timed call (see `stats.sample`)."""
    parsed = _parsed(encounter)
    request = parsed.request
    day = parsed.service_date or SERVICE_DATE
    result = check(request, kb, day, "bench")
    families = tuple(sorted({a.rule_class for a in result.alerts}))
    gc.collect()
    timing = sample(lambda: check(request, kb, day, "bench"), iterations, warmup, pause_s)
    current = sum(1 for o in request.encounter.orders if o.current)
    return EngineRun(encounter, current, len(result.alerts), families, timing)
