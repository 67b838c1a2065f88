"""The whole agent killed: `fundguard serve` with its uplink to the reference central platform is SIGKILLed at 20
random moments while a client streams checks in and the uploader runs; it is restarted each time. At the end (one
last start to drain the outbox) the central holds every check the agent answered, each once — 0 lost, 0 duplicated —
and nothing beyond the checks in flight at the kills."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa

from fundguard.central.server import CentralSettings, create_server
from fundguard.central.store import Store
from fundguard.v1 import compliance_pb2_grpc as pb_grpc

from .kb.test_hot_reload import _free_port, _status
from .transport.test_grpc_server import iud_request

KILLS = 20
AGENT_ID = "agent-kill"

pytestmark = pytest.mark.slow


def _checks_stored(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT payload FROM events WHERE kind = 'check'")).fetchall()
    return [json.loads(r[0])["judgement_id"] for r in rows]


def test_kill_9_twenty_times_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'central.sqlite3'}")
    central, port = create_server(store, CentralSettings(refresh_seconds=3600))
    central.start()
    address = f"127.0.0.1:{_free_port()}"
    env = {**os.environ, "FUNDGUARD_UPLINK__CENTRAL": f"127.0.0.1:{port}", "FUNDGUARD_UPLINK__INSECURE": "true",
           "FUNDGUARD_UPLINK__AGENT_ID": AGENT_ID, "FUNDGUARD_UPLINK__INSTITUTION_CODE": "H11010800001",
           "FUNDGUARD_UPLINK__IDENTITY": "full"}  # fmt: skip
    command = [sys.executable, "-m", "fundguard.agent.cli", "serve", "--grpc", address, "--data-dir",
               str(tmp_path / "data")]  # fmt: skip
    answered: list[str] = []
    rng = random.Random(20261123)

    def serve() -> subprocess.Popen[bytes]:
        return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stream(stop: threading.Event) -> None:
        with grpc.insecure_channel(address) as channel:
            stub = pb_grpc.ComplianceAgentStub(channel)
            while not stop.is_set():
                try:
                    response = stub.Check(iud_request(service_date="2025-06-14"), timeout=2)
                except grpc.RpcError:
                    time.sleep(0.02)  # the agent is down (killed) or starting
                    continue
                answered.append(response.judgement_id)

    agent = serve()
    try:
        for _ in range(KILLS):
            _status(address)  # up and serving
            stop = threading.Event()
            client = threading.Thread(target=stream, args=(stop,))
            client.start()
            time.sleep(rng.uniform(0.2, 1.2))
            agent.send_signal(signal.SIGKILL)
            agent.wait(10)
            stop.set()
            client.join()
            agent = serve()
        _status(address)
        deadline = time.monotonic() + 60
        while set(answered) - set(_checks_stored(store)):
            assert time.monotonic() < deadline, "the backlog did not drain"
            time.sleep(0.2)
    finally:
        agent.kill()
        agent.wait(10)
        central.stop(0)
    stored = _checks_stored(store)
    print(f"{KILLS} kills, {len(answered)} checks answered, {len(stored)} check events stored")
    assert len(answered) > KILLS
    assert (set(), len(stored)) == (set(answered) - set(stored), len(set(stored)))  # none lost, none twice
    assert len(set(stored) - set(answered)) <= KILLS  # at most the check in flight at each kill
