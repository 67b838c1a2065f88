"""`python -m bench.uplink [--events N] [--batch B] [--dir DIR]`: uplink throughput and backlog drain. Never asserts.

1. Fill: N check events (one encounter, two alerts, pseudonymised patient: ~0.6 KB of JSON each, built by
   `events.check_event`) recorded into a fresh outbox, each timed as the check path pays it (`Outbox.record`:
   JSON, bound check, INSERT + commit); a checkpoint every 1000 events, as the uploader's thread does about every
   second. Prints record p50/p99/mean (µs), events/s and the outbox size with N queued.
2. Drain: a fake central in a child process (gRPC on 127.0.0.1, plaintext: gunzip, parse, dedupe by event id,
   ack) — the central platform's own storage is not measured. The uploader's thread drains the backlog (batches
   back to back, a checkpoint about every second). Prints the drain time, events/s, batches/s and the compressed
   vs raw batch size. Then one JSON line.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent import futures
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc

from fundguard.agent.engine import model as m
from fundguard.agent.intake import ParsedRequest
from fundguard.agent.uplink.events import IdentityMode, check_event
from fundguard.agent.uplink.outbox import Outbox
from fundguard.agent.uplink.tls import CHANNEL_OPTIONS
from fundguard.agent.uplink.uploader import Uploader, grpc_send
from fundguard.v1 import central_pb2 as pb
from fundguard.v1 import central_pb2_grpc as pb_grpc

from .stats import Timing, summarize

AGENT = "bench-agent"
HOSPITAL = "H43070200001"
CHECKPOINT_EVERY = 1000
REPO = Path(__file__).resolve().parent.parent  # where `-m bench.uplink` is found


class _Central(pb_grpc.CentralPlatformServicer):
    """Dedupes by event id and acks every id of the batch (ids only are kept)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def Upload(self, request: pb.UploadBatch, context: grpc.ServicerContext) -> pb.UploadAck:
        events = pb.EventList.FromString(gzip.decompress(request.events_gzip)).events
        ids = [e.event_id for e in events]
        new = [i for i in ids if i not in self.seen]
        self.seen.update(new)
        return pb.UploadAck(stored_ids=ids, new_events=len(new), duplicates=len(ids) - len(new))


def serve_central() -> None:
    """Child process: serve the fake central, print the port, stop when stdin closes."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=CHANNEL_OPTIONS)
    pb_grpc.add_CentralPlatformServicer_to_server(_Central(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    sys.stdin.read()
    server.stop(0)


def _payload() -> dict[str, Any]:
    """A check event's payload as the recorder builds it."""
    orders = (m.OrderLine("6374", "XG02BAZ061Z007010279543", Decimal(1), Decimal("1153.00"), Decimal("1153.00"),
                          drord_dr_codg="D430702000002"),
              m.OrderLine("6372", "XA11GAW043A001010201815", Decimal(3), Decimal("0.08"), Decimal("0.24")))  # fmt: skip
    enc = m.Encounter("2001668", med_type="21", dr_codg="D430702000001", orders=orders)
    request = m.CheckRequest("4", m.Patient("1058158", "1", date(1951, 8, 27)), enc, task_id="TASK-20250614-0001")
    alerts = tuple(
        m.Alert(f"J-{rx}-000000000001", "GZ10000301004000", "药品区分性别使用", "药品区分性别使用",
                "KP-e93841e8e9a68cc2", "…", "2", m.WorkflowImpact.REASON_REQUIRED, Decimal("1153.00"), (rx,),
                (m.AlertLine(rx, "1", Decimal("1153.00")),), mdtrt_id="2001668", drord_dr_codg=doctor)
        for rx, doctor in (("6374", "D430702000002"), ("6372", ""))
    )  # fmt: skip
    result = m.CheckResult("4f2a9c0e1b7d3a5e0000000000000001", "2025.06.14-1", date(2025, 6, 14), alerts)
    draft = check_event(ParsedRequest(request, None, "WS-12", "0301"), result, IdentityMode("pseudonymised", b"k"))
    return dict(draft.payload)


@dataclass(frozen=True, slots=True)
class Figures:
    """What the run measured."""

    events: int
    record: Timing
    fill_s: float
    queued_mib: float
    payload_bytes: int
    drain_s: float
    batches: int
    batch_gzip_kib: float
    batch_raw_kib: float

    def as_dict(self) -> dict[str, Any]:
        """Rounded figures for the JSON line."""
        return {
            "events": self.events,
            "record": self.record.as_dict(),
            "record_events_per_s": round(self.events / self.fill_s),
            "queued_mib": round(self.queued_mib, 1),
            "payload_bytes": self.payload_bytes,
            "drain_s": round(self.drain_s, 1),
            "upload_events_per_s": round(self.events / self.drain_s),
            "batches_per_s": round(self.batches / self.drain_s, 1),
            "batch_gzip_kib": round(self.batch_gzip_kib, 1),
            "batch_raw_kib": round(self.batch_raw_kib, 1),
        }


def _vary(payload: dict[str, Any], i: int) -> dict[str, Any]:
    """Event i's payload: its own judgement, alert ids and patient pseudonym (so gzip sees realistic entropy)."""
    out = dict(payload)
    out["judgement_id"] = f"{i:032x}"
    out["patient"] = {"patn_id": hashlib.sha256(i.to_bytes(8, "big")).hexdigest(), "identity": "pseudonymised"}
    out["alerts"] = [{**a, "jr_id": f"{i:024x}{n:08x}"} for n, a in enumerate(payload["alerts"])]
    return out


def fill(box: Outbox, n: int, payload: dict[str, Any]) -> tuple[Timing, float]:
    """Record n events (1000 encounters round-robin); the per-record timing and the wall time (which includes
    making each payload distinct, outside the timed record)."""
    clock = time.perf_counter_ns
    samples = [0] * n
    started = time.perf_counter()
    for i in range(n):
        body = _vary(payload, i)
        t0 = clock()
        box.record("check", f"M{i % 1000}", "D430702000001", body)
        samples[i] = clock() - t0
        if i % CHECKPOINT_EVERY == CHECKPOINT_EVERY - 1:
            box.maintain()
    box.maintain()
    return summarize(samples), time.perf_counter() - started


def drain(box: Outbox, port: int, batch: int) -> tuple[float, int, float, float]:
    """Drain the outbox to the central on `port` with the uploader's own thread (as the agent runs it); (seconds
    until the outbox is empty, batches, mean gzip KiB, mean raw KiB per batch)."""
    chan = grpc.insecure_channel(f"127.0.0.1:{port}", options=CHANNEL_OPTIONS)
    send = grpc_send(chan, 30.0)
    sizes: list[tuple[int, int]] = []
    batches = [0]

    def measured(b: pb.UploadBatch) -> pb.UploadAck:
        batches[0] += 1
        if len(sizes) < 50:
            sizes.append((len(b.events_gzip), len(gzip.decompress(b.events_gzip))))
        return send(b)

    up = Uploader(box, measured, institution_code=HOSPITAL, batch_size=batch)
    started = time.perf_counter()
    up.start()
    while box.depth:
        time.sleep(0.005)
    elapsed = time.perf_counter() - started
    up.stop()
    chan.close()
    gz = sum(s[0] for s in sizes) / len(sizes) / 1024 if sizes else 0.0
    raw = sum(s[1] for s in sizes) / len(sizes) / 1024 if sizes else 0.0
    return elapsed, batches[0], gz, raw


def measure(n: int, batch: int, directory: Path) -> Figures:
    """Fill an outbox under `directory` with n events, then drain it to a fake central in a child process."""
    payload = _payload()
    box = Outbox(directory / "outbox.sqlite3", 64 * 1024**3, clock=lambda: datetime.now(UTC), agent_id=AGENT)
    record, fill_s = fill(box, n, payload)
    queued = box.disk_bytes() / 1024**2
    with subprocess.Popen([sys.executable, "-m", "bench.uplink", "--serve-central"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True, cwd=REPO) as child:  # fmt: skip
        assert child.stdin is not None and child.stdout is not None
        try:
            port = int(child.stdout.readline())
            drain_s, batches, gz, raw = drain(box, port, batch)
        finally:
            child.stdin.close()
            child.wait(30)
    box.close()
    size = len(json.dumps(_vary(payload, n), ensure_ascii=False, separators=(",", ":")).encode())
    return Figures(n, record, fill_s, queued, size, drain_s, batches, gz, raw)


def print_figures(f: Figures) -> dict[str, Any]:
    """The table, then the JSON line; returns the JSON-ready figures."""
    out = f.as_dict()
    r = f.record
    print(f"uplink bench: {f.events:,} check events of {f.payload_bytes} B JSON")
    print(f"  record (check path)  p50 {r.p50:7.1f} µs   p99 {r.p99:7.1f} µs   mean {r.mean:7.1f} µs   "
          f"fill {out['record_events_per_s']:,} events/s   outbox {f.queued_mib:,.0f} MiB queued")  # fmt: skip
    print(
        f"  drain to central     {f.drain_s:7.1f} s     {out['upload_events_per_s']:,} events/s   "
        f"{out['batches_per_s']} batches/s   batch {f.batch_gzip_kib:.0f} KiB gzip of {f.batch_raw_kib:.0f} KiB"
    )
    print(json.dumps({"uplink": out}))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--dir", type=Path, default=None, help="where the outbox goes (default: a temp dir)")
    parser.add_argument("--serve-central", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_central:
        serve_central()
        return
    directory = args.dir or Path(tempfile.mkdtemp(prefix="fundguard-uplink-"))
    directory.mkdir(parents=True, exist_ok=True)
    try:
        print_figures(measure(args.events, args.batch, directory))
    finally:
        if args.dir is None:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
