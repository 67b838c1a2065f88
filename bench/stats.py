"""Latency summaries: p50 / p99 / p99.9 / mean of a list of nanosecond samples, reported in microseconds.

Each summary also keeps the latency at the `CURVE` quantiles (a compact distribution: what `bench.plot` draws).
"""

from __future__ import annotations

import math
import resource
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["CURVE", "Rounds", "Timing", "peak_rss_mib", "sample", "sample_rounds", "summarize"]

# quantiles kept for the plot: the body and the tail of a latency distribution
CURVE = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999)


@dataclass(frozen=True, slots=True)
class Timing:
    """One measured series (µs): nearest-rank percentiles over `n` samples."""

    n: int
    p50: float
    p90: float
    p99: float
    mean: float
    min: float
    max: float
    p999: float = 0.0
    curve: tuple[float, ...] = ()  # µs at each of `CURVE`

    def as_dict(self) -> dict[str, float | int]:
        """Rounded figures for the JSON line."""
        return {
            "n": self.n,
            "p50_us": round(self.p50, 1),
            "p90_us": round(self.p90, 1),
            "p99_us": round(self.p99, 1),
            "p999_us": round(self.p999, 1),
            "mean_us": round(self.mean, 1),
            "min_us": round(self.min, 1),
            "max_us": round(self.max, 1),
        }

    def with_curve(self) -> dict[str, object]:
        """`as_dict` plus the latency (µs) at each quantile of `CURVE` (for the plot)."""
        return {**self.as_dict(), "curve_us": [round(v, 1) for v in self.curve]}


def _rank(ordered: list[int], q: float) -> int:
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def summarize(samples_ns: list[int]) -> Timing:
    """p50/p90/p99/p99.9 (nearest rank), mean, min, max and the `CURVE` of `samples_ns`, converted to µs."""
    if not samples_ns:
        raise ValueError("no samples")
    ordered = sorted(samples_ns)
    us = 1000.0
    return Timing(
        n=len(ordered),
        p50=_rank(ordered, 0.50) / us,
        p90=_rank(ordered, 0.90) / us,
        p99=_rank(ordered, 0.99) / us,
        mean=sum(ordered) / len(ordered) / us,
        min=ordered[0] / us,
        max=ordered[-1] / us,
        p999=_rank(ordered, 0.999) / us,
        curve=tuple(_rank(ordered, q) / us for q in CURVE),
    )


def sample(fn: Callable[[], object], iterations: int, warmup: int, pause_s: float = 0.0) -> Timing:
    """Call `fn` `warmup` times untimed, then `iterations` times, each timed with perf_counter_ns.

    With `pause_s`, the process sleeps that long before each timed call: the CPU idles between calls as it does
    in a server answering sequential requests (caches and clocks are no longer hot).
    """
    for _ in range(warmup):
        fn()
    clock = time.perf_counter_ns
    sleep = time.sleep
    samples = [0] * iterations
    for i in range(iterations):
        if pause_s:
            sleep(pause_s)
        started = clock()
        fn()
        samples[i] = clock() - started
    return summarize(samples)


@dataclass(frozen=True, slots=True)
class Rounds:
    """One series timed in rounds taken in turn with others: every sample pooled, and each round's own p99 (µs)."""

    pooled: Timing
    round_p99: tuple[float, ...]

    @property
    def median_round_p99(self) -> float:
        """The median of the rounds' p99: a burst of noise on the host that spoils one round does not move it."""
        return statistics.median(self.round_p99)

    def as_dict(self) -> dict[str, object]:
        """The pooled figures, each round's p99 and their median."""
        return {
            **self.pooled.as_dict(),
            "p99_rounds_us": [round(v, 1) for v in self.round_p99],
            "p99_median_round_us": round(self.median_round_p99, 1),
        }


def sample_rounds(
    fns: Mapping[str, Callable[[], object]], iterations: int, warmup: int, rounds: int = 5
) -> dict[str, Rounds]:
    """Time each of `fns` `iterations` times in all, in `rounds` rounds taken in turn (a, b, c, a, b, c, …) after
    `warmup` untimed calls each. Noise on a shared host (another tenant, a kernel thread) comes in bursts of a
    second or two; taken in turn, a burst falls on every series alike and on few of its rounds."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    per_round = max(1, iterations // rounds)
    samples: dict[str, list[int]] = {name: [] for name in fns}
    p99s: dict[str, list[float]] = {name: [] for name in fns}
    clock = time.perf_counter_ns
    for _ in range(rounds):
        for name, fn in fns.items():
            taken = [0] * per_round
            for i in range(per_round):
                started = clock()
                fn()
                taken[i] = clock() - started
            samples[name] += taken
            p99s[name].append(summarize(taken).p99)
    return {name: Rounds(summarize(samples[name]), tuple(p99s[name])) for name in fns}


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (getrusage ru_maxrss, KiB on Linux), in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
