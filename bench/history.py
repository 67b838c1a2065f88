"""`python -m bench.history [--iterations N]`: the cross-visit check of a chronic patient from the warm cache. Never
asserts.

1. The default KB compiled; the bench's 10-line inpatient encounter (`bench.encounters`, real codes hitting most
   families, with one earlier visit in `history`).
2. A history store in a temp dir holding 5 years of the same patient's monthly visits (60 encounters, 5 lines each,
   drawn from the encounter's own codes: a chronic patient getting the same drugs and services every month, so the
   course, interval and duplicate rules have 60 earlier uses per code to read), plus the request's own earlier visit
   (as the agent stores it after the first check); the warm cache loads the patient once.
3. Prints engine `check()` p50/p99 (µs) for: no history (history=None); the warm snapshot as the agent keeps it
   (the last `lookback_days` = 365 of the 5 years: what the rules judge against); and the whole 5 years compiled
   (lookback 5 years, the worst case); the cache lookup itself, and a cold load (store read + compile); then one
   JSON line.
The three engine series are timed in turn, in `ROUNDS` rounds (`stats.sample_rounds`): besides the pooled figures,
each round's p99 is printed, and their median is what the target judges (p99 ≤ 100 µs for a 10-line check), so that
a burst of noise from the shared host in one round does not decide it. The worst round stays in the output.
"""

from __future__ import annotations

import argparse
import gc
import json
import tempfile
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from fundguard.agent.app import tune_runtime
from fundguard.agent.engine import build_index, check
from fundguard.agent.engine.history_model import compile_history
from fundguard.agent.engine.model import CheckRequest, Encounter, OrderLine
from fundguard.agent.history import HistoryCache, HistoryStore, Settlement
from fundguard.agent.intake import parse_request
from fundguard.knowledge_base import default_bundle_path

from .encounters import SERVICE_DATE, build_encounters
from .stats import Timing, sample, sample_rounds

__all__ = ["chronic_history", "measure"]

YEARS = 5
LINES_PER_VISIT = 5
TARGET_P99_US = 100.0
ROUNDS = 5  # the three engine series are timed in turn, in this many rounds each


def chronic_history(request: CheckRequest, years: int = YEARS, per_visit: int = LINES_PER_VISIT) -> list[Encounter]:
    """Monthly outpatient visits over `years` years before the date of service, each with `per_visit` lines taken
    in turn from the request's own current lines (28-day supplies for drugs)."""
    codes = [(o.hilist_code, o.hilist_name) for o in request.encounter.orders if o.current and o.hilist_code]
    out: list[Encounter] = []
    visits = years * 12
    for n in range(visits):
        day = SERVICE_DATE - timedelta(days=30 * (visits - n) + 10)
        lines = []
        for k in range(per_visit):
            code, name = codes[(n * per_visit + k) % len(codes)]
            stop = day + timedelta(days=27) if code.startswith(("X", "Z")) else None
            lines.append(OrderLine(f"H{n}-{k}", code, Decimal(1), Decimal("12.50"), Decimal("12.50"), name,
                                   begn_date=day, stop_date=stop, current=False))  # fmt: skip
        out.append(Encounter(f"MD-H{n:03d}", med_type="14", adm_date=day, dscg_main_dise_codg="I10.X00",
                             orders=tuple(lines)))  # fmt: skip
    return out


def measure(iterations: int = 20_000, warmup: int = 2_000, root: Path | None = None) -> dict[str, Any]:
    """The figures (µs) as a JSON-ready dict."""
    kb = build_index(json.loads(default_bundle_path().read_text(encoding="utf-8")))
    ten, _ = build_encounters(kb)
    parsed = parse_request(ten.request)
    request, day = parsed.request, parsed.service_date or SERVICE_DATE
    with tempfile.TemporaryDirectory() as tmp:
        store = HistoryStore((root or Path(tmp)) / "history.sqlite3")
        try:
            patn_id = request.patient.patn_id
            at = datetime(2026, 7, 1)
            for n, enc in enumerate(chronic_history(request)):
                store.confirm(Settlement(patn_id, enc, f"SETL-{n:04d}", at))
            store.remember(patn_id, request.history, at)
            today = datetime.combine(day, datetime.min.time())
            cache = HistoryCache(store, clock=lambda: today)
            facts = cache.facts_for(request)
            everything = HistoryCache(store, clock=lambda: today, lookback_days=YEARS * 366).facts_for(request)
            assert facts.patient is not None and everything.patient is not None  # the bench's own sanity
            counts = store.counts()
            gc.collect()
            gc.freeze()  # the KB and the warm snapshot are long-lived, as in the agent (KbStore.activate freezes)
            series = sample_rounds(
                {
                    "engine_no_history": lambda: check(request, kb, day, "bench"),
                    "engine_warm_history": lambda: check(request, kb, day, "bench", history=facts),
                    "engine_all_5_years": lambda: check(request, kb, day, "bench", history=everything),
                },
                iterations,
                warmup,
                ROUNDS,
            )
            lookup = sample(lambda: cache.facts_for(request), iterations, warmup)
            cold = sample(lambda: compile_history(store.load(patn_id)), 200, 20)
            with_history = check(request, kb, day, "bench", history=facts)
            without = check(request, kb, day, "bench")
        finally:
            store.close()
    return {
        "history": {
            "encounters": counts["encounters"],
            "lines": counts["lines"],
            "years": YEARS,
            "warm_encounters": len(facts.patient.encounters),
            "all_encounters": len(everything.patient.encounters),
        },
        "current_lines": sum(1 for o in request.encounter.orders if o.current),
        "alerts": {"no_history": len(without.alerts), "warm_history": len(with_history.alerts)},
        **{key: rounds.as_dict() for key, rounds in series.items()},
        "cache_lookup": _us(lookup),
        "cold_load_and_compile": _us(cold),
        "target_p99_us": TARGET_P99_US,
    }


def _us(t: Timing) -> dict[str, float | int]:
    return t.as_dict()


def print_figures(figures: dict[str, Any]) -> None:
    """A small table, then the JSON line."""
    h = figures["history"]
    print(f"chronic patient: {h['encounters']} stored encounters, {h['lines']} lines ({h['years']} years); "
          f"{figures['current_lines']}-line check")  # fmt: skip
    print(f"{'figure':<34}{'p50 µs':>10}{'p90 µs':>10}{'p99 µs':>10}{'mean µs':>10}   p99 of each round (µs)")
    print(f"warm snapshot: the last 365 days ({h['warm_encounters']} encounters); all: {h['all_encounters']}")
    for key in (
        "engine_no_history",
        "engine_warm_history",
        "engine_all_5_years",
        "cache_lookup",
        "cold_load_and_compile",
    ):
        t = figures[key]
        rounds = t.get("p99_rounds_us")
        each = f"   {' '.join(f'{v:.0f}' for v in rounds)} → median {t['p99_median_round_us']:.1f}" if rounds else ""
        print(f"{key:<34}{t['p50_us']:>10.1f}{t['p90_us']:>10.1f}{t['p99_us']:>10.1f}{t['mean_us']:>10.1f}{each}")
    a = figures["alerts"]
    print(f"alerts: {a['no_history']} without history, {a['warm_history']} with; engine p99 target "
          f"{figures['target_p99_us']:.0f} µs")  # fmt: skip
    print(json.dumps({"history_bench": figures}, ensure_ascii=False))


def main(argv: list[str] | None = None) -> None:
    """Run and print."""
    parser = argparse.ArgumentParser(prog="python -m bench.history", description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20_000)
    parser.add_argument("--warmup", type=int, default=2_000)
    args = parser.parse_args(argv)
    tune_runtime()  # the collector thresholds `fundguard serve` runs with
    print_figures(measure(args.iterations, args.warmup))


if __name__ == "__main__":
    main()
