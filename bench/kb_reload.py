"""KB reload figures on a 100k-point synthetic bundle (issue 7 must-show 6, issue 11 MS1): printed, never asserted.

1. Generate the bundle (`synthetic_kb`), write it to a temporary file as the importer would.
2. Cold activation (nothing to reuse: at start-up, or the first bundle): read + parse the file, `build_index`, swap;
   and as the agent does it, a signed bundle file through `KbActivator.offer` on an empty store (verify: unzip,
   signature, hashes, parse; compile aside while the last-good file is written; put it in place; swap); RSS.
3. Reload: the next revision (`kb_revisions`: ~10 % of the points changed, 1 % withdrawn, 1 % added, as the 2026-01
   revision did) offered as a signed full bundle, then the one after as a signed delta; the time to the swap is
   the activation (checks run on the new KB from then on); the last-good file is in place before it.
4. Engine `check()` p50/p99 for the bench's 10-, 50- and 200-line encounters on that KB (`engine_bench`).
5. Reload under load: the 10-line check runs back to back on `store.current` while another thread offers a further
   revision (full, signed); p50/p99 of those checks beside the same loop without a reload.

`python -m bench.kb_reload [--points N]` runs it alone; `python -m bench` runs it last (`--no-reload` skips it).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from fundguard.agent.app import tune_runtime
from fundguard.agent.config import DEFAULT_CHECK_BUDGET_MS
from fundguard.agent.engine import CompiledKB, build_index, check
from fundguard.agent.intake import parse_request
from fundguard.agent.kb.activation import ActivationTimes, KbActivator
from fundguard.agent.kb.store import KbStore, read_bundle
from fundguard.knowledge_base.importer import write_bundle

from .encounters import SERVICE_DATE, BenchEncounter, build_encounters, build_long_encounter
from .engine_bench import EngineRun, bench_engine
from .kb_revisions import CHANGED, signed_revisions
from .stats import Timing, summarize
from .synthetic_kb import synthetic_bundle

__all__ = ["ReloadFigures", "UnderLoad", "current_rss_mib", "measure", "print_figures"]

ACTIVATE_TARGET_MS = 1000.0  # issue 7 must-show 6
P99_TARGET_US = {"10 lines": 100.0, "50 lines": 1000.0}  # issue 11 MS1, on the 100k-point KB


def current_rss_mib() -> float:
    """Resident set size of this process now (Linux /proc/self/statm), in MiB; 0.0 where unavailable."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _ms(started: int, ended: int) -> float:
    return (ended - started) / 1e6


@dataclass(frozen=True, slots=True)
class UnderLoad:
    """The check loop while a second copy compiled and activated, beside the same loop with no reload."""

    steady: Timing
    during: Timing
    reload_ms: float  # KbActivator.offer of the next revision, in its thread, under the check load
    times: ActivationTimes  # ... where its time went (verify, compile, waiting for the last-good save)
    on_old: int  # checks that ran on the KB active before the swap
    on_new: int  # ... and on the one swapped in
    failed: int  # checks that raised (should be none)
    over_1ms: int  # checks during the reload that took more than 1 ms
    over_budget: int  # ... more than the agent's default check budget (CHECK_UNAVAILABLE on the wire)


@dataclass(frozen=True, slots=True)
class ReloadFigures:
    """Everything `measure` found (times in ms, RSS in MiB)."""

    points: int
    codes: int
    seed: int
    generate_ms: float
    file_mib: float
    read_parse_ms: float
    compile_ms: float
    compile_gc_paused_ms: float  # the same compile with the cyclic GC paused (informative)
    swap_ms: float
    agent_cold: ActivationTimes  # KbActivator.offer of the signed bundle file on an empty store
    agent_full: ActivationTimes  # ... of the next revision as a full bundle, over the running one
    agent_delta: ActivationTimes  # ... of the one after as a delta
    rss_before_mib: float
    rss_after_mib: float
    engine: tuple[EngineRun, ...]
    under_load: UnderLoad

    @property
    def activate_ms(self) -> float:
        """Read + parse + compile + swap: what a hot reload of this bundle costs."""
        return self.read_parse_ms + self.compile_ms + self.swap_ms


def _compile_gc_paused(path: Path) -> float:
    doc = read_bundle(path)
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter_ns()
        build_index(doc)
        return _ms(started, time.perf_counter_ns())
    finally:
        gc.enable()


def _under_load(
    activator: KbActivator, store: KbStore, signed: bytes, encounter: BenchEncounter, steady_n: int
) -> UnderLoad:
    parsed = parse_request(encounter.request)
    request, day = parsed.request, parsed.service_date or SERVICE_DATE
    clock = time.perf_counter_ns
    old = store.current
    steady: list[int] = []
    for _ in range(steady_n):
        kb = store.current
        started = clock()
        check(request, kb, day, "bench")
        steady.append(clock() - started)

    done = threading.Event()
    stamps: list[int] = []

    def reload() -> None:
        try:
            stamps.append(clock())
            activator.offer(signed, "bench (next revision)")
            stamps.append(clock())
        finally:
            done.set()

    during: list[int] = []
    seen: list[CompiledKB] = []
    failed = 0
    worker = threading.Thread(target=reload, name="kb-reload", daemon=True)
    worker.start()
    while not done.is_set():
        kb = store.current
        started = clock()
        try:
            check(request, kb, day, "bench")
        except Exception:  # counted: a failed check is the figure, not a crash
            failed += 1
        during.append(clock() - started)
        seen.append(kb)
    worker.join()
    on_old = sum(1 for kb in seen if kb is old)
    budget_ns = DEFAULT_CHECK_BUDGET_MS * 1_000_000
    return UnderLoad(
        steady=summarize(steady),
        during=summarize(during),
        reload_ms=_ms(stamps[0], stamps[1]),
        times=activator.last_times,
        on_old=on_old,
        on_new=len(seen) - on_old,
        failed=failed,
        over_1ms=sum(1 for ns in during if ns > 1_000_000),
        over_budget=sum(1 for ns in during if ns > budget_ns),
    )


def measure(
    points: int = 100_000,
    *,
    seed: int = 0,
    iterations: int = 20_000,
    iterations_50: int = 5_000,
    iterations_200: int = 1_000,
    warmup: int = 1_000,
) -> ReloadFigures:
    """Generate, activate and exercise a `points`-point synthetic KB; see the module docstring."""
    started = time.perf_counter_ns()
    bundle = synthetic_bundle(points, seed)
    generate_ms = _ms(started, time.perf_counter_ns())
    with tempfile.TemporaryDirectory(prefix="fundguard-kb-reload-") as tmp:
        path = Path(tmp) / "synthetic.bundle.json"
        write_bundle(bundle, path)
        del bundle
        gc.collect()
        rss_before = current_rss_mib()
        t0 = time.perf_counter_ns()
        doc = read_bundle(path)
        t1 = time.perf_counter_ns()
        kb = build_index(doc)
        t2 = time.perf_counter_ns()
        del doc
        store = KbStore()
        t3 = time.perf_counter_ns()
        store.activate(kb, str(path))
        t4 = time.perf_counter_ns()
        rss_after = current_rss_mib()
        gc_paused = _compile_gc_paused(path)
        del kb
        gc.collect()
        revisions = signed_revisions(read_bundle(path), 4)
        store = KbStore()
        activator = KbActivator(store, revisions.trusted, Path(tmp) / "state")
        activator.offer(revisions.base, "bench (cold)")
        agent_cold = activator.last_times
        activator.offer(revisions.full[0], "bench (next revision, full)")
        agent_full = activator.last_times
        activator.offer(revisions.full[1], "bench (the one after, full)")
        kb = store.current
        gc.collect()
        ten, fifty = build_encounters(kb)
        sizes = ((ten, iterations), (fifty, iterations_50), (build_long_encounter(kb), iterations_200))
        engine = tuple(bench_engine(kb, enc, n, min(warmup, n)) for enc, n in sizes)
        under_load = _under_load(activator, store, revisions.full[2], ten, iterations)
        activator.offer(revisions.delta, "bench (delta)")
        agent_delta = activator.last_times
        file_mib = path.stat().st_size / 2**20
    return ReloadFigures(
        points=len(kb.points),
        codes=kb.code_count,
        seed=seed,
        generate_ms=generate_ms,
        file_mib=file_mib,
        read_parse_ms=_ms(t0, t1),
        compile_ms=_ms(t1, t2),
        compile_gc_paused_ms=gc_paused,
        swap_ms=_ms(t3, t4),
        agent_cold=agent_cold,
        agent_full=agent_full,
        agent_delta=agent_delta,
        rss_before_mib=rss_before,
        rss_after_mib=rss_after,
        engine=engine,
        under_load=under_load,
    )


def _row(label: str, t: Timing) -> str:
    return f"  {label:<40} {t.p50:>9.1f} {t.p99:>9.1f} {t.mean:>9.1f} {t.n:>8}"


def _times(t: ActivationTimes) -> dict[str, float]:
    """An activation's times (ms) with the offer-to-swap total."""
    return {**asdict(t), "to_swap_ms": round(t.to_swap_ms, 1)}


def print_figures(f: ReloadFigures) -> dict[str, object]:
    """Print the figures as the bench's table rows; returns them as a JSON-ready dict."""
    print(f"\nsynthetic KB (bench.synthetic_kb, seed {f.seed}): {f.points:,} points, {f.codes:,} codes")
    print(f"  generated in {f.generate_ms:.0f} ms; bundle file {f.file_mib:.1f} MiB")
    print(
        f"  cold (nothing to reuse): read+parse {f.read_parse_ms:.0f} ms + compile aside {f.compile_ms:.0f} ms + swap "
        f"(KbStore.activate) {f.swap_ms:.0f} ms = {f.activate_ms:.0f} ms"
    )
    print(f"  compile with the cyclic GC paused: {f.compile_gc_paused_ms:.0f} ms (informative)")
    print(f"  RSS before {f.rss_before_mib:.0f} MiB, after activation {f.rss_after_mib:.0f} MiB")
    print(
        "\nKbActivator.offer of a signed bundle file (ms): verify = unzip + signature + hashes + parse; the swap "
        f"ends the activation (target <= {ACTIVATE_TARGET_MS:.0f}); save = waiting for the last-good file written "
        "during the compile"
    )
    print(f"  {'':<44} {'verify':>8} {'compile':>8} {'save':>8} {'to swap':>8}")
    share = f"{CHANGED:.0%} of the points changed, 1% withdrawn, 1% added"
    rows = (
        ("cold: first bundle, empty store", f.agent_cold),
        (f"reload, next revision as full bundle ({share})", f.agent_full),
        ("reload under check load (full bundle)", f.under_load.times),
        ("reload, next revision as a delta", f.agent_delta),
    )
    for label, t in rows:
        print(f"  {label:<44} {t.verify_ms:>8.0f} {t.compile_ms:>8.0f} {t.persist_ms:>8.0f} {t.to_swap_ms:>8.0f}")
    print(f"\nengine check() on the {f.points:,}-point KB")
    print(f"  {'':<40} {'p50 µs':>9} {'p99 µs':>9} {'mean µs':>9} {'n':>8}")
    for run in f.engine:
        target = P99_TARGET_US.get(run.encounter.name)
        print(_row(f"{run.encounter.name} ({run.current_lines} current, {run.alerts} alerts)", run.timing))
        if target is not None:
            print(f"  {'':<40} {'':>9} {'<=' + format(target, 'g'):>9}   p99 target")
    u = f.under_load
    print("\ncheck() (10 lines) back to back while a second copy is read, compiled and activated in another thread")
    print(_row("no reload", u.steady))
    print(_row("during the reload", u.during))
    print(
        f"  reload under load (KbActivator.offer, next revision) {u.reload_ms:.0f} ms; "
        f"checks on the old KB {u.on_old}, on the new {u.on_new}, failed {u.failed}"
    )
    print(
        f"  during the reload: max {u.during.max / 1000:.1f} ms; {u.over_1ms} checks over 1 ms, {u.over_budget} over "
        f"the {DEFAULT_CHECK_BUDGET_MS} ms check budget"
    )
    return {
        "points": f.points,
        "codes": f.codes,
        "seed": f.seed,
        "generate_ms": round(f.generate_ms, 1),
        "file_mib": round(f.file_mib, 1),
        "read_parse_ms": round(f.read_parse_ms, 1),
        "compile_ms": round(f.compile_ms, 1),
        "compile_gc_paused_ms": round(f.compile_gc_paused_ms, 1),
        "swap_ms": round(f.swap_ms, 1),
        "activate_ms": round(f.activate_ms, 1),
        "agent_cold": _times(f.agent_cold),
        "agent_reload_full": _times(f.agent_full),
        "agent_reload_delta": _times(f.agent_delta),
        "rss_before_mib": round(f.rss_before_mib, 1),
        "rss_after_mib": round(f.rss_after_mib, 1),
        "engine": {
            run.encounter.name.replace(" ", "_"): {**run.timing.with_curve(), "alerts": run.alerts} for run in f.engine
        },
        "under_load": {
            "steady": u.steady.as_dict(),
            "during_reload": u.during.as_dict(),
            "reload_ms": round(u.reload_ms, 1),
            "reload_times": _times(u.times),
            "over_1ms": u.over_1ms,
            "over_budget": u.over_budget,
            "budget_ms": DEFAULT_CHECK_BUDGET_MS,
            "checks_on_old": u.on_old,
            "checks_on_new": u.on_new,
            "failed": u.failed,
        },
    }


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.kb_reload`: print the reload figures (and the JSON line)."""
    parser = argparse.ArgumentParser(prog="python -m bench.kb_reload", description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000, help="points in the synthetic KB")
    parser.add_argument("--seed", type=int, default=0, help="generator seed")
    parser.add_argument("--iterations", type=int, default=20_000, help="engine checks timed, 10 lines")
    parser.add_argument("--iterations-50", type=int, default=5_000, help="engine checks timed, 50 lines")
    parser.add_argument("--iterations-200", type=int, default=1_000, help="engine checks timed, 200 lines")
    parser.add_argument("--warmup", type=int, default=1_000, help="untimed engine checks first")
    args = parser.parse_args(argv)
    tune_runtime()  # the collector thresholds `fundguard serve` runs with
    figures = measure(
        args.points,
        seed=args.seed,
        iterations=args.iterations,
        iterations_50=args.iterations_50,
        iterations_200=args.iterations_200,
        warmup=args.warmup,
    )
    out = print_figures(figures)
    print("\n" + json.dumps({"bench": "kb_reload", **out}, ensure_ascii=False, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
