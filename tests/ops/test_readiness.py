"""gRPC health is real readiness: SERVING only while a KB is loaded, the stores are writable and the disk has room;
NOT_SERVING (with the reason) as soon as that stops holding, SERVING again once it is repaired."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from fundguard.agent.app import Agent, build_agent
from fundguard.agent.config import load_settings
from fundguard.agent.kb import KbStore
from fundguard.agent.ops import ReadinessProbe
from fundguard.knowledge_base import default_bundle_path

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def start_agent(data: Path, **overrides: Any) -> Agent:
    """A started agent on port 0 with its data in `data`, health re-evaluated every 50 ms."""
    settings = load_settings(None, {
        "grpc.address": "127.0.0.1:0", "kb.path": default_bundle_path(), "data.dir": data,
        "health.interval_seconds": 0.05, **overrides,
    })  # fmt: skip
    agent = build_agent(settings)
    agent.start()
    return agent


def health_of(agent: Agent) -> int:
    """The status the standard gRPC health service answers for the whole server."""
    with grpc.insecure_channel(agent.address) as channel:
        status: int = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5).status
    return status


def wait_for(predicate: Callable[[], bool], timeout: float = 10) -> bool:
    """Poll `predicate` until true or `timeout` seconds passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_no_kb_is_not_ready(tmp_path: Path) -> None:
    """Without a loaded knowledge base the probe says so, whatever the disk."""
    readiness = ReadinessProbe(lambda: KbStore().loaded, tmp_path).evaluate()
    assert ("no knowledge base loaded",) == readiness.problems
    assert not readiness.ready


def test_data_dir_gone_is_not_serving_then_serving_again(tmp_path: Path) -> None:
    """The data dir's volume vanishing (a file where the folder was) turns health NOT_SERVING, naming the folder;
    putting it back turns it SERVING again, without a restart."""
    data = tmp_path / "data"
    agent = start_agent(data)
    try:
        assert SERVING == health_of(agent)
        data.rename(tmp_path / "data.away")
        data.write_text("not a folder")
        assert wait_for(lambda: health_of(agent) == NOT_SERVING)
        assert any(str(data) in problem for problem in agent.health.problems), agent.health.problems
        data.unlink()
        (tmp_path / "data.away").rename(data)
        assert wait_for(lambda: health_of(agent) == SERVING)
        assert () == agent.health.problems
    finally:
        agent.stop(grace=1)


def test_disk_below_the_free_space_floor_is_not_serving(tmp_path: Path) -> None:
    """A disk with less free space than [health] min_free_mb (a full disk) keeps health NOT_SERVING, saying why."""
    huge = shutil.disk_usage(tmp_path).total // (1024 * 1024) + 1
    agent = start_agent(tmp_path / "data", **{"health.min_free_mb": huge})
    try:
        assert NOT_SERVING == health_of(agent)
        assert ["free on the disk"] == [p for p in ("free on the disk",) if p in " ".join(agent.health.problems)]
    finally:
        agent.stop(grace=1)


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True, check=False).returncode == 0


@pytest.fixture
def small_volume(tmp_path: Path) -> Iterator[Path]:
    """A 32 MB tmpfs mounted for the test (skipped where mounting is not permitted)."""
    mount_point = tmp_path / "volume"
    mount_point.mkdir()
    permitted = os.geteuid() == 0 and shutil.which("mount") is not None
    if not permitted or not _mount("-t", "tmpfs", "-o", "size=32m", "fundguard-test", str(mount_point)):
        pytest.skip("mounting a tmpfs needs root and CAP_SYS_ADMIN")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True, check=False)


def fill(path: Path) -> None:
    """Write zeros to `path` until the volume has no space left (unbuffered, down to single bytes)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1024 * 1024, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, bytes(size))
    finally:
        os.close(fd)


def test_full_volume_is_not_serving(small_volume: Path) -> None:
    """A data volume filled to the last byte turns health NOT_SERVING (the probe write finds no space) even with
    no free-space floor configured; freeing space turns it SERVING again."""
    agent = start_agent(small_volume / "data", **{"health.min_free_mb": 0})
    try:
        assert SERVING == health_of(agent)
        fill(small_volume / "ballast")
        assert wait_for(lambda: health_of(agent) == NOT_SERVING)
        assert any("not writable" in problem for problem in agent.health.problems), agent.health.problems
        (small_volume / "ballast").unlink()
        assert wait_for(lambda: health_of(agent) == SERVING)
    finally:
        agent.stop(grace=1)
