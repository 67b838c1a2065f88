"""Run by the *installed* release's Python inside the test's network namespace: is there any network, does the
installed agent serve, what does it answer? Prints one JSON object on stdout.

`python netns_probe.py PREFIX CONFIG IUD_CODE`: starts `PREFIX/current/bin/fundguard serve --config CONFIG` on a
free loopback port, waits for gRPC health, sends one Check with the generated stubs of the installed package
(`fundguard.v1`), stops the agent with SIGTERM and reports. Only the standard library and the release's own
packages are imported, so nothing comes from the dev tree.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from fundguard.v1 import compliance_pb2 as pb
from fundguard.v1 import compliance_pb2_grpc as pb_grpc

OUTSIDE = ("192.0.2.1", 443)  # TEST-NET-1: any route out would at least try to reach it
START_SECONDS = 60.0


def network_out() -> str:
    """'unreachable' when no route leaves this namespace, else what a connect attempt gave."""
    try:
        with socket.create_connection(OUTSIDE, timeout=2):
            return "connected"
    except OSError as exc:
        return "unreachable" if exc.errno in (101, 113) else f"other: {exc}"  # ENETUNREACH, EHOSTUNREACH


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_serving(channel: grpc.Channel, agent: subprocess.Popen[bytes]) -> str:
    """The health status once the agent answers (or why it never did)."""
    health = health_pb2_grpc.HealthStub(channel)
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if agent.poll() is not None:
            return f"agent exited {agent.returncode}"
        try:
            reply = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
        except grpc.RpcError:
            time.sleep(0.2)
            continue
        if reply.status == health_pb2.HealthCheckResponse.SERVING:
            return "SERVING"
        time.sleep(0.2)
    return "no answer"


def check(channel: grpc.Channel, iud_code: str) -> dict[str, Any]:
    """A male patient ordered the female-only IUD: the alerts' rule names and line ids."""
    request = pb.CheckRequest(
        trig_scen="4",
        patient=pb.Patient(patn_id="P-12345601", gend="1", brdy="1951-08-27"),
        encounter=pb.Encounter(
            mdtrt_id="E-0001", med_type="21", insutype="390", medins_lv="01",
            orders=[pb.Order(rx_id="6374", hilist_code=iud_code, cnt="1", pric="1153")],
        ),
        service_date="2026-11-01",
    )  # fmt: skip
    reply = pb_grpc.ComplianceAgentStub(channel).Check(request, timeout=10)
    return {
        "status": pb.CheckStatus.Name(reply.status),
        "alerts": [{"rule_name": a.rule_name, "rx_ids": list(a.rx_ids)} for a in reply.alerts],
        "kb_revision": reply.kb_revision,
    }


def main() -> None:
    """Probe and print the JSON report."""
    prefix, config, iud_code = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    report: dict[str, Any] = {
        "network": network_out(),
        "python": sys.executable,
        "fundguard_from": str(Path(pb.__file__).resolve()),
        "distributions": sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions()),
    }
    address = f"127.0.0.1:{free_port()}"
    serve = [str(prefix / "current" / "bin" / "fundguard"), "serve", "--config", str(config), "--grpc", address]
    agent = subprocess.Popen(serve, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        with grpc.insecure_channel(address) as channel:
            report["health"] = wait_serving(channel, agent)
            if report["health"] == "SERVING":
                report["check"] = check(channel, iud_code)
    finally:
        agent.send_signal(signal.SIGTERM)
        _, err = agent.communicate(timeout=30)
        report["exit_code"] = agent.returncode
        report["agent_log_tail"] = err.decode("utf-8", "replace").splitlines()[-5:]
    print(json.dumps(report))


if __name__ == "__main__":
    main()
