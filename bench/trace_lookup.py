"""`python -m bench.trace_lookup DIR [--codes N] [--kb BUNDLE]`: trace-ledger lookup latency and RSS at 10M codes.
Never asserts.

1. Builds (in a child process, so its memory does not count) or reuses `DIR/trace.sqlite3` with N generated
   inbound codes over 3000 products (`DIR/trace_lookup.json` remembers what was built).
2. In this process, as the agent has it: the default KB (or the bundle file `--kb`, e.g. the 100k-point synthetic
   one: issue 11 MS4) compiled, the ledger opened (one connection, 16 MiB page cache), then random codes of the
   ledger looked up:
   - `facts_for` of a one-code request (parse + one indexed statement), domestic and GS1 codes, and domestic
     codes never received (same product, another serial);
   - the bare statement per code (`_FACTS_SQL`, prepared once);
   - a ten-code request, per code.
3. Prints p50/p99 (µs), the ledger size, and the process RSS now and at peak; then one JSON line.
The OS page cache is whatever it is (the file was just built or read); nothing is dropped.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sqlite3
import subprocess
import sys
import time
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from fundguard.agent.engine import build_index
from fundguard.agent.engine.model import CheckRequest, Encounter, OrderLine, Patient
from fundguard.agent.engine.trace_model import TracePolicy
from fundguard.agent.trace.codes import TraceCode, parse_code
from fundguard.agent.trace.generate import DEFAULT_PRODUCTS, DEFAULT_SEED, generate_products, load_ledger, scan_form
from fundguard.agent.trace.ledger import _FACTS_SQL, TraceLedger
from fundguard.agent.trace.stock import InboundRecord
from fundguard.knowledge_base import default_bundle_path

from .stats import Timing, peak_rss_mib, summarize

LEDGER = "trace.sqlite3"
MARKER = "trace_lookup.json"
SAMPLES = 20_000
PATIENT = Patient("bench-patient", "1", date(1970, 1, 1))


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def build(directory: Path, codes: int) -> None:
    """Generate the ledger (run in a child process)."""
    started = time.perf_counter()
    last = [0.0]

    def progress(done: int) -> None:
        if time.perf_counter() - last[0] > 10:
            last[0] = time.perf_counter()
            print(f"  {done:>10,} codes  {time.perf_counter() - started:6.0f} s", file=sys.stderr)

    with TraceLedger(directory / LEDGER) as ledger:
        added = load_ledger(ledger, codes, datetime(2025, 7, 1), progress=progress)
    seconds = time.perf_counter() - started
    marker = {"codes": codes, "seed": DEFAULT_SEED, "products": DEFAULT_PRODUCTS, "build_s": round(seconds, 1)}
    (directory / MARKER).write_text(json.dumps(marker))
    print(f"built {added:,} codes in {seconds:.0f} s (peak RSS of the builder {peak_rss_mib():.0f} MiB)")


def _ensure(directory: Path, codes: int) -> dict[str, Any]:
    marker = directory / MARKER
    if marker.is_file() and (directory / LEDGER).is_file():
        known: dict[str, Any] = json.loads(marker.read_text())
        if known.get("codes") == codes and known.get("seed") == DEFAULT_SEED:
            return known
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "bench.trace_lookup", str(directory), "--codes", str(codes), "--build-only"], check=True
    )
    built: dict[str, Any] = json.loads(marker.read_text())
    return built


def _sample_codes(db: sqlite3.Connection, n: int) -> list[str]:
    """`n` random codes of the ledger: the first key at or after a random point of a random product."""
    rng = random.Random(7)
    products = [g.product.product_key for g in generate_products(DEFAULT_PRODUCTS, DEFAULT_SEED)]
    out: list[str] = []
    while len(out) < n:
        key = rng.choice(products)
        point = f"{key}{rng.randrange(10**13):013d}" if len(key) == 7 else f"01{key}21{rng.randrange(10**10):010d}"
        row = db.execute("SELECT key, batch, expiry FROM inbound WHERE key >= ? LIMIT 1", (point,)).fetchone()
        if row is None:
            continue
        k, batch, expiry = row
        # a GS1 box as the scanner reads it (the form it was received in: the ledger remembers that scan)
        day = date.fromisoformat(expiry) if expiry else None
        out.append(k if len(k) == 20 else scan_form(InboundRecord(k, k[2:16], batch, day)))
    return out


def _key(scan: str) -> str:
    """The ledger key of a GS1 scan (parsed outside the timed loop)."""
    parsed = parse_code(scan)
    assert isinstance(parsed, TraceCode), scan
    return parsed.key


def _request(codes: list[str]) -> CheckRequest:
    lines = tuple(
        OrderLine(f"rx{n}", "XA11DAW036A001010104127", Decimal(1), drug_trac_codg=(c,)) for n, c in enumerate(codes)
    )
    return CheckRequest("3", PATIENT, Encounter("bench-encounter", orders=lines))


def _time_each(calls: list[Any], fn: Any, per: int = 1) -> Timing:
    clock = time.perf_counter_ns
    samples = []
    for arg in calls:
        started = clock()
        fn(arg)
        samples.append((clock() - started) // per)
    return summarize(samples)


def main(argv: list[str] | None = None) -> int:
    """Build or reuse the ledger, time lookups, print the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.trace_lookup")
    parser.add_argument("dir", type=Path)
    parser.add_argument("--codes", type=int, default=10_000_000)
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--kb", type=Path, default=None, help="bundle file to hold compiled (default: embedded KB)")
    args = parser.parse_args(argv)
    if args.build_only:
        build(args.dir, args.codes)
        return 0
    built = _ensure(args.dir, args.codes)
    bundle = json.loads((args.kb or default_bundle_path()).read_text(encoding="utf-8"))
    kb = build_index(bundle)  # held: the agent holds it
    kb_points = len(kb.points)
    del bundle
    gc.collect()
    policy = TracePolicy()
    size_mib = sum(p.stat().st_size for p in args.dir.glob(LEDGER + "*")) / 2**20
    with TraceLedger(args.dir / LEDGER) as ledger, ledger._connections.connection() as db:  # facts_for reuses db
        codes = _sample_codes(db, SAMPLES)
        misses = [f"{c[:7]}9{c[8:]}" for c in codes if len(c) == 20 and c[7] != "9"]  # same product, other serial
        for c in codes[:2000]:  # warm the statement cache and the interior pages
            ledger.facts_for(_request([c]), policy)
        rng = random.Random(11)
        rng.shuffle(codes)
        domestic = [_request([c]) for c in codes if len(c) == 20]
        gs1 = [_request([c]) for c in codes if len(c) != 20]
        unknown = [_request([c]) for c in misses]
        keys = [c if len(c) == 20 else _key(c) for c in codes]
        mixed = [_request([c]) for c in codes]  # as received: the ledger's own mix of domestic and GS1 boxes
        tens = [_request(codes[i : i + 10]) for i in range(0, len(codes), 10)]
        gc.collect()
        gc.freeze()  # as the agent after compiling its KB (agent.kb.store)
        rows = {
            "facts_for, 1 code (the ledger's mix)": _time_each(mixed, lambda r: ledger.facts_for(r, policy)),
            "facts_for, 1 domestic code": _time_each(domestic, lambda r: ledger.facts_for(r, policy)),
            "facts_for, 1 GS1 code": _time_each(gs1, lambda r: ledger.facts_for(r, policy)),
            "facts_for, 1 unknown domestic code": _time_each(unknown, lambda r: ledger.facts_for(r, policy)),
            "bare statement per code": _time_each(
                keys, lambda k: db.execute(_FACTS_SQL, (k, k[:7] if len(k) == 20 else k[2:16])).fetchall()
            ),
            "facts_for, 10-code request, per code": _time_each(tens, lambda r: ledger.facts_for(r, policy), per=10),
        }
        rss = _rss_mib()
    del kb
    print(f"ledger: {built['codes']:,} codes, {size_mib:,.0f} MiB on disk (built in {built.get('build_s', '?')} s)")
    print(f"{'lookup':40} {'n':>7} {'p50 µs':>8} {'p99 µs':>8} {'mean µs':>8}")
    for name, t in rows.items():
        print(f"{name:40} {t.n:7} {t.p50:8.1f} {t.p99:8.1f} {t.mean:8.1f}")
    print(
        f"process RSS ({kb_points:,}-point KB compiled + ledger open): {rss:.0f} MiB now, {peak_rss_mib():.0f} MiB peak"
    )
    print(
        json.dumps(
            {
                "codes": built["codes"],
                "kb_points": kb_points,
                "ledger_mib": round(size_mib),
                **{name: t.as_dict() for name, t in rows.items()},
                "rss_mib": round(rss),
                "peak_rss_mib": round(peak_rss_mib()),
            },
            ensure_ascii=False,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
