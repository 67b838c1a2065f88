"""`python -m bench.soak [--minutes M] [--rate R] [--speed S] [--out FILE]`: a bounded soak of the whole agent.

The agent is built by the composition root (`build_agent`) with every listener — gRPC, HTTP (national 3101 and
CDS Hooks on one port, `/metrics`), MLLP, the drop folder — its trace ledger, patient history and an uplink to the
reference central platform (in this process, plaintext on 127.0.0.1). A driver thread sends a steady mix of traffic
at `rate` operations per second: checks over gRPC (half of them), national 3101 JSON over HTTP and HL7 RDE^O11 over
MLLP (a fifth each), clinicians' decisions on alerts just raised (gRPC Feedback) and drug dispenses (RecordDispense
of boxes imported earlier with ImportInbound). Each check is a new encounter of one of `patients` patients, so the
history cache, the issued-alert register and the outbox all see a hospital's turnover; the agent's clock runs
`speed` times faster than the wall clock, so a 10-minute run covers hours of the hospital's day.

The agent keeps bounded in-memory registers that take hours of traffic to fill (the alert stream's last 100,000
alerts, the issued-alert index's 200,000, the recorder's 200,000 alert impacts, 200,000 decided alerts, 20,000 warm
patients). A soak of minutes would see them fill and call it growth, so `--shrink F` (default 50) divides those
bounds by F: they fill during the warm-up, and what still grows after it is what would grow without bound.
`--shrink 1` runs the bounds as shipped (RSS then grows until they are full).

The reference central runs in this process, so its files count among the process's descriptors: its SQLAlchemy
pool, which opens a connection only when more of them are in use at once than ever before, is filled before the
traffic starts (`fill_pool`), so that it does not pass for the agent's growth.

Every `sample_seconds` it samples this process's RSS and open file descriptors (`/proc/self`), its threads, the
outbox depth and bytes, the issued-alert writer's queue and the central's stored events; at the first sample, the
first after warm-up and the last, also what each fd points at (`fd_targets`: a file by its name, a socket, a pipe)
and the threads by name (`thread_names`). At the end it prints the samples, then a report: RSS growth after warm-up
(the median of the last three samples against the median of the first three after the warm-up share of the run, in
%), fd growth measured the same way (medians: a socket open for a moment, such as an upload to the central, is not
growth; the highest count is printed beside it), thread growth, the fd targets and thread names that grew,
operations by kind and
errors, the outbox drained or not; and writes all of it as JSON (`--out`). Timing figures only: it never asserts
(the targets — RSS growth < 5 %, no fd growth — are printed beside the figures).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import sqlalchemy as sa

from fundguard.agent.app import Agent, build_agent, tune_runtime
from fundguard.agent.config import load_settings
from fundguard.agent.feedback import fatigue
from fundguard.agent.feedback import issued as issued_register
from fundguard.agent.log import configure_logging
from fundguard.agent.stream import bus as alert_bus
from fundguard.agent.trace.generate import generate_codes, generate_products
from fundguard.agent.uplink import recorder as uplink_recorder
from fundguard.central.server import CentralSettings, create_server
from fundguard.central.store import Store
from fundguard.v1 import compliance_pb2 as pb
from fundguard.v1 import compliance_pb2_grpc as pb_grpc

__all__ = ["Sample", "SoakReport", "main", "run_soak", "shrunk_bounds"]

IUD_CODE = "XG02BAZ061Z007010279543"  # 左炔诺孕酮宫内节育系统: female only (a male patient raises an alert)
VITAMIN_C = "XA11GAW043A001010201815"  # 维生素C片: no knowledge point lists it
AGENT_ID = "agent-soak"
INSTITUTION = "H11010800001"
MIX = ("grpc",) * 5 + ("national",) * 2 + ("mllp",) * 2 + ("feedback", "dispense")  # one cycle of 11 operations
WARMUP_SHARE = 0.25  # the first quarter of the run is warm-up (caches fill, pools grow)
HISTORY_PATIENTS = 20_000  # [history] cache_patients as shipped
VT, FS, CR = b"\x0b", b"\x1c", b"\r"
INBOUND_BATCH = 500


@dataclass(frozen=True, slots=True)
class Sample:
    """One sample of the running agent."""

    t_s: float
    ops: int
    rss_kb: int
    fds: int
    threads: int
    outbox_depth: int
    outbox_bytes: int
    issued_pending: int
    central_events: int


@dataclass
class SoakReport:
    """What the soak measured."""

    minutes: float
    rate: float
    speed: float
    shrink: int
    simulated_hours: float
    ops: dict[str, int]
    errors: dict[str, int]
    warmup_s: float
    rss_start_kb: float
    rss_end_kb: float
    rss_growth_pct: float
    fds_start: int
    fds_max_after_warmup: int
    fd_growth: int
    threads_start: int
    threads_max_after_warmup: int
    fds_last_half: tuple[int, int]  # (min, max) over the second half of the run: the fds flat (SQLite connections
    rss_last_half_mb: tuple[float, float]  # are opened at start), RSS too once the bounded caches are full
    outbox_depth_end: int
    outbox_drained: bool
    central_events: int
    samples: list[Sample] = field(default_factory=list)
    fd_targets: dict[str, dict[str, int]] = field(default_factory=dict)  # "start", "warmup", "end": target → fds
    thread_names: dict[str, dict[str, int]] = field(default_factory=dict)  # the same points: name → threads

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return asdict(self)


def _rss_kb() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def fd_targets(root: Path) -> dict[str, int]:
    """This process's open fds counted by what they point at: a file under `root` by its path below it
    (`data/trace.sqlite3-wal`), another file by its full path, a socket, pipe or anonymous inode by its kind."""
    found: Counter[str] = Counter()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed meanwhile (or the listing's own fd)
            continue
        if target.startswith(str(root) + "/"):
            target = target[len(str(root)) + 1 :]
        elif not target.startswith("/"):
            target = re.sub(r":\[\d+\]$", "", target)  # socket:[123] → socket; anon_inode:[eventfd] stays
        found[target] += 1
    return dict(sorted(found.items()))


def thread_names() -> dict[str, int]:
    """This process's Python threads counted by name, numbers replaced by N (`fundguard-check_N`)."""
    return dict(sorted(Counter(re.sub(r"\d+", "N", t.name) for t in threading.enumerate()).items()))


def _grown(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """What changed between two countings (+ more, - fewer)."""
    keys = sorted(set(before) | set(after))
    return {k: after.get(k, 0) - before.get(k, 0) for k in keys if after.get(k, 0) != before.get(k, 0)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _accelerated(speed: float) -> Callable[[], datetime]:
    """A clock that starts now and runs `speed` times faster than the wall clock."""
    origin, started = datetime.now(), time.monotonic()
    return lambda: origin + timedelta(seconds=(time.monotonic() - started) * speed)


def grpc_check(n: int, patient: int) -> pb.CheckRequest:
    """A male patient's encounter ordering the female-only IUD (an alert) and vitamin C."""
    return pb.CheckRequest(
        trig_scen="4", task_id=f"T-{n}",
        patient=pb.Patient(patn_id=f"P{patient:06d}", patn_name="张三", gend="1", brdy="1961-08-27"),
        encounter=pb.Encounter(mdtrt_id=f"G{n:09d}", med_type="21", insutype="390", medins_lv="01", orders=[
            pb.Order(rx_id="1", hilist_code=IUD_CODE, hilist_name="左炔诺孕酮宫内节育系统", cnt="1", pric="1153"),
            pb.Order(rx_id="2", hilist_code=VITAMIN_C, hilist_name="维生素C片", cnt="3", pric="0.08"),
        ]),
    )  # fmt: skip


def national_3101(n: int, patient: int) -> bytes:
    """A national 3101 request (whole envelope) for the same kind of encounter."""
    orders = [
        {"rx_id": "1", "hilist_code": IUD_CODE, "hilist_name": "左炔诺孕酮宫内节育系统", "cnt": 1, "pric": 1153,
         "drord_begn_date": "2026-07-14 09:00:00", "curr_drord_flag": 1, "drord_dept_codg": "0301"},
        {"rx_id": "2", "hilist_code": VITAMIN_C, "hilist_name": "维生素C片", "cnt": 3, "pric": 0.08,
         "drord_begn_date": "2026-07-14 09:00:00", "curr_drord_flag": 1, "drord_dept_codg": "0301"},
    ]  # fmt: skip
    encounter = {"mdtrt_id": f"N{n:09d}", "med_type": "21", "insutype": "390", "medins_lv": "01",
                 "fsi_diagnose_dtos": [], "fsi_order_dtos": orders}  # fmt: skip
    patient_dto = {"patn_id": f"P{patient:06d}", "patn_name": "李四", "gend": "1", "brdy": "1961-08-27",
                   "curr_mdtrt_id": f"N{n:09d}", "fsi_encounter_dtos": [encounter]}  # fmt: skip
    data = {"trig_scen": "4", "task_id": f"T-{n}", "patient_dtos": [patient_dto]}
    return json.dumps({"infno": "3101", "msgid": f"M{n:020d}", "input": {"data": data}}).encode("utf-8")


def hl7_rde(n: int, patient: int) -> bytes:
    """An HL7 v2.5 RDE^O11 of one IUD order, framed for MLLP."""
    give = f"{IUD_CODE}^左炔诺孕酮宫内节育系统^NHSA"
    segments = [
        f"MSH|^~\\&|HIS|H1|FUNDGUARD|H1|20260714090000||RDE^O11^RDE_O11|RDE{n:012d}|P|2.5|||AL|AL|CHN|UNICODE UTF-8",
        f"PID|1||P{patient:06d}^^^H1^PI||张^某||19610827|M",
        f"PV1|1|I|0301^23^1^H1||||ys01^李^医生||||||||||||H{n:09d}",
        f"ORC|NW|{n % 100000}||IP{n:012d}|||||20260714090000|||ys01^李^医生",
        f"RXE||{give}|1||支|||||1|盒",
        f"FT1|1|||||CG|{give}|||1|1153.00|1153.00",
    ]
    return VT + ("\r".join(segments) + "\r").encode("utf-8") + FS + CR


class _Mllp:
    """One persistent MLLP connection (reconnected after an error)."""

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self._target = (host, int(port))
        self._sock: socket.socket | None = None

    def send(self, frame: bytes) -> bytes:
        if self._sock is None:
            self._sock = socket.create_connection(self._target, timeout=10)
        try:
            self._sock.sendall(frame)
            answer = b""
            while not answer.endswith(FS + CR):
                chunk = self._sock.recv(65536)
                if not chunk:
                    raise ConnectionError("MLLP connection closed")
                answer += chunk
            return answer
        except OSError:
            self.close()
            raise

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class _Codes:
    """Boxes to dispense: imported into the ledger over gRPC a batch at a time, each dispensed once."""

    def __init__(self, stub: pb_grpc.ComplianceAgentStub, agent: Agent) -> None:
        products = [p for p in generate_products(40, seed=11) if not p.gs1]
        assert agent.trace is not None
        agent.trace.upsert_products([p.product for p in products])
        self._hilist = {p.product.product_key: p.product.hilist_code for p in products}
        self._stub = stub
        self._source: Iterator[Any] = iter(generate_codes(2_000_000, products, seed=11))
        self._ready: list[tuple[str, str]] = []
        self._batches = 0

    def next(self) -> tuple[str, str]:
        if not self._ready:
            records = [next(self._source) for _ in range(INBOUND_BATCH)]
            codes = [pb.InboundCode(drug_trac_codg=r.key, manu_lotnum=r.batch,
                                    expy_end=r.expiry.isoformat() if r.expiry else "") for r in records]  # fmt: skip
            self._batches += 1
            self._stub.ImportInbound(pb.ImportInboundRequest(codes=codes, source=f"soak-{self._batches}"), timeout=10)
            self._ready = [(r.key, self._hilist[r.product_key]) for r in reversed(records)]
        return self._ready.pop()


class _Driver:
    """Sends the traffic mix at a steady rate until stopped; counts operations and errors by kind."""

    def __init__(
        self, agent: Agent, http: str, mllp: str, *, rate: float, patients: int, clock: Callable[[], datetime]
    ) -> None:
        self._agent = agent
        self._channel = grpc.insecure_channel(agent.address)
        self._stub = pb_grpc.ComplianceAgentStub(self._channel)
        self._url = f"http://{http}/fsi/api/rsfComIfsService/callService/3101"
        self._mllp = _Mllp(mllp)
        self._interval = 1.0 / rate
        self._patients = patients
        self._clock = clock
        self._codes = _Codes(self._stub, agent)
        self._jr_ids: list[str] = []
        self.ops: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.stopping = threading.Event()

    @property
    def total(self) -> int:
        return sum(self.ops.values())

    def _one(self, kind: str, n: int) -> None:
        patient = n % self._patients
        if kind == "grpc":
            response = self._stub.Check(grpc_check(n, patient), timeout=10)
            self._jr_ids.extend(a.jr_id for a in response.alerts)
            del self._jr_ids[:-100]
        elif kind == "national":
            request = urllib.request.Request(self._url, national_3101(n, patient), {"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as answer:
                if json.loads(answer.read()).get("infcode") not in (0, "0"):
                    raise ValueError("national answer infcode is not 0")
        elif kind == "mllp":
            if b"MSA|AA" not in self._mllp.send(hl7_rde(n, patient)):
                raise ValueError("MLLP answer is not AA")
        elif kind == "feedback":
            if self._jr_ids:
                jr_id = self._jr_ids.pop()
                self._stub.Feedback(pb.FeedbackRequest(jr_id=jr_id, dspo_way="1", dspo_way_rea="患者知情同意"),
                                    timeout=10)  # fmt: skip
        elif kind == "dispense":
            code, hilist = self._codes.next()
            at = self._clock().strftime("%Y-%m-%d %H:%M:%S")
            sale = pb.DispenseRequest(mdtrt_id=f"D{n:09d}", rx_id="1", hilist_code=hilist, drug_trac_codg=[code],
                                      cnt="1", trdn_flag="0", sel_retn_time=at, med_type="11")  # fmt: skip
            answer = self._stub.RecordDispense(sale, timeout=10)
            if not answer.accepted:
                kind = "dispense_refused"
        self.ops[kind] += 1

    def run(self) -> None:
        n = 0
        next_at = time.monotonic()
        while not self.stopping.is_set():
            kind = MIX[n % len(MIX)]
            try:
                self._one(kind, n)
            except Exception as exc:  # counted and reported: a soak must run to its end
                self.errors[f"{kind}:{type(exc).__name__}"] += 1
            n += 1
            next_at += self._interval
            delay = next_at - time.monotonic()
            if delay > 0:
                self.stopping.wait(delay)
            elif delay < -1.0:  # behind by more than a second: do not try to catch up in a burst
                next_at = time.monotonic()

    def close(self) -> None:
        self._mllp.close()
        self._channel.close()


def fill_pool(store: Store) -> int:
    """Open every connection the store's pool keeps (each reads, so a SQLite WAL is open too), all at once, and give
    them back to the pool; how many."""
    size = int(getattr(store.engine.pool, "size", lambda: 1)())
    with contextlib.ExitStack() as stack:
        for _ in range(size):
            stack.enter_context(store.engine.connect()).execute(sa.text("SELECT COUNT(*) FROM events"))
    return size


def _central_events(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT COUNT(*) FROM events")).scalar_one())


def _sample(started: float, driver: _Driver, agent: Agent, store: Store) -> Sample:
    outbox = agent.uplink.outbox if agent.uplink is not None else None
    return Sample(
        t_s=round(time.monotonic() - started, 1), ops=driver.total, rss_kb=_rss_kb(), fds=_fds(),
        threads=threading.active_count(), outbox_depth=outbox.depth if outbox else 0,
        outbox_bytes=outbox.disk_bytes() if outbox else 0, issued_pending=agent.issued.pending,
        central_events=_central_events(store),
    )  # fmt: skip


@contextlib.contextmanager
def shrunk_bounds(factor: int) -> Iterator[None]:
    """Within the block, agents are built with their bounded in-memory registers divided by `factor`."""
    saved = (issued_register.MEMORY_ENTRIES, uplink_recorder.IMPACTS_KEPT, alert_bus.AlertBus.__init__.__defaults__,
             fatigue.MEMORY_KEYS)  # fmt: skip
    issued_register.MEMORY_ENTRIES = max(issued_register.MEMORY_ENTRIES // factor, 1)
    fatigue.MEMORY_KEYS = max(fatigue.MEMORY_KEYS // factor, 1)
    uplink_recorder.IMPACTS_KEPT = max(uplink_recorder.IMPACTS_KEPT // factor, 1)
    alert_bus.AlertBus.__init__.__defaults__ = (max(alert_bus.DEFAULT_CAPACITY // factor, 1),)
    try:
        yield
    finally:
        issued_register.MEMORY_ENTRIES, uplink_recorder.IMPACTS_KEPT = saved[0], saved[1]
        alert_bus.AlertBus.__init__.__defaults__ = saved[2]
        fatigue.MEMORY_KEYS = saved[3]


def _median(values: list[int]) -> float:
    return float(statistics.median(values)) if values else 0.0


def run_soak(
    seconds: float,
    root: Path,
    *,
    rate: float = 40.0,
    speed: float = 36.0,
    sample_seconds: float = 5.0,
    shrink: int = 50,
    patients: int = 5000,
    echo: Callable[[str], None] = print,
) -> SoakReport:
    """Run the soak for `seconds` in `root` (a scratch folder); the report."""
    store = Store.open(f"sqlite:///{root / 'central.sqlite3'}")
    central, central_port = create_server(store, CentralSettings(refresh_seconds=3600))
    central.start()
    fill_pool(store)
    http, mllp = f"127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}"
    settings = load_settings(None, {
        "grpc.address": "127.0.0.1:0", "http.address": http, "mllp.address": mllp, "drop.dir": root / "drop",
        "data.dir": root / "data", "uplink.central": f"127.0.0.1:{central_port}", "uplink.insecure": True,
        "uplink.agent_id": AGENT_ID, "uplink.institution_code": INSTITUTION, "uplink.identity": "full",
        "history.cache_patients": max(HISTORY_PATIENTS // shrink, 1),
    })  # fmt: skip
    clock = _accelerated(speed)
    with shrunk_bounds(shrink):
        agent = build_agent(settings, clock)
    agent.start()
    driver = _Driver(agent, http, mllp, rate=rate, patients=patients, clock=clock)
    samples: list[Sample] = []
    targets: dict[str, dict[str, int]] = {}
    names: dict[str, dict[str, int]] = {}
    warmup = seconds * WARMUP_SHARE
    started = time.monotonic()
    worker = threading.Thread(target=driver.run, name="soak-driver", daemon=True)
    worker.start()
    try:
        while time.monotonic() - started < seconds:
            time.sleep(min(sample_seconds, max(seconds - (time.monotonic() - started), 0.0)))
            samples.append(_sample(started, driver, agent, store))
            s = samples[-1]
            point = "start" if len(samples) == 1 else "warmup" if s.t_s >= warmup and "warmup" not in targets else "end"
            targets[point], names[point] = fd_targets(root), thread_names()
            echo(f"{s.t_s:7.1f} s  ops {s.ops:7d}  rss {s.rss_kb / 1024:7.1f} MB  fds {s.fds:4d}  "
                 f"threads {s.threads:3d}  outbox {s.outbox_depth:5d}  issued queue {s.issued_pending:4d}  "
                 f"central {s.central_events:7d}")  # fmt: skip
    finally:
        driver.stopping.set()
        worker.join(15)
        driver.close()
    deadline = time.monotonic() + 30  # let the uploader drain what the last seconds recorded
    while agent.uplink is not None and agent.uplink.outbox.depth and time.monotonic() < deadline:
        time.sleep(0.2)
    depth_end = agent.uplink.outbox.depth if agent.uplink is not None else 0
    central_events = _central_events(store)
    agent.stop(grace=1)
    central.stop(0)
    store.engine.dispose()
    after = [s for s in samples if s.t_s >= warmup] or samples
    late = [s for s in samples if s.t_s >= seconds / 2] or samples
    rss_start, rss_end = _median([s.rss_kb for s in after[:3]]), _median([s.rss_kb for s in after[-3:]])
    return SoakReport(
        minutes=round(seconds / 60, 2), rate=rate, speed=speed, shrink=shrink,
        simulated_hours=round(seconds * speed / 3600, 2),
        ops=dict(driver.ops), errors=dict(driver.errors), warmup_s=round(warmup, 1),
        rss_start_kb=rss_start, rss_end_kb=rss_end,
        rss_growth_pct=round(100 * (rss_end - rss_start) / rss_start, 2) if rss_start else 0.0,
        fds_start=after[0].fds, fds_max_after_warmup=max(s.fds for s in after),
        # as for RSS, medians of three samples: a socket open for a moment (an upload to the central, a request in
        # flight) is not growth; the max is reported beside it
        fd_growth=round(_median([s.fds for s in after[-3:]]) - _median([s.fds for s in after[:3]])),
        threads_start=after[0].threads, threads_max_after_warmup=max(s.threads for s in after),
        fds_last_half=(min(s.fds for s in late), max(s.fds for s in late)),
        rss_last_half_mb=(round(min(s.rss_kb for s in late) / 1024, 1), round(max(s.rss_kb for s in late) / 1024, 1)),
        outbox_depth_end=depth_end, outbox_drained=depth_end == 0, central_events=central_events, samples=samples,
        fd_targets=targets, thread_names=names,
    )  # fmt: skip


def print_report(r: SoakReport) -> None:
    """The figures, with the targets beside them."""
    total = sum(r.ops.values())
    print(f"\nsoak: {r.minutes} min at {r.rate:g} ops/s, agent clock ×{r.speed:g} ({r.simulated_hours} h simulated), "
          f"in-memory bounds ÷{r.shrink}")  # fmt: skip
    print(f"  operations   {total} {dict(sorted(r.ops.items()))}; errors {sum(r.errors.values())} {r.errors}")
    print(f"  RSS          {r.rss_start_kb / 1024:.1f} MB → {r.rss_end_kb / 1024:.1f} MB after {r.warmup_s:g} s "
          f"warm-up: {r.rss_growth_pct:+.2f} % (target < 5 %); second half {r.rss_last_half_mb[0]}–"
          f"{r.rss_last_half_mb[1]} MB")  # fmt: skip
    print(f"  fds          {r.fds_start} → max {r.fds_max_after_warmup}: growth {r.fd_growth} (medians of three "
          "samples, target 0); "
          f"second half {r.fds_last_half[0]}–{r.fds_last_half[1]}")  # fmt: skip
    print(f"  threads      {r.threads_start} → max {r.threads_max_after_warmup}")
    for label, counts in (("fd targets", r.fd_targets), ("thread names", r.thread_names)):
        start, warm, end = (counts.get(p, {}) for p in ("start", "warmup", "end"))
        print(f"  {label:<12} start → warm-up {_grown(start, warm) or 'no change'}; "
              f"warm-up → end {_grown(warm or start, end or warm) or 'no change'}")  # fmt: skip
        print(f"               at the end: {end or warm or start}")
    print(f"  outbox       depth at end {r.outbox_depth_end} ({'drained' if r.outbox_drained else 'NOT drained'}); "
          f"central stored {r.central_events} events")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run the soak, print the report, write the JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=40.0, help="operations per second (default 40)")
    parser.add_argument("--speed", type=float, default=36.0, help="agent clock speed-up (default 36: 10 min = 6 h)")
    parser.add_argument("--sample-seconds", type=float, default=5.0)
    parser.add_argument("--shrink", type=int, default=50, help="divide the in-memory bounds by this (1: as shipped)")
    parser.add_argument("--out", type=Path, default=Path("soak-report.json"))
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="fundguard-soak-"))
    configure_logging(load_settings(None, {"log.level": "warning"}).log)  # as `fundguard serve` does, quieter
    tune_runtime()
    try:
        report = run_soak(args.minutes * 60, root, rate=args.rate, speed=args.speed, sample_seconds=args.sample_seconds,
                          shrink=args.shrink)  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print_report(report)
    args.out.write_text(json.dumps(report.as_dict(), indent=1) + "\n", encoding="utf-8")
    print(f"  report       {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
