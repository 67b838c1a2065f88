"""Hot reload in a whole agent: Check is hammered from several threads over gRPC while three bundles are activated in
turn through the inbox — zero failed answers and zero mixed-revision answers (every alert's rule name carries the
revision its response names). Then `fundguard serve` is killed (-9) after an activation: it restarts offline on that
revision; with the last-good file deleted it starts on the embedded default."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import pytest

from fundguard.agent.app import build_agent
from fundguard.agent.config import load_settings
from fundguard.agent.kb.activation import LAST_GOOD_FILE
from fundguard.agent.kb.sources import KB_STATE_DIR
from fundguard.v1 import compliance_pb2 as pb
from fundguard.v1 import compliance_pb2_grpc as pb_grpc
from tests.transport.test_grpc_server import iud_request

from .bundles import default_doc, make_keys, signed, tagged

EMBEDDED = int(default_doc()["revision"])
THREADS = 6

pytestmark = pytest.mark.slow


def _consistent(response: pb.CheckResponse) -> bool:
    """Every alert's rule name was tagged by the revision the response names (the embedded default: untagged)."""
    revision = int(response.kb_revision)
    if revision == EMBEDDED:
        return all(" r" not in a.rule_name for a in response.alerts)
    return all(a.rule_name.endswith(f" r{revision}") for a in response.alerts)


def test_checks_under_three_activations_never_fail_nor_mix_revisions(tmp_path: Path) -> None:
    keys = make_keys(tmp_path / "keys")
    settings = load_settings(None, {"grpc.address": "127.0.0.1:0", "data.dir": tmp_path / "data",
                                    "kb.inbox": tmp_path / "inbox", "kb.trusted_keys": keys.trusted_dir})  # fmt: skip
    agent = build_agent(settings)
    agent.start()
    stop = threading.Event()
    seen: list[tuple[str, bool]] = []
    failures: list[str] = []

    def hammer() -> None:
        with grpc.insecure_channel(agent.address) as channel:
            stub = pb_grpc.ComplianceAgentStub(channel)
            while not stop.is_set():
                try:
                    response = stub.Check(iud_request(service_date="2025-06-14"), timeout=10)
                except grpc.RpcError as err:
                    failures.append(f"{err.code()}: {err.details()}")
                    continue
                seen.append((response.kb_revision, _consistent(response) and len(response.alerts) > 0))

    threads = [threading.Thread(target=hammer) for _ in range(THREADS)]
    try:
        for thread in threads:
            thread.start()
        for n in (1, 2, 3):
            (tmp_path / "inbox" / f"r{n}.fgkb").write_bytes(signed(tagged(EMBEDDED + n), keys))
            deadline = time.monotonic() + 10
            while agent.store.current.revision != str(EMBEDDED + n):
                assert time.monotonic() < deadline, f"revision {EMBEDDED + n} not activated"
                time.sleep(0.02)
            time.sleep(0.3)  # checks on the new revision
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        agent.stop(grace=0)
    revisions = {revision for revision, _ in seen}
    print(f"{len(seen)} checks during 3 activations, revisions seen {sorted(revisions)}")
    assert ([], []) == (failures, [r for r, ok in seen if not ok])
    assert {str(EMBEDDED + n) for n in (1, 2, 3)} <= revisions


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _status(address: str, seconds: float = 20) -> pb.KbStatus:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with grpc.insecure_channel(address) as channel:
                return pb_grpc.ComplianceAgentStub(channel).GetStatus(pb.StatusRequest(), timeout=2).kb
        except grpc.RpcError:
            assert time.monotonic() < deadline, "the agent did not answer GetStatus"
            time.sleep(0.1)


def test_killed_after_an_activation_it_restarts_on_that_revision(tmp_path: Path) -> None:
    keys = make_keys(tmp_path / "keys")
    address = f"127.0.0.1:{_free_port()}"
    command = [sys.executable, "-m", "fundguard.agent.cli", "serve", "--grpc", address, "--data-dir",
               str(tmp_path / "data")]  # fmt: skip
    env = {**os.environ, "FUNDGUARD_KB__INBOX": str(tmp_path / "inbox"),
           "FUNDGUARD_KB__TRUSTED_KEYS": str(keys.trusted_dir)}  # fmt: skip

    def serve() -> subprocess.Popen[bytes]:
        return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    agent = serve()
    try:
        assert str(EMBEDDED) == _status(address).revision
        (tmp_path / "inbox" / "r2.fgkb").write_bytes(signed(tagged(EMBEDDED + 1), keys))
        deadline = time.monotonic() + 10
        while _status(address).revision != str(EMBEDDED + 1):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        agent.send_signal(signal.SIGKILL)
        agent.wait(10)
        agent = serve()
        restarted = _status(address)
        assert (str(EMBEDDED + 1), True) == (restarted.revision, restarted.source.startswith("last-good:"))
        agent.send_signal(signal.SIGKILL)
        agent.wait(10)
        (tmp_path / "data" / KB_STATE_DIR / LAST_GOOD_FILE).unlink()
        agent = serve()
        fallback = _status(address)
        assert (str(EMBEDDED), True) == (fallback.revision, fallback.source.startswith("embedded:"))
    finally:
        agent.kill()
        agent.wait(10)
