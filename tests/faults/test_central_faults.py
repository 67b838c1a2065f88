"""The central platform slow, gone, or dropping acknowledgements while the agent serves checks.

The agent (composition root, uplink over real gRPC to a fake central) keeps answering checks; its uploader backs off
(failures counted, the wait capped by the exponential schedule), the outbox grows by one event per check, the
`central_unreachable` alarm is raised; when the central answers again the backlog drains, the alarm clears, and the
central holds every check the agent answered exactly once (a batch stored but not acknowledged is sent again and
deduplicated by event id).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest

from fundguard.v1 import central_pb2 as cpb
from fundguard.v1 import central_pb2_grpc as cpb_grpc

from ..uplink.fake_central import FakeCentral
from .conftest import Running, male_iud
from .test_disk_full import wait_for

pytestmark = pytest.mark.slow
UPLOAD_TIMEOUT_S = 0.5


class ToxicCentral(FakeCentral):
    """A fake central that can answer late (`delay` seconds, past the agent's deadline)."""

    def __init__(self) -> None:
        super().__init__()
        self.delay = 0.0

    def Upload(self, request: cpb.UploadBatch, context: grpc.ServicerContext) -> cpb.UploadAck:
        """Late when told to be; stores what arrives (also after the caller gave up, as a real server would)."""
        if self.delay:
            time.sleep(self.delay)
        return super().Upload(request, context)


class Endpoint:
    """The toxic central on a fixed port, which can be taken down and brought back (connections refused)."""

    def __init__(self, central: ToxicCentral) -> None:
        self.central = central
        self.port = 0
        self._server: grpc.Server | None = None

    def up(self) -> None:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        cpb_grpc.add_CentralPlatformServicer_to_server(self.central, server)
        self.port = server.add_insecure_port(f"127.0.0.1:{self.port}")
        server.start()
        self._server = server

    def down(self) -> None:
        if self._server is not None:
            self._server.stop(0).wait()
            self._server = None


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    """A started toxic central, stopped afterwards."""
    point = Endpoint(ToxicCentral())
    point.up()
    yield point
    point.down()


def _answered(run: Running, first: int, count: int) -> set[str]:
    return {run.stub.Check(male_iud(n), timeout=10).judgement_id for n in range(first, first + count)}


def test_slow_gone_and_ack_losing_central_backs_off_grows_the_queue_and_drains_all_once(
    endpoint: Endpoint, start_agent: Callable[..., Running], tmp_path: Path
) -> None:
    """Three faults in a row — answers past the deadline, connection refused, acks lost — with checks meanwhile:
    every check answered, the queue grows, failures and backoff counted, the alarm up; then all drain, once."""
    run = start_agent(tmp_path / "data", **{
        "uplink.central": f"127.0.0.1:{endpoint.port}", "uplink.upload_timeout_seconds": UPLOAD_TIMEOUT_S,
        "uplink.status_poll_seconds": 600,
    })  # fmt: skip
    agent, central = run.agent, endpoint.central
    assert agent.uplink is not None and agent.alarms is not None
    uploader, outbox = agent.uplink.uploader, agent.uplink.outbox
    answered = _answered(run, 0, 3)
    wait_for(lambda: outbox.depth == 0, 20, "first events uploaded")
    assert "central_unreachable" not in agent.alarms.evaluate()

    central.delay = UPLOAD_TIMEOUT_S * 3  # slow: every upload past its deadline
    answered |= _answered(run, 10, 5)
    wait_for(lambda: uploader.failures >= 1, 10, "a slow upload counted as failed")
    assert "central_unreachable" in agent.alarms.evaluate()
    endpoint.down()  # gone: connections refused
    central.delay = 0
    answered |= _answered(run, 20, 5)
    depth = outbox.depth
    assert depth >= 5  # the queue grows while the central is away (nothing dropped)
    failures = uploader.failures
    wait_for(lambda: uploader.failures > failures, 15, "a refused connection counted")
    assert 0 < uploader.backoff_s <= 300.0  # within the capped exponential schedule
    central.lose_acks = 2  # back, but the first two acks are lost after storing
    endpoint.up()
    answered |= _answered(run, 30, 5)

    wait_for(lambda: outbox.depth == 0, 60, "backlog drained")
    stored = [p["judgement_id"] for p in central.payloads() if "alerts" in p]
    assert answered == set(stored)  # every check answered reached the central, none lost ...
    assert len(answered) == len(stored)  # ... each once (no check recorded twice under another event id)
    assert central.duplicates >= 1  # the lost acks made the agent send a batch again: deduplicated
    wait_for(lambda: "central_unreachable" not in agent.alarms.evaluate(), 10, "alarm cleared")
