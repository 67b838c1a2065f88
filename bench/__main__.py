"""`python -m bench` (`make bench`): every measurement in one run; prints each table, then writes
`bench/results/latest.json` (figures, targets, machine, commit) and `bench/results/latest.png`. Never asserts.

Parts (`--only` / `--skip` take their names; `--quick` shrinks every size for a smoke run):
1. `engine`: KB load + compile time, process RSS, `check()` p50/p99/p99.9 for 10-, 50- and 200-line encounters.
2. `grpc`: Check vs a bare echo service (same pool size, same payload), client-observed, servers in this process and
   in child processes; the subprocess figures are the headline (the HIS is another process, and a client sharing
   the server's GIL slows both sides). Also grpc.aio echo vs thread-pool echo.
3. `profile`: when Check p50 / echo p50 exceeds the 1.5 target (or with --profile always): where the handler's time
   goes.
4. `throughput`: 1, 4, 16, 64 in flight against the agent's grpc.aio server, a thread-pool variant, an echo floor,
   the national JSON gateway and MLLP (`throughput`), with each server's RSS.
5. `history`, `uplink`, `trace`: the 5-year history check, the outbox drain rate, trace-code lookup on a cached
   10M-code ledger with the 100k-point KB held (RSS of that process) (`steps`).
6. `reload`: a 100k-point synthetic KB (`kb_reload`): generate, read + parse + compile aside + swap, RSS, engine
   p50/p99 on it (10 / 50 / 200 lines), and check p99 while a second copy compiles and activates in another thread.
   Last: its KB would weigh on every figure measured after it.
"""

from __future__ import annotations

import argparse
import gc
import platform
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc

from fundguard.agent.app import tune_runtime
from fundguard.agent.log import configure_logging
from fundguard.knowledge_base import default_bundle_path

from . import kb_reload, plot, results, steps
from .agent_profile import hot_spots, stage_breakdown
from .encounters import SERVICE_DATE, BenchEncounter, build_encounters, build_long_encounter
from .engine_bench import EngineRun, KbLoad, bench_engine, load_kb
from .grpc_bench import (
    Comparison,
    check_payload,
    compare_check_echo,
    compare_echoes,
    describe_check,
    engine_micros_in_server,
)
from .servers import Running, agent_settings, start_in_process, start_subprocess
from .stats import Timing, peak_rss_mib

RATIO_TARGET = 1.5
PAUSE_S = 0.0005  # idle before each paced engine call: about a gRPC round trip
MODES = ("subprocess", "in-process")
PARTS = ("engine", "grpc", "profile", "throughput", "history", "uplink", "trace", "reload")
# sizes: (full run, --quick); an option given on the command line wins over both
SIZES: dict[str, tuple[Any, Any]] = {
    "iterations": (20_000, 2_000),
    "iterations_50": (5_000, 500),
    "iterations_200": (1_000, 100),
    "warmup": (1_000, 100),
    "paced": (2_000, 200),
    "calls": (3_000, 500),
    "grpc_warmup": (500, 100),
    "mode": ("both", "subprocess"),
    "seconds": (2.0, 0.5),
    "kb_points": (100_000, 20_000),
    "trace_codes": (10_000_000, 100_000),
    "uplink_events": (200_000, 5_000),
    "history_iterations": (20_000, 1_000),
}


def _parts(text: str) -> set[str]:
    names = {n.strip() for n in text.split(",") if n.strip()}
    unknown = names - set(PARTS)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown part(s) {', '.join(sorted(unknown))}; parts: {', '.join(PARTS)}")
    return names


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes everywhere (a smoke run, not figures)")
    parser.add_argument("--only", type=_parts, default=None, help=f"run only these parts (comma-separated: {PARTS})")
    parser.add_argument("--skip", type=_parts, default=set(), help="skip these parts (comma-separated)")
    parser.add_argument("--iterations", type=int, help="engine checks timed, 10 lines (20000)")
    parser.add_argument("--iterations-50", type=int, help="engine checks timed, 50 lines (5000)")
    parser.add_argument("--iterations-200", type=int, help="engine checks timed, 200 lines (1000)")
    parser.add_argument("--warmup", type=int, help="untimed engine checks first (1000)")
    parser.add_argument("--paced", type=int, help="engine checks (10 lines) timed with the CPU idle 0.5 ms before each")
    parser.add_argument("--calls", type=int, help="gRPC calls timed per server (3000)")
    parser.add_argument("--grpc-warmup", type=int, help="untimed gRPC calls per server first (500)")
    parser.add_argument("--mode", choices=(*MODES, "both"), help="where the latency servers run (both)")
    parser.add_argument("--no-grpc", action="store_true", help="same as --skip grpc,profile,throughput")
    parser.add_argument(
        "--profile",
        choices=("auto", "always", "never"),
        default="auto",
        help="profile the agent path (auto: when Check/echo p50 > 1.5)",
    )
    parser.add_argument("--lines", action="store_true", help="list each encounter line and what it exercises")
    parser.add_argument("--no-reload", action="store_true", help="same as --skip reload")
    parser.add_argument("--kb-points", type=int, help="points in the synthetic KB: reload and trace (100000)")
    parser.add_argument("--seconds", type=float, help="throughput: timed seconds per concurrency level (2)")
    parser.add_argument("--levels", type=str, default="1,4,16,64", help="throughput: requests in flight")
    parser.add_argument("--trace-codes", type=int, help="codes in the cached trace ledger (10000000)")
    parser.add_argument("--uplink-events", type=int, help="events filled and drained by the uplink bench (200000)")
    parser.add_argument("--history-iterations", type=int, help="history bench checks per series (20000)")
    parser.add_argument("--cache", type=Path, default=steps.CACHE, help="where built inputs are kept and reused")
    parser.add_argument("--out", type=Path, default=results.RESULTS, help="where latest.json and latest.png go")
    parser.add_argument("--note", default="", help="a note kept in the results (e.g. 'machine shared, loaded')")
    args = parser.parse_args(argv)
    for key, (full, quick) in SIZES.items():
        if getattr(args, key) is None:
            setattr(args, key, quick if args.quick else full)
    chosen = set(PARTS) if args.only is None else set(args.only)
    if args.no_grpc:
        args.skip |= {"grpc", "profile", "throughput"}
    if args.no_reload:
        args.skip.add("reload")
    args.run = chosen - args.skip
    args.levels_n = tuple(int(n) for n in args.levels.split(","))
    return args


def _row(label: str, t: Timing) -> str:
    return f"  {label:<40} {t.p50:>9.1f} {t.p99:>9.1f} {t.mean:>9.1f} {t.n:>8}"


def _header(title: str) -> None:
    print(f"\n{title}")
    print(f"  {'':<40} {'p50 µs':>9} {'p99 µs':>9} {'mean µs':>9} {'n':>8}")


def _print_lines(enc: BenchEncounter) -> None:
    print(f"\n{enc.name}: lines and what they exercise")
    for order in enc.request["encounter"]["orders"]:
        flag = "" if order["curr_drord_flag"] == "1" else " (earlier, curr_drord_flag 0)"
        print(
            f"  {order['rx_id']} {order['hilist_code']:<24} {order['hilist_name'][:16]:<16} "
            f"{enc.purpose[order['rx_id']]}{flag}"
        )


def _engine(args: argparse.Namespace, out: dict[str, Any]) -> tuple[KbLoad, BenchEncounter]:
    load = load_kb(default_bundle_path())
    kb = load.kb
    print(
        f"fundguard bench — Python {platform.python_version()}, grpcio {grpc.__version__}, "
        f"{platform.machine()}, service date {SERVICE_DATE}"
    )
    print(f"KB {load.path.name}: revision {kb.revision}, {len(kb.points)} points, {kb.code_count} codes")
    print(
        f"  load: read+parse {load.read_parse_ms:.0f} ms + compile {load.compile_ms:.0f} ms = "
        f"{load.total_ms:.0f} ms; peak RSS after load {load.rss_after_mib:.0f} MiB"
    )
    ten, fifty = build_encounters(kb)
    long = build_long_encounter(kb)
    if args.lines:
        _print_lines(ten)
        _print_lines(fifty)
    runs: list[EngineRun] = []
    for enc, n in ((ten, args.iterations), (fifty, args.iterations_50), (long, args.iterations_200)):
        runs.append(bench_engine(kb, enc, n, min(args.warmup, n)))
    paced = bench_engine(kb, ten, args.paced, 100, PAUSE_S) if args.paced else None
    _header("engine check() (pure; no parsing, no transport; gc on)")
    for run in runs:
        label = f"{run.encounter.name} ({run.current_lines} current, {run.alerts} alerts)"
        print(_row(label, run.timing))
    if paced is not None:
        print(_row(f"10 lines, CPU idle {PAUSE_S * 1000:g} ms before each call", paced.timing))
    for run in runs:
        print(f"  {run.encounter.name}: {len(run.families)} rule classes alerted: {', '.join(run.families)}")
    rss = peak_rss_mib()
    print(f"  peak RSS {rss:.0f} MiB")
    out["kb"] = {
        "revision": kb.revision,
        "points": len(kb.points),
        "codes": kb.code_count,
        "read_parse_ms": round(load.read_parse_ms, 1),
        "compile_ms": round(load.compile_ms, 1),
        "load_ms": round(load.total_ms, 1),
    }
    out["engine"] = {
        run.encounter.name.replace(" ", "_"): {
            **run.timing.with_curve(),
            "lines": run.encounter.lines,
            "current_lines": run.current_lines,
            "alerts": run.alerts,
            "rule_classes": len(run.families),
        }
        for run in runs
    }
    if paced is not None:
        out["engine"]["10_lines_paced"] = {**paced.timing.as_dict(), "pause_ms": PAUSE_S * 1000}
    out["rss_mib"]["bench process after the engine part (peak)"] = round(rss, 1)
    return load, ten


@contextmanager
def _servers(mode: str, kinds: tuple[str, ...], load: KbLoad) -> Iterator[dict[str, Running]]:
    settings = agent_settings()
    started: dict[str, Running] = {}
    try:
        for kind in kinds:
            started[kind] = (
                start_subprocess(kind) if mode == "subprocess" else start_in_process(kind, settings, load.kb)
            )
        yield started
    finally:
        for running in started.values():
            running.stop()


def _memory(running: Running, out: dict[str, Any], label: str) -> None:
    memory = running.rss()
    if memory is not None:
        out["rss_mib"][label] = round(memory.rss_mib, 1)


def _grpc(args: argparse.Namespace, load: KbLoad, ten: BenchEncounter, out: dict[str, Any]) -> Comparison | None:
    payload = check_payload(ten.request)
    modes = MODES if args.mode == "both" else (args.mode,)
    settings = agent_settings()
    print(
        f"\ngRPC: sequential unary calls on one channel, 127.0.0.1; request = the serialized 10-line "
        f"CheckRequest ({len(payload)} bytes); agent: grpc.aio as `fundguard serve` runs it; echo: thread pool "
        f"max_workers={settings.grpc.max_workers} (and grpc.aio below)"
    )
    results: dict[str, Comparison] = {}
    echoes: dict[str, Comparison] = {}
    out["grpc"] = {"payload_bytes": len(payload), "max_workers": settings.grpc.max_workers}
    for mode in modes:
        gc.collect()
        with _servers(mode, ("agent", "echo"), load) as srv:
            response = describe_check(srv["agent"], payload)
            cmp = compare_check_echo(srv["agent"], srv["echo"], payload, args.calls, warmup=args.grpc_warmup)
            engine_us = engine_micros_in_server(srv["agent"], payload)
            if mode == "subprocess":
                _memory(srv["agent"], out, "agent gRPC server (grpc.aio, default KB)")
                _memory(srv["echo"], out, "bare echo server (thread pool)")
        with _servers(mode, ("aio-echo", "echo"), load) as srv:
            aio = compare_echoes(srv["aio-echo"], srv["echo"], payload, args.calls, args.grpc_warmup)
        results[mode], echoes[mode] = cmp, aio
        _header(f"servers {mode}")
        print(_row(f"Check ({len(response.alerts)} alerts, {len(response.SerializeToString())} B back)", cmp.a))
        print(_row("echo, thread pool (same bytes back)", cmp.b))
        print(
            f"  {'ratio Check/echo':<40} {cmp.ratio_p50:>9.2f} {cmp.ratio_p99:>9.2f}   (target p50 <= {RATIO_TARGET}, "
            f"p99 <= 3); p99.9: Check {cmp.a.p999:.0f} µs, echo {cmp.b.p999:.0f} µs, ratio {cmp.ratio_p999:.2f}"
        )
        print(f"  {'Check - echo (agent work per call)':<40} {cmp.a.p50 - cmp.b.p50:>9.1f}")
        print(f"  {'engine_micros reported by the agent':<40} {engine_us:>9.1f}")
        print(_row("echo, grpc.aio", aio.a))
        print(_row("echo, thread pool", aio.b))
        print(f"  {'ratio aio/thread pool':<40} {aio.ratio_p50:>9.2f} {aio.ratio_p99:>9.2f}")
        out["grpc"][mode.replace("-", "_")] = {
            "check": cmp.a.with_curve(),
            "echo": cmp.b.with_curve(),
            "ratio_p50": round(cmp.ratio_p50, 3),
            "ratio_p99": round(cmp.ratio_p99, 3),
            "ratio_p999": round(cmp.ratio_p999, 3),
            "check_alerts": len(response.alerts),
            "engine_micros_p50_in_server": engine_us,
            "aio_echo": aio.a.as_dict(),
            "pool_echo": aio.b.as_dict(),
            "aio_over_pool_p50": round(aio.ratio_p50, 3),
        }
    headline_mode = "subprocess" if "subprocess" in results else modes[0]
    headline = results[headline_mode]
    why = (
        "client and servers in separate processes, as the HIS is; in-process the client's Python shares the "
        "servers' GIL"
        if headline_mode == "subprocess"
        else "only mode measured"
    )
    print(f"\n  headline: servers {headline_mode} ({why})")
    print(
        f"  Check p50 {headline.a.p50:.0f} µs, echo p50 {headline.b.p50:.0f} µs, ratio p50 "
        f"{headline.ratio_p50:.2f} (target <= {RATIO_TARGET}), ratio p99 {headline.ratio_p99:.2f}"
    )
    out["grpc"]["headline"] = headline_mode
    out["grpc"]["ratio_p50"] = round(headline.ratio_p50, 3)
    out["grpc"]["ratio_p99"] = round(headline.ratio_p99, 3)
    out["grpc"]["ratio_p999"] = round(headline.ratio_p999, 3)
    return headline


def _profile(load: KbLoad, ten: BenchEncounter, out: dict[str, Any]) -> None:
    payload = check_payload(ten.request)
    _header("agent path, stage by stage (hot loop, no network)")
    stages = stage_breakdown(load.kb, payload, 3_000, 300)
    for stage in stages:
        print(_row(stage.name, stage.timing))
    print("\n  cProfile of the whole handler, top functions by own time (µs per Check)")
    print(f"  {'function':<66} {'calls':>6} {'own':>7} {'cum':>7}")
    spots = hot_spots(load.kb, payload, 2_000, 18)
    for spot in spots:
        print(f"  {spot.function[:66]:<66} {spot.calls_per_check:>6.1f} {spot.own_us:>7.1f} {spot.cumulative_us:>7.1f}")
    out["profile"] = {
        "stages_p50_us": {s.name: round(s.timing.p50, 1) for s in stages},
        "top_own_us": {s.function: round(s.own_us, 1) for s in spots[:10]},
    }


def _later_parts(args: argparse.Namespace, ten: BenchEncounter, out: dict[str, Any]) -> None:
    """Throughput, history, uplink and trace (`steps`), then the reload last."""
    if "throughput" in args.run:
        out["throughput"] = steps.run_throughput(ten, args.seconds, args.levels_n)
        for server in out["throughput"]["servers"]:
            out["rss_mib"][f"throughput: {server['name']}"] = server["rss_mib"]
    if "history" in args.run:
        out["history"] = steps.run_history(args.history_iterations, min(2_000, args.history_iterations))
    if "uplink" in args.run:
        out["uplink"] = steps.run_uplink(args.uplink_events)
    if "trace" in args.run:
        out["trace"] = steps.run_trace(args.trace_codes, args.kb_points, args.cache)
        out["rss_mib"][f"trace lookup: {args.kb_points:,}-point KB + {args.trace_codes:,}-code ledger"] = out["trace"][
            "rss_mib"
        ]
    if "reload" in args.run:  # last: its 100k-point KB would weigh on every figure measured after it
        figures = kb_reload.measure(
            args.kb_points,
            iterations=args.iterations,
            iterations_50=args.iterations_50,
            iterations_200=args.iterations_200,
            warmup=args.warmup,
        )
        out["kb_reload"] = kb_reload.print_figures(figures)
        out["rss_mib"][f"bench process after activating the {args.kb_points:,}-point KB"] = out["kb_reload"][
            "rss_after_mib"
        ]


def main(argv: list[str] | None = None) -> int:
    """Run the bench; prints the figures, writes latest.json and latest.png, and returns 0."""
    args = _args(argv)
    started, machine = datetime.now(UTC), results.machine()
    configure_logging(agent_settings().log)  # as the agent does (info: the per-check debug line is filtered)
    tune_runtime()  # and with the collector thresholds `fundguard serve` runs with
    out: dict[str, Any] = {"python": platform.python_version(), "grpcio": grpc.__version__, "rss_mib": {}}
    out["sizes"] = {key: getattr(args, key) for key in SIZES} | {
        "levels": list(args.levels_n),
        "parts": sorted(args.run),
    }
    if "engine" in args.run:
        load, ten = _engine(args, out)
    else:  # the other parts still need the KB and the 10-line encounter, not their timings
        load = load_kb(default_bundle_path())
        ten = build_encounters(load.kb)[0]
    headline = _grpc(args, load, ten, out) if "grpc" in args.run else None
    over = headline is not None and headline.ratio_p50 > RATIO_TARGET
    if "profile" in args.run and (args.profile == "always" or (args.profile == "auto" and over)):
        if over:
            print(f"\nCheck/echo p50 is above {RATIO_TARGET}: profiling the agent path")
        _profile(load, ten, out)
    del load
    _later_parts(args, ten, out)
    note = " ".join(filter(None, ("--quick sizes (smoke run, not figures)." if args.quick else "", args.note)))
    doc = results.write(out, started, machine, args.out / "latest.json", note)
    png = plot.draw(doc, args.out / "latest.png")
    print("\ntargets")
    for t in doc["targets"]:
        held = {True: "holds", False: "MISSED", None: "not run"}[t["met"]]
        value = "—" if t["value"] is None else f"{t['value']:g}"
        at = ", ".join(f"{what} {size:,.0f}" for what, size in t["at"].items())
        print(f"  {t['name']:<56} {value:>10} {t['unit']:<4} {t['op']} {t['target']:<6g} {held:<8} {at}")
    print(f"\nwrote {args.out / 'latest.json'} and {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
