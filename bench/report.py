"""`python -m bench.report [RESULTS_JSON] [--readme]`: the "last figures" of bench/README.md, as markdown.

Prints, from a results document (default bench/results/latest.json): when and where it ran, each target beside
its figure, then the figures themselves (engine, gRPC vs echo, throughput per concurrency level, KB reload, trace
lookup, uplink, history, RSS). With `--readme` the text replaces what stands between the `<!-- last-figures -->`
and `<!-- /last-figures -->` markers of bench/README.md instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .results import REPO, RESULTS

__all__ = ["BEGIN", "END", "main", "markdown", "replace_section"]

BEGIN, END = "<!-- last-figures -->", "<!-- /last-figures -->"
README = REPO / "bench" / "README.md"


def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and value >= 100:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def _targets(doc: dict[str, Any]) -> Iterator[str]:
    yield "| target | figure | bound | holds |"
    yield "|---|---:|---:|:---:|"
    for t in doc["targets"]:
        met = {True: "yes", False: "**no**", None: "not run"}[t["met"]]
        at = ", ".join(f"{what} {value:,.0f}" for what, value in t.get("at", {}).items())
        name = f"{t['name']} ({at})" if at else t["name"]
        yield f"| {name} [{t['source']}] | {_num(t['value'], 2)} {t['unit']} | {t['op']} {t['target']:g} | {met} |"


def _latency_rows(label: str, t: dict[str, Any] | None) -> Iterator[str]:
    if t:
        yield f"| {label} | {_num(t['p50_us'])} | {_num(t['p99_us'])} | {_num(t.get('p999_us'))} | {t['n']:,} |"


def _latencies(f: dict[str, Any]) -> Iterator[str]:
    yield "| latency (µs) | p50 | p99 | p99.9 | n |"
    yield "|---|---:|---:|---:|---:|"
    synthetic = f"{f.get('kb_reload', {}).get('points', 0):,}-point KB"
    for where, node in (("embedded KB", f.get("engine", {})), (synthetic, f.get("kb_reload", {}).get("engine", {}))):
        for key in ("10_lines", "50_lines", "200_lines"):
            yield from _latency_rows(f"engine, {key.replace('_', ' ')}, {where}", node.get(key))
    grpc = f.get("grpc", {})
    for mode in ("subprocess", "in_process"):
        if mode in grpc:
            yield from _latency_rows(f"gRPC Check, servers {mode}", grpc[mode]["check"])
            yield from _latency_rows(f"bare echo, servers {mode}", grpc[mode]["echo"])
    load = f.get("kb_reload", {}).get("under_load", {})
    yield from _latency_rows(f"engine 10 lines, {synthetic}, no reload", load.get("steady"))
    yield from _latency_rows(f"engine 10 lines, {synthetic}, during a reload", load.get("during_reload"))
    history = f.get("history", {})
    for key in ("engine_no_history", "engine_warm_history", "engine_all_5_years"):
        yield from _latency_rows(f"history bench: {key}", history.get(key))
    trace = f.get("trace", {})
    yield from _latency_rows("trace lookup, 1 code (facts_for)", trace.get("facts_for, 1 code (the ledger's mix)"))


def _throughput(f: dict[str, Any]) -> Iterator[str]:
    servers = f.get("throughput", {}).get("servers", [])
    if not servers:
        return
    levels = [lv["in_flight"] for lv in servers[0]["levels"]]
    yield "| throughput: per s / p99 µs | " + " | ".join(f"{n} in flight" for n in levels) + " | RSS MiB |"
    yield "|---|" + "---:|" * (len(levels) + 1)
    for s in servers:
        cells = [f"{_num(lv['per_s'])} / {_num(lv['p99_us'])}" + (f" ({lv['errors']} err)" if lv["errors"] else "")
                 for lv in s["levels"]]  # fmt: skip
        yield f"| {s['name']} | " + " | ".join(cells) + f" | {_num(s.get('rss_mib'))} |"


def _others(f: dict[str, Any]) -> Iterator[str]:
    grpc = f.get("grpc", {})
    if "ratio_p50" in grpc:
        yield (f"- gRPC Check / echo ({grpc.get('headline')}): p50 {grpc['ratio_p50']}×, p99 {grpc['ratio_p99']}×, "
               f"p99.9 {grpc.get('ratio_p999', '—')}×")  # fmt: skip
    tp = f.get("throughput", {})
    if "grpc_winner" in tp:
        yield f"- gRPC server at 16 in flight: {tp['grpc_winner']} wins ({tp.get('grpc_winner_why', '')})"
    kb = f.get("kb_reload", {})
    if kb:
        full, delta = kb.get("agent_reload_full", {}), kb.get("agent_reload_delta", {})
        yield (f"- KB {kb['points']:,} points: cold activation {_num(kb['activate_ms'])} ms; reload (full bundle) "
               f"{_num(full.get('to_swap_ms'))} ms to swap, delta {_num(delta.get('to_swap_ms'))} ms; RSS after "
               f"activation {_num(kb['rss_after_mib'])} MiB")  # fmt: skip
    trace = f.get("trace", {})
    if trace:
        yield (f"- trace ledger {trace['codes']:,} codes ({_num(trace.get('ledger_mib'))} MiB), KB "
               f"{trace.get('kb_points', '—')} points: process RSS {_num(trace.get('rss_mib'))} MiB "
               f"(peak {_num(trace.get('peak_rss_mib'))} MiB)")  # fmt: skip
    up = f.get("uplink", {})
    if up:
        yield (f"- uplink: {up['events']:,} events drained at {_num(up['upload_events_per_s'])} events/s; record "
               f"p99 {_num(up['record']['p99_us'])} µs")  # fmt: skip
    rss = f.get("rss_mib", {})
    if rss:
        yield "- RSS (MiB): " + ", ".join(f"{k} {_num(v)}" for k, v in rss.items())


def markdown(doc: dict[str, Any]) -> str:
    """The report of one results document."""
    m = doc.get("machine", {})
    head = (f"Run {doc['started_at']} (commit {(doc.get('git_commit') or 'unknown')[:10]}), {m.get('cpus')} CPUs "
            f"({m.get('cpu_model')}), load average at start {m.get('load_avg_at_start')}, Python {m.get('python')}."
            )  # fmt: skip
    parts = [head + (f" {doc['note']}" if doc.get("note") else ""), "", *_targets(doc), "", *_latencies(doc["figures"])]
    tp = list(_throughput(doc["figures"]))
    if tp:
        parts += ["", *tp]
    parts += ["", *_others(doc["figures"])]
    return "\n".join(parts) + "\n"


def replace_section(text: str, body: str) -> str:
    """`text` with what stands between BEGIN and END replaced by `body` (ValueError when a marker is missing)."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"markers {BEGIN} … {END} not found")
    return text[: start + len(BEGIN)] + "\n" + body + text[end:]


def main(argv: list[str] | None = None) -> int:
    """Print the report (or write it into bench/README.md with --readme)."""
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", type=Path, default=RESULTS / "latest.json")
    parser.add_argument("--readme", action="store_true", help="replace the last-figures section of bench/README.md")
    args = parser.parse_args(argv)
    text = markdown(json.loads(args.results.read_text(encoding="utf-8")))
    if args.readme:
        README.write_text(replace_section(README.read_text(encoding="utf-8"), text), encoding="utf-8")
        print(f"wrote the last figures into {README}")
    else:
        print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
