"""Fault-injection fixtures: a small disk that can be filled (a tmpfs of its own), an agent wired by the composition
root with its uplink to a fake central platform, and the gRPC calls the faults are judged by.

The disk is a real filesystem: a tmpfs mounted for the test (as root, or with `sudo -n`), filled by a
filler file until the kernel answers ENOSPC, so SQLite meets a genuine "database or disk is full" at whatever write
it happens (the WAL append, the checkpoint, the probe file) rather than a wrapper's idea of it. Where mounting is not
permitted the disk-full tests are skipped with the reason; `FUNDGUARD_REQUIRE_TMPFS=1` makes that a failure.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from fundguard.agent.app import Agent, build_agent
from fundguard.agent.config import load_settings
from fundguard.agent.trace.stock import Product
from fundguard.v1 import compliance_pb2 as pb
from fundguard.v1 import compliance_pb2_grpc as pb_grpc

from ..uplink.fake_central import FakeCentral, serve

IUD_CODE = "XG02BAZ061Z007010279543"  # female only: a male patient's order raises one alert
VIT_B1 = "XA11DAW036A001010104127"
B1_BOX = "8385793"  # 药品标识码 of a 10-tablet box of 维生素B1片
DISK_MB = 48
AGENT_ID = "agent-faults"


class SmallDisk:
    """A tmpfs mounted at `path`; `fill()` takes every free byte, `free()` gives them back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._filler = path / "filler.bin"

    def fill(self) -> None:
        """Write the filler until the disk is full (ENOSPC)."""
        for size in (256 * 1024, 512):  # big chunks, then small ones for the last partial chunk's room
            chunk = b"\0" * size
            with open(self._filler, "ab", buffering=0) as out:
                try:
                    while True:
                        out.write(chunk)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise

    def free(self) -> None:
        """Remove the filler."""
        self._filler.unlink(missing_ok=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    """A DISK_MB tmpfs of the test's own, unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]  # CI runs as root, or with password-less sudo
    options = f"size={DISK_MB}m,uid={os.getuid()},gid={os.getgid()},mode=0700"
    done = subprocess.run([*sudo, "mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        if os.environ.get("FUNDGUARD_REQUIRE_TMPFS"):
            pytest.fail(f"cannot mount a tmpfs: {done.stderr.strip()}")
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield SmallDisk(mount)
    finally:
        subprocess.run([*sudo, "umount", "-l", str(mount)], check=False)


@dataclass
class Running:
    """An agent serving on a free port, its stub and the fake central it uploads to."""

    agent: Agent
    stub: pb_grpc.ComplianceAgentStub
    central: FakeCentral
    channel: grpc.Channel
    server: grpc.Server
    stopped: bool = False

    def stop(self) -> None:
        """Stop the agent (the fake central keeps running until the test ends)."""
        if not self.stopped:
            self.stopped = True
            self.channel.close()
            self.agent.stop(grace=0)


@pytest.fixture
def start_agent() -> Iterator[Callable[..., Running]]:
    """Start agents (data in the given folder, uplink to a fresh fake central); all stopped afterwards."""
    started: list[Running] = []

    def start(data_dir: Path, **config: Any) -> Running:
        central = FakeCentral()
        server, port = serve(central)
        settings = load_settings(None, {
            "grpc.address": "127.0.0.1:0", "data.dir": data_dir, "uplink.central": f"127.0.0.1:{port}",
            "uplink.insecure": True, "uplink.agent_id": AGENT_ID, "uplink.institution_code": "H11010800001",
            "uplink.identity": "full", **config,
        })  # fmt: skip
        agent = build_agent(settings)
        assert agent.trace is not None
        agent.trace.upsert_products([Product(B1_BOX, VIT_B1, "box", 10)])
        agent.start()
        channel = grpc.insecure_channel(agent.address)
        started.append(Running(agent, pb_grpc.ComplianceAgentStub(channel), central, channel, server))
        return started[-1]

    yield start
    for run in reversed(started):
        run.stop()
        run.server.stop(0)


def male_iud(n: int) -> pb.CheckRequest:
    """Encounter `n` of a male patient ordering the female-only IUD: one alert."""
    return pb.CheckRequest(
        trig_scen="4", task_id=f"T-{n}",
        patient=pb.Patient(patn_id=f"P-{n:04d}", gend="1", brdy="1961-08-27"),
        encounter=pb.Encounter(mdtrt_id=f"E-{n:04d}", med_type="21", orders=[
            pb.Order(rx_id="1", hilist_code=IUD_CODE, hilist_name="左炔诺孕酮宫内节育系统", cnt="1", pric="1153",
                     drord_begn_date="2026-07-14"),
        ]),
    )  # fmt: skip


def settlement(n: int) -> pb.ConfirmSettlementRequest:
    """A settled outpatient encounter `n` (one vitamin line) for the history store."""
    order = pb.Order(rx_id="1", hilist_code=VIT_B1, hilist_name="维生素B1片", cnt="1", pric="2",
                     drord_begn_date="2026-07-14")  # fmt: skip
    encounter = pb.Encounter(mdtrt_id=f"S-{n:04d}", med_type="11", orders=[order])
    patient = pb.Patient(patn_id=f"P-{n:04d}", gend="1", brdy="1961-08-27")
    return pb.ConfirmSettlementRequest(patient=patient, encounter=encounter, setl_id=f"SETL-{n}",
                                       setl_time="2026-07-14 10:00:00")  # fmt: skip


def box(n: int) -> str:
    """The trace code of box `n` of 维生素B1片."""
    return f"{B1_BOX}{n:013d}"


def dispense(n: int) -> pb.DispenseRequest:
    """Sell box `n` (one box, 10 tablets) in encounter D-n."""
    return pb.DispenseRequest(mdtrt_id=f"D-{n:04d}", rx_id="1", hilist_code=VIT_B1, drug_trac_codg=[box(n)],
                              cnt="10", sel_retn_time="2026-07-14 10:00:00", med_type="11")  # fmt: skip


def rpc_code(call: Callable[[], object]) -> grpc.StatusCode:
    """The status code a call ends with (OK when it returns)."""
    try:
        call()
    except grpc.RpcError as err:
        return err.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK
