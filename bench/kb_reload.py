"""KB reload figures on a 100k-point synthetic bundle (issue 7 must-show 6, issue 11 MS1): printed, never asserted.

1. Generate the bundle (`synthetic_kb`), write it to a temporary file as the importer would.
2. Activate it step by step (read + parse the file, `build_index` — the compile aside —, `KbStore.activate` — the
   swap) and, as the agent does it, as a signed bundle file through `KbActivator.offer` (verify the signature and
   hashes, parse, compile with the collector paused, persist as last-good, swap); RSS (current, not peak).
3. Engine `check()` p50/p99 for the bench's 10- and 50-line encounters on that KB (`engine_bench`).
4. Reload under load: the 10-line check runs back to back on `store.current` while another thread offers the next
   revision of the bundle (signed) to the activator; p50/p99 of those checks beside the same loop without a reload.

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
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fundguard.agent.config import DEFAULT_CHECK_BUDGET_MS
from fundguard.agent.engine import CompiledKB, build_index, check
from fundguard.agent.intake import parse_request
from fundguard.agent.kb.activation import KbActivator
from fundguard.agent.kb.store import KbStore, read_bundle
from fundguard.knowledge_base.bundle import build_full, sign
from fundguard.knowledge_base.importer import bundle_bytes, write_bundle

from .encounters import SERVICE_DATE, BenchEncounter, build_encounters
from .engine_bench import EngineRun, bench_engine
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
    agent_activate_ms: float  # KbActivator.offer of the signed bundle file: what the agent pays
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


def _signed_revisions(path: Path) -> tuple[dict[str, Ed25519PublicKey], bytes, bytes]:
    """A bench signing key, and the bundle at `path` signed at revision +1 and +2 (both newer than the one active)."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    doc = read_bundle(path)
    out = []
    for _ in range(2):
        doc["revision"] = int(doc["revision"]) + 1
        out.append(sign(build_full(bundle_bytes(doc)), pem, "bench"))
    return {"bench": key.public_key()}, out[0], out[1]


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
        on_old=on_old,
        on_new=len(seen) - on_old,
        failed=failed,
        over_1ms=sum(1 for ns in during if ns > 1_000_000),
        over_budget=sum(1 for ns in during if ns > budget_ns),
    )


def measure(
    points: int = 100_000, *, seed: int = 0, iterations: int = 20_000, iterations_50: int = 5_000, warmup: int = 1_000
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
        trusted, first, second = _signed_revisions(path)
        gc.collect()
        activator = KbActivator(store, trusted, Path(tmp) / "state")
        t5 = time.perf_counter_ns()
        activator.offer(first, "bench")
        agent_ms = _ms(t5, time.perf_counter_ns())
        kb = store.current
        gc.collect()
        ten, fifty = build_encounters(kb)
        engine = tuple(bench_engine(kb, enc, n, warmup) for enc, n in ((ten, iterations), (fifty, iterations_50)))
        under_load = _under_load(activator, store, second, ten, iterations)
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
        agent_activate_ms=agent_ms,
        rss_before_mib=rss_before,
        rss_after_mib=rss_after,
        engine=engine,
        under_load=under_load,
    )


def _row(label: str, t: Timing) -> str:
    return f"  {label:<40} {t.p50:>9.1f} {t.p99:>9.1f} {t.mean:>9.1f} {t.n:>8}"


def print_figures(f: ReloadFigures) -> dict[str, object]:
    """Print the figures as the bench's table rows; returns them as a JSON-ready dict."""
    print(f"\nsynthetic KB (bench.synthetic_kb, seed {f.seed}): {f.points:,} points, {f.codes:,} codes")
    print(f"  generated in {f.generate_ms:.0f} ms; bundle file {f.file_mib:.1f} MiB")
    print(
        f"  activate: read+parse {f.read_parse_ms:.0f} ms + compile aside {f.compile_ms:.0f} ms + swap "
        f"(KbStore.activate) {f.swap_ms:.0f} ms = {f.activate_ms:.0f} ms (target <= {ACTIVATE_TARGET_MS:.0f})"
    )
    print(f"  compile with the cyclic GC paused: {f.compile_gc_paused_ms:.0f} ms (informative)")
    print(
        f"  activate as the agent does (KbActivator.offer of the signed file: verify, parse, compile, persist, swap): "
        f"{f.agent_activate_ms:.0f} ms (target <= {ACTIVATE_TARGET_MS:.0f})"
    )
    print(f"  RSS before {f.rss_before_mib:.0f} MiB, after activation {f.rss_after_mib:.0f} MiB")
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
        "agent_activate_ms": round(f.agent_activate_ms, 1),
        "rss_before_mib": round(f.rss_before_mib, 1),
        "rss_after_mib": round(f.rss_after_mib, 1),
        "engine": {
            run.encounter.name.replace(" ", "_"): {**run.timing.as_dict(), "alerts": run.alerts} for run in f.engine
        },
        "under_load": {
            "steady": u.steady.as_dict(),
            "during_reload": u.during.as_dict(),
            "reload_ms": round(u.reload_ms, 1),
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
    parser.add_argument("--warmup", type=int, default=1_000, help="untimed engine checks first")
    args = parser.parse_args(argv)
    figures = measure(
        args.points, seed=args.seed, iterations=args.iterations, iterations_50=args.iterations_50, warmup=args.warmup
    )
    out = print_figures(figures)
    print("\n" + json.dumps({"bench": "kb_reload", **out}, ensure_ascii=False, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
