"""`python -m bench.plot [RESULTS_JSON] [PNG]`: the bench's figures as one PNG (matplotlib, Agg backend).

Four panels, drawn from the results document alone (so the PNG can be redrawn from a kept `latest.json`):
1. engine `check()` latency by percentile: 10 / 50 / 200 lines on the embedded KB and on the 100k-point KB;
2. gRPC Check beside the bare echo with the same payload (each server mode measured), by percentile;
3. throughput (calls/s) against requests in flight, per server; 4. p99 latency against requests in flight.
Percentile axes are "1 in N" (50 % → 2, 99 % → 100, 99.9 % → 1000), log scale, so the tail gets the room.
A panel whose part did not run says so instead of drawing.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter

from .results import RESULTS
from .stats import CURVE

__all__ = ["draw", "main"]

_ONE_IN = [1 / (1 - q) for q in CURVE]
_TICKS = {2: "p50", 10: "p90", 100: "p99", 1000: "p99.9"}
_PLAIN = FuncFormatter(lambda value, _pos: f"{value:,.0f}")  # 1,000 rather than 10^3 on log axes


def _percentiles(ax: Axes, title: str, series: list[tuple[str, dict[str, Any]]], target_us: float | None) -> None:
    drawn = [(label, t) for label, t in series if t.get("curve_us")]
    if not drawn:
        ax.text(0.5, 0.5, "not measured in this run", ha="center", va="center", transform=ax.transAxes)
    for label, t in drawn:
        ax.plot(_ONE_IN, t["curve_us"], marker=".", label=f"{label} (p99 {t['p99_us']:g} µs)")
    if target_us is not None and drawn:
        ax.axhline(target_us, color="grey", linestyle="--", linewidth=0.8, label=f"{target_us:g} µs")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(list(_TICKS), list(_TICKS.values()))
    ax.yaxis.set_major_formatter(_PLAIN)
    ax.set_xlabel("percentile")
    ax.set_ylabel("latency (µs)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    if drawn:
        ax.legend(fontsize=7)


def _engine_series(figures: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    reload = figures.get("kb_reload", {})
    for where, node in (("embedded KB", figures.get("engine", {})),
                        (f"{reload.get('points', 0):,}-point KB", reload.get("engine", {}))):  # fmt: skip
        for key in ("10_lines", "50_lines", "200_lines"):
            if key in node:
                out.append((f"{key.replace('_', ' ')}, {where}", node[key]))
    return out


def _grpc_series(figures: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    grpc = figures.get("grpc", {})
    out = []
    for mode in ("subprocess", "in_process"):
        if mode in grpc:
            out += [(f"Check, {mode}", grpc[mode]["check"]), (f"echo, {mode}", grpc[mode]["echo"])]
    return out


def _throughput(ax_rate: Axes, ax_p99: Axes, figures: dict[str, Any]) -> None:
    servers = figures.get("throughput", {}).get("servers", [])
    for ax, key, label in ((ax_rate, "per_s", "calls answered / s"), (ax_p99, "p99_us", "p99 latency (µs)")):
        if not servers:
            ax.text(0.5, 0.5, "not measured in this run", ha="center", va="center", transform=ax.transAxes)
        for server in servers:
            levels = server["levels"]
            ax.plot([lv["in_flight"] for lv in levels], [lv[key] for lv in levels], marker="o", label=server["name"])
        ax.set_xscale("log", base=2)
        ax.set_xlabel("requests in flight")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
        if servers:
            ax.set_xticks([lv["in_flight"] for lv in servers[0]["levels"]], [
                str(lv["in_flight"]) for lv in servers[0]["levels"]])  # fmt: skip
            ax.legend(fontsize=7)
    ax_p99.set_yscale("log")
    ax_p99.yaxis.set_major_formatter(_PLAIN)
    ax_rate.axhline(2000, color="grey", linestyle="--", linewidth=0.8)
    ax_rate.set_title("throughput against concurrency (target ≥ 2,000/s at 16)")
    ax_p99.set_title("p99 latency against concurrency")


def draw(doc: dict[str, Any], png: Path) -> Path:
    """Draw the four panels of the results document `doc` into `png`; returns the path."""
    figures = doc.get("figures", {})
    fig, axes = plt.subplots(2, 2, figsize=(14, 10))
    _percentiles(axes[0][0], "engine check() latency", _engine_series(figures), 100.0)
    _percentiles(axes[0][1], "gRPC Check vs bare echo (same payload)", _grpc_series(figures), None)
    _throughput(axes[1][0], axes[1][1], figures)
    commit = (doc.get("git_commit") or "unknown")[:10]
    machine = doc.get("machine", {})
    head = (f"fundguard bench — {doc.get('started_at', '?')}, commit {commit}, {machine.get('cpus')} CPUs, load "
            f"average at start {machine.get('load_avg_at_start')}")  # fmt: skip
    fig.suptitle("\n".join([head, *textwrap.wrap(doc.get("note", ""), 160)]))
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=80)
    plt.close(fig)
    return png


def main(argv: list[str] | None = None) -> int:
    """Redraw the PNG from a results JSON (default bench/results/latest.json → latest.png)."""
    args = sys.argv[1:] if argv is None else argv
    source = Path(args[0]) if args else RESULTS / "latest.json"
    png = Path(args[1]) if len(args) > 1 else source.with_suffix(".png")
    print(draw(json.loads(source.read_text(encoding="utf-8")), png))
    return 0


if __name__ == "__main__":
    sys.exit(main())
