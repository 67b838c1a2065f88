"""`python -m bench` (`make bench`): print the engine and gRPC figures as a table, then one JSON line. Never asserts.

1. KB load + compile time, process RSS, and `check()` p50/p99/mean for a 10-line and a 50-line encounter.
2. gRPC Check vs a bare echo service (same pool size, same payload), client-observed, servers in this process and
   in child processes; the subprocess figures are the headline (the HIS is another process, and a client sharing
   the server's GIL slows both sides). Also grpc.aio echo vs thread-pool echo.
3. When Check p50 / echo p50 exceeds the 1.5 target (or with --profile): where the handler's time goes.
4. A 100k-point synthetic KB (`kb_reload`): generate, read + parse + compile aside + swap, RSS, engine p50/p99 on it,
   and check p99 while a second copy compiles and activates in another thread (--no-reload skips it).
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import grpc

from fundguard.agent.log import configure_logging
from fundguard.knowledge_base import default_bundle_path

from . import kb_reload
from .agent_profile import hot_spots, stage_breakdown
from .encounters import SERVICE_DATE, BenchEncounter, build_encounters
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


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20_000, help="engine checks timed, 10 lines")
    parser.add_argument("--iterations-50", type=int, default=5_000, help="engine checks timed, 50 lines")
    parser.add_argument("--warmup", type=int, default=1_000, help="untimed engine checks first")
    parser.add_argument(
        "--paced",
        type=int,
        default=2_000,
        help="engine checks (10 lines) timed with the CPU idle 0.5 ms before each (0: skip)",
    )
    parser.add_argument("--calls", type=int, default=3_000, help="gRPC calls timed per server")
    parser.add_argument("--grpc-warmup", type=int, default=500, help="untimed gRPC calls per server first")
    parser.add_argument("--mode", choices=(*MODES, "both"), default="both", help="where the servers run")
    parser.add_argument("--no-grpc", action="store_true", help="engine figures only")
    parser.add_argument(
        "--profile",
        choices=("auto", "always", "never"),
        default="auto",
        help="profile the agent path (auto: when Check/echo p50 > 1.5)",
    )
    parser.add_argument("--lines", action="store_true", help="list each encounter line and what it exercises")
    parser.add_argument("--no-reload", action="store_true", help="skip the synthetic-KB reload figures")
    parser.add_argument("--kb-points", type=int, default=100_000, help="points in the synthetic KB (reload figures)")
    return parser.parse_args(argv)


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
    if args.lines:
        _print_lines(ten)
        _print_lines(fifty)
    runs: list[EngineRun] = []
    for enc, n in ((ten, args.iterations), (fifty, args.iterations_50)):
        runs.append(bench_engine(kb, enc, n, args.warmup))
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
            **run.timing.as_dict(),
            "lines": run.encounter.lines,
            "current_lines": run.current_lines,
            "alerts": run.alerts,
            "rule_classes": len(run.families),
        }
        for run in runs
    }
    if paced is not None:
        out["engine"]["10_lines_paced"] = {**paced.timing.as_dict(), "pause_ms": PAUSE_S * 1000}
    out["peak_rss_mib"] = round(rss, 1)
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
        with _servers(mode, ("aio-echo", "echo"), load) as srv:
            aio = compare_echoes(srv["aio-echo"], srv["echo"], payload, args.calls, args.grpc_warmup)
        results[mode], echoes[mode] = cmp, aio
        _header(f"servers {mode}")
        print(_row(f"Check ({len(response.alerts)} alerts, {len(response.SerializeToString())} B back)", cmp.a))
        print(_row("echo, thread pool (same bytes back)", cmp.b))
        print(
            f"  {'ratio Check/echo':<40} {cmp.ratio_p50:>9.2f} {cmp.ratio_p99:>9.2f}   (target p50 <= {RATIO_TARGET})"
        )
        print(f"  {'Check - echo (agent work per call)':<40} {cmp.a.p50 - cmp.b.p50:>9.1f}")
        print(f"  {'engine_micros reported by the agent':<40} {engine_us:>9.1f}")
        print(_row("echo, grpc.aio", aio.a))
        print(_row("echo, thread pool", aio.b))
        print(f"  {'ratio aio/thread pool':<40} {aio.ratio_p50:>9.2f} {aio.ratio_p99:>9.2f}")
        out["grpc"][mode.replace("-", "_")] = {
            "check": cmp.a.as_dict(),
            "echo": cmp.b.as_dict(),
            "ratio_p50": round(cmp.ratio_p50, 3),
            "ratio_p99": round(cmp.ratio_p99, 3),
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


def main(argv: list[str] | None = None) -> int:
    """Run the bench; prints the figures and returns 0."""
    args = _args(argv)
    configure_logging(agent_settings().log)  # as the agent does (info: the per-check debug line is filtered)
    out: dict[str, Any] = {"python": platform.python_version(), "grpcio": grpc.__version__}
    load, ten = _engine(args, out)
    headline = None if args.no_grpc else _grpc(args, load, ten, out)
    over = headline is not None and headline.ratio_p50 > RATIO_TARGET
    if args.profile == "always" or (args.profile == "auto" and over):
        if over:
            print(f"\nCheck/echo p50 is above {RATIO_TARGET}: profiling the agent path")
        _profile(load, ten, out)
    if not args.no_reload:  # last: its 100k-point KB would weigh on every figure measured after it
        figures = kb_reload.measure(
            args.kb_points, iterations=args.iterations, iterations_50=args.iterations_50, warmup=args.warmup
        )
        out["kb_reload"] = kb_reload.print_figures(figures)
    print("\n" + json.dumps({"bench": "fundguard", **out}, ensure_ascii=False, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
