"""A Node.js client built at run time from proto/fundguard/v1/compliance.proto alone calls Check on the agent.

The agent runs in-process on 127.0.0.1:0 (`create_server`) with the embedded default KB. `npm ci` installs the
pinned @grpc/grpc-js and @grpc/proto-loader into tests/interop/node_modules once (skipped when they are there);
an npm failure fails the test. The test is skipped only when node or npm is not on PATH.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fundguard.agent.config import GrpcSettings, LogSettings
from fundguard.agent.kb import KbStore
from fundguard.agent.log import configure_logging, reset_logging
from fundguard.agent.service import CheckService
from fundguard.agent.transport.grpc_server import create_server
from fundguard.knowledge_base import default_bundle_path

HERE = Path(__file__).resolve().parent
PACKAGES = ("@grpc/grpc-js", "@grpc/proto-loader")
NPM_TIMEOUT_S = 300
NODE_TIMEOUT_S = 30

pytestmark = pytest.mark.slow


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not on PATH: the Node.js interop client cannot run")
    return path


def _installed() -> bool:
    modules = HERE / "node_modules"
    return all((modules / package / "package.json").is_file() for package in PACKAGES)


@pytest.fixture(scope="module")
def node() -> str:
    """The node executable, with the client's pinned packages installed (npm ci, once)."""
    node_exe = _tool("node")
    npm_exe = _tool("npm")
    if not _installed():
        command = "ci" if (HERE / "package-lock.json").is_file() else "install"
        done = subprocess.run(
            [npm_exe, command, "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT_S,
            check=False,
        )
        assert 0 == done.returncode, f"npm {command} failed:\n{done.stdout}\n{done.stderr}"
        assert _installed(), f"npm {command} did not install {', '.join(PACKAGES)}"
    return node_exe


@pytest.fixture(scope="module")
def agent_port() -> Iterator[int]:
    """The agent's gRPC server, in-process on 127.0.0.1:0, serving the embedded default KB."""
    configure_logging(LogSettings(level="warning"))
    store = KbStore()
    store.load(default_bundle_path())
    server, port = create_server(CheckService(store), GrpcSettings(address="127.0.0.1:0", max_workers=2))
    server.start()
    try:
        yield port
    finally:
        server.stop(0).wait()
        reset_logging()


def _run_client(node: str, port: int) -> dict[str, Any]:
    done = subprocess.run(
        [node, "client.mjs", f"127.0.0.1:{port}"],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_S,
        check=False,
    )
    assert 0 == done.returncode, f"node client failed:\n{done.stdout}\n{done.stderr}"
    response: dict[str, Any] = json.loads(done.stdout)
    return response


def test_node_client_gets_the_sex_alert(node: str, agent_port: int) -> None:
    """A client generated from the .proto alone gets one 药品区分性别使用 alert on line 6374 and the KB revision."""
    response = _run_client(node, agent_port)

    alerts = response["alerts"]
    assert 1 == len(alerts), alerts
    assert "药品区分性别使用" == alerts[0]["rule_name"]
    assert ["6374"] == alerts[0]["rx_ids"]
    assert "1153.00" == alerts[0]["vola_amt"]
    assert response["kb_revision"]
    assert "interop-node-1" == response["task_id"]
    assert "2026-11-01" == response["service_date"]
