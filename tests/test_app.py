"""The composition root: build, start and stop an agent; `fundguard serve` exit codes and graceful SIGTERM."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from fundguard.agent.app import StartupError, build_agent, run_serve
from fundguard.agent.config import Settings, load_settings
from fundguard.agent.log import reset_logging
from fundguard.knowledge_base import default_bundle_path
from fundguard.v1 import compliance_pb2 as pb
from fundguard.v1 import compliance_pb2_grpc as pb_grpc

from .transport.agent_kb import IUD_CODE, write_small_bundle


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No FUNDGUARD_* variable leaks in; logging configured by run() is undone afterwards."""
    for name in list(os.environ):
        if name.upper().startswith("FUNDGUARD_"):
            monkeypatch.delenv(name)
    yield
    reset_logging()


def settings_for(kb: Path, **params: Any) -> Settings:
    """Settings on 127.0.0.1:0 with the given KB and parameter overrides."""
    overrides: dict[str, Any] = {"grpc.address": "127.0.0.1:0", "kb.path": kb}
    if params:
        overrides["kb.parameters"] = params
    return load_settings(None, overrides)


def iud_check() -> pb.CheckRequest:
    """A male patient ordered the female-only IUD."""
    return pb.CheckRequest(
        patient=pb.Patient(patn_id="P-12345601", gend="1", brdy="1951-08-27"),
        encounter=pb.Encounter(mdtrt_id="E-1", orders=[pb.Order(rx_id="6374", hilist_code=IUD_CODE, cnt="1")]),
    )


def test_build_start_check_stop(tmp_path: Path) -> None:
    """A built agent serves checks on its bound port with the injected clock, and stops cleanly."""
    agent = build_agent(settings_for(default_bundle_path()), clock=lambda: datetime(2026, 11, 1))
    agent.start()
    try:
        with grpc.insecure_channel(agent.address) as channel:
            response = pb_grpc.ComplianceAgentStub(channel).Check(iud_check())
            health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest()).status
    finally:
        agent.stop(grace=1)
    assert f"127.0.0.1:{agent.port}" == agent.address
    assert ("2026-11-01", agent.store.current.revision) == (response.service_date, response.kb_revision)
    assert health_pb2.HealthCheckResponse.SERVING == health
    assert not agent.health.serving


def test_kb_parameter_overrides_reach_the_active_kb(tmp_path: Path) -> None:
    """[kb.parameters] hosp_lv_rank re-ranks HOSP_LV codes in the KB the agent checks with."""
    agent = build_agent(settings_for(write_small_bundle(tmp_path), hosp_lv_rank={"11": 1}))
    try:
        assert (1, 3) == (agent.store.current.params.hosp_lv_rank["11"], agent.store.current.params.hosp_lv_rank["01"])
    finally:
        agent.stop(grace=0)


@pytest.mark.parametrize(
    ("content", "reason"),
    [(None, "No such file or directory"), ("{not json", "not JSON"), ('{"format": "other"}', "format")],
)
def test_unloadable_kb_is_a_startup_error(tmp_path: Path, content: str | None, reason: str) -> None:
    """A missing, malformed or foreign bundle stops the start with a message naming the file and why."""
    path = tmp_path / "bundle.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(StartupError) as err:
        build_agent(settings_for(path))
    assert str(err.value).startswith(f"cannot load the knowledge base {path}: ")
    assert reason in str(err.value)


def test_address_in_use_is_a_startup_error(tmp_path: Path) -> None:
    """A port another agent already listens on is a StartupError, not a shared port."""
    first = build_agent(settings_for(write_small_bundle(tmp_path)))
    try:
        with pytest.raises(StartupError, match="cannot listen on"):
            build_agent(replace(first.settings, grpc=replace(first.settings.grpc, address=first.address)))
    finally:
        first.stop(grace=0)


def test_serve_with_bad_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A configuration error is printed to stderr naming the key, exit code 2."""
    config = tmp_path / "fundguard.toml"
    config.write_text("[grpc]\nmax_workers = 0\n", encoding="utf-8")
    assert 2 == run_serve(config, {"grpc.address": "127.0.0.1:0"})
    assert "  grpc.max_workers: Input should be greater than 0\n" in capsys.readouterr().err


def test_serve_with_missing_kb_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A KB that cannot be loaded is a clear message on stderr and exit code 1, before listening."""
    missing = tmp_path / "missing.json"
    assert 1 == run_serve(None, {"grpc.address": "127.0.0.1:0", "kb.path": missing})
    err = capsys.readouterr().err
    assert f"fundguard: cannot load the knowledge base {missing}: No such file or directory" in err


def _lines(pipe: IO[str], out: queue.Queue[str]) -> None:
    for line in pipe:
        out.put(line)


def _wait_for(lines: queue.Queue[str], event: str, seen: list[str], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.1)
        except queue.Empty:
            continue
        seen.append(line)
        if line.startswith("{") and json.loads(line).get("event") == event:
            parsed: dict[str, Any] = json.loads(line)
            return parsed
    raise AssertionError(f"no {event} within {timeout}s; output: {''.join(seen)}")


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_gracefully_on_signal(sig: signal.Signals) -> None:
    """`fundguard serve` logs agent.started (address, KB revision, counts), answers, and exits 0 on SIGTERM/SIGINT."""
    kb = default_bundle_path()
    code = f"import sys; from pathlib import Path; from fundguard.agent.app import run_serve; " \
           f"sys.exit(run_serve(None, {{'grpc.address': '127.0.0.1:0', 'http.address': '127.0.0.1:0', " \
           f"'kb.path': Path({str(kb)!r})}}))"
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("FUNDGUARD_")}
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stderr is not None
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_lines, args=(proc.stderr, lines), daemon=True)
    reader.start()
    seen: list[str] = []
    try:
        started = _wait_for(lines, "agent.started", seen, timeout=60)
        assert {"address", "kb_revision", "kb_points", "kb_codes"} <= started.keys()
        assert started["kb_points"] > 0 and started["kb_codes"] > 0
        with grpc.insecure_channel(started["address"]) as channel:
            response = pb_grpc.ComplianceAgentStub(channel).Check(iud_check(), timeout=10)
        assert str(started["kb_revision"]) == response.kb_revision
        assert ["http"] == list(started["listeners"])
        proc.send_signal(sig)
        assert 0 == proc.wait(timeout=10)
        _wait_for(lines, "agent.stopped", seen, timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=5)
        proc.stderr.close()


def test_bad_code_map_is_a_startup_error_naming_the_line(tmp_path: Path) -> None:
    """A code map with a bad line stops the start with the file and line named."""
    codes = tmp_path / "codes.csv"
    codes.write_text("hosplist_code,hilist_code\nH1,\n", encoding="utf-8")
    settings = load_settings(None, {"grpc.address": "127.0.0.1:0", "codes.map_file": codes})
    with pytest.raises(StartupError, match=r"line 2: hilist_code is empty"):
        build_agent(settings)


def test_listener_that_cannot_bind_is_a_startup_error(tmp_path: Path) -> None:
    """An HTTP port already taken stops the agent's start (gRPC included) with the listener named."""
    first = build_agent(load_settings(None, {"grpc.address": "127.0.0.1:0", "http.address": "127.0.0.1:0"}))
    first.start()
    try:
        taken = first.listeners[0].address
        second = build_agent(load_settings(None, {"grpc.address": "127.0.0.1:0", "http.address": taken}))
        with pytest.raises(StartupError, match=f"cannot start the http listener on {taken}"):
            second.start()
    finally:
        first.stop(grace=0)
