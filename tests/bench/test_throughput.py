"""The throughput bench drives each kind of server with N calls in flight (figures printed, never asserted)."""

from __future__ import annotations

import pytest

from bench.encounters import build_encounters
from bench.grpc_bench import check_payload
from bench.payloads import hl7_frame, national_3101
from bench.throughput import SERVERS, measure, print_runs
from fundguard.agent.engine import CompiledKB


@pytest.mark.slow
def test_every_server_answers_at_each_level_without_errors(
    default_kb: CompiledKB, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each server (agent aio with and without budget, the thread-pool variant, the echo floor, the national JSON
    gateway, MLLP) answers calls at 1 and 3 in flight with no failed call, and its child process's RSS is read."""
    ten, _ = build_encounters(default_kb)
    payloads = {
        "grpc": check_payload(ten.request),
        "national": national_3101(ten.request),
        "mllp": hl7_frame(ten.request),
    }
    runs = measure(payloads, levels=(1, 3), seconds=0.1, warmup_s=0.05)
    assert [s.name for s in SERVERS] == [r.spec.name for r in runs]
    for run in runs:
        assert [1, 3] == [level.in_flight for level in run.levels]
        assert [0, 0] == [level.errors for level in run.levels], run.spec.name
        assert all(level.calls > 0 and level.per_s > 0 for level in run.levels)
        assert run.memory is not None and run.memory.rss_mib > 10
        doc = run.as_dict()
        assert {"name", "kind", "protocol", "levels", "rss_mib", "peak_rss_mib"} == set(doc)
    print_runs(runs)
    assert "HL7 v2 (MLLP)" in capsys.readouterr().out
