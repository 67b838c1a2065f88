"""Kill test: an agent process recording and uploading is SIGKILLed at random moments (≥ 20 times) and restarted
on the same outbox; at the end the central holds every event the agent acknowledged, each once, none invented."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .fake_central import FakeCentral, serve

CHILD = Path(__file__).with_name("kill_child.py")
KILLS = 22


def child(outbox: Path, port: int, run: str, mode: str) -> subprocess.Popen[bytes]:
    """Start the agent-side child."""
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(outbox), str(port), run, mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.slow
def test_kill_9_at_random_moments_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    """Every acknowledged event is stored centrally under the id the agent gave it; the only other events stored
    are ones whose `record` was cut short by the kill (at most one per kill); no event is stored twice; the
    central first saw events in sequence order."""
    central = FakeCentral()
    server, port = serve(central)
    outbox = tmp_path / "outbox.sqlite3"
    rng = random.Random(20250614)
    acked: dict[str, str] = {}
    begun: set[str] = set()
    cut_short: set[str] = set()
    try:
        for run in range(KILLS):
            proc = child(outbox, port, f"r{run}", "record")
            time.sleep(rng.uniform(0.3, 1.5))  # start-up is ~0.3 s: most kills land while recording+uploading
            os.kill(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate(timeout=30)
            assert -signal.SIGKILL == proc.returncode
            started: set[str] = set()
            for line in out.decode().splitlines():
                kind, token, *rest = line.split()
                if kind == "B":
                    started.add(token)
                else:
                    acked[token] = rest[0]
            begun |= started
            cut_short |= started - set(acked)
        proc = child(outbox, port, "final", "drain")
        out, _ = proc.communicate(timeout=60)
        assert (0, b"DONE\n") == (proc.returncode, out)
    finally:
        server.stop(0)
    stored = {json.loads(e.payload_json)["token"]: e.event_id for e in central.stored.values()}
    assert len(acked) > 1000
    assert {} == {t: i for t, i in acked.items() if stored.get(t) != i}  # 0 lost (and under the acked id)
    assert len(stored) == len(central.stored)  # 0 duplicated: no token under two ids
    extra = set(stored) - set(acked)
    assert extra <= cut_short and len(cut_short) <= KILLS
    seqs = [e.seq for e in central.stored.values()]
    assert sorted(seqs) == seqs
    print(f"\nkill test: {KILLS} kills, {len(acked)} acked, {len(extra)} recorded-but-unacked stored, "
          f"{central.duplicates} duplicate receipts deduped centrally")  # fmt: skip
