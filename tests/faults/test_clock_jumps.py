"""The wall clock jumping while the agent serves (an NTP step, a mis-set BIOS clock, a VM resumed a year later).

The agent is built with a wall clock the test moves: back a day, forward 400 days, back to now. Throughout, the same
request gets the same verdict (the knowledge base's validity is judged by the date of service the request carries,
never by the wall clock), judgement and alert ids stay unique, the outbox reports no negative age, and every event
recorded reaches the central exactly once (sequence numbers never depend on the clock once the outbox exists;
durations and backoff run on the monotonic clock). A request without any order date falls back to the wall clock's
day (`service.default_service_date`): the one place the clock decides; the HIS sends order dates or `service_date`.
The KB's effective dates by date of service are shown in `tests/kb/test_date_of_service.py`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import grpc
import pytest

from fundguard.agent.app import build_agent
from fundguard.agent.config import load_settings
from fundguard.v1 import compliance_pb2_grpc as pb_grpc

from ..uplink.fake_central import FakeCentral, serve
from .conftest import male_iud
from .test_disk_full import _feedback, wait_for

pytestmark = pytest.mark.slow
JUMPS = (timedelta(0), timedelta(days=-1), timedelta(days=400), timedelta(hours=-3), timedelta(0))


class MovableClock:
    """The wall clock, shifted by `offset`."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now() + self.offset


def test_clock_jumps_change_no_verdict_duplicate_no_id_and_lose_no_event(tmp_path: Path) -> None:
    """Checks and decisions under a wall clock jumping back and forth: identical verdicts, unique ids, outbox age
    never negative, every recorded event at the central once."""
    central = FakeCentral()
    server, port = serve(central)
    clock = MovableClock()
    settings = load_settings(None, {
        "grpc.address": "127.0.0.1:0", "data.dir": tmp_path / "data", "uplink.central": f"127.0.0.1:{port}",
        "uplink.insecure": True, "uplink.agent_id": "agent-clock", "uplink.institution_code": "H11010800001",
        "uplink.identity": "full", "uplink.status_poll_seconds": 600, "health.min_free_mb": 0,
    })  # fmt: skip
    agent = build_agent(settings, clock)
    agent.start()
    channel = grpc.insecure_channel(agent.address)
    try:
        stub = pb_grpc.ComplianceAgentStub(channel)
        verdicts, judgements, jr_ids = [], [], []
        for n, jump in enumerate(JUMPS):
            clock.offset = jump
            response = stub.Check(male_iud(n), timeout=10)  # its lines are dated 2026-07-14: the date of service
            verdicts.append(sorted((a.rule_id, a.kp_id, tuple(a.rx_ids)) for a in response.alerts))
            judgements.append(response.judgement_id)
            jr_ids += [a.jr_id for a in response.alerts]
            assert "stored" == stub.Feedback(_feedback(response.alerts[0].jr_id), timeout=10).outcome
            assert agent.uplink is not None and agent.uplink.outbox.metrics().oldest_age_s >= 0
        assert all(v == verdicts[0] for v in verdicts) and verdicts[0]
        assert len(judgements) == len(set(judgements)) and len(jr_ids) == len(set(jr_ids))
        recorded = 2 * len(JUMPS)  # a check and a decision per step
        wait_for(lambda: agent.uplink is not None and agent.uplink.outbox.depth == 0, 20, "events uploaded")
        assert (recorded, 0) == (len(central.stored), central.duplicates)
        seqs = sorted(e.seq for e in central.stored.values())
        assert seqs == sorted(set(seqs)) and len(seqs) == recorded
    finally:
        channel.close()
        agent.stop(grace=0)
        server.stop(0)
