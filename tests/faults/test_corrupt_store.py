"""A store file overwritten with garbage: the agent refuses to start with a message naming the file, what it holds
and the commands that recover; `fundguard doctor` reports the same FAIL; following the message (the file moved aside
as `<file>.corrupt-<timestamp>`) the agent starts with a fresh store, the other stores' data untouched.

Chosen behaviour (documented in `agent/ops/integrity.py` and the README): refuse rather than replace silently — the
outbox holds events the central has not received, the decision store clinicians' decisions.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from fundguard.agent.app import DECISIONS_FILE, StartupError, build_agent
from fundguard.agent.config import load_settings
from fundguard.agent.ops import integrity
from fundguard.agent.ops.doctor import diagnose
from fundguard.agent.ops.findings import Level

from .conftest import Running, male_iud, settlement

STORES = ("decisions.sqlite3", "outbox.sqlite3", "trace.sqlite3", "history.sqlite3")


def _garbage_over_header(path: Path) -> None:
    path.write_bytes(os.urandom(path.stat().st_size))


def _garbage_over_a_page(path: Path) -> None:
    """The header stays, page 2 (the first table's root) is overwritten: found by the quick check."""
    with open(path, "r+b") as fh:
        fh.seek(4096)
        fh.write(os.urandom(4096))


def _settings(data: Path, central_port: int) -> object:
    return load_settings(None, {
        "grpc.address": "127.0.0.1:0", "data.dir": data, "uplink.central": f"127.0.0.1:{central_port}",
        "uplink.insecure": True, "uplink.agent_id": "agent-faults", "uplink.institution_code": "H11010800001",
        "uplink.identity": "full", "health.min_free_mb": 0,
    })  # fmt: skip


def test_the_doctor_and_the_agent_name_the_same_decisions_file() -> None:
    """integrity's file name for the decision store is the agent's."""
    assert DECISIONS_FILE == integrity.DECISIONS_FILE


@pytest.mark.parametrize("damage", [_garbage_over_header, _garbage_over_a_page], ids=["header", "page"])
@pytest.mark.parametrize("name", STORES)
def test_a_damaged_store_stops_the_start_with_the_file_named_and_the_way_back(
    tmp_path: Path, start_agent: Callable[..., Running], name: str, damage: Callable[[Path], None]
) -> None:
    """Garbage over one store file: StartupError naming it and the recovery command; the doctor FAILs on it; after
    the command the agent starts, answers checks, and the data of the other stores is still there."""
    data = tmp_path / "data"
    run = start_agent(data, **{"health.min_free_mb": 0})
    first = run.stub.Check(male_iud(1), timeout=10)
    assert run.stub.ConfirmSettlement(settlement(1), timeout=10).stored
    run.stop()
    port = int(str(run.agent.settings.uplink.central).rpartition(":")[2])
    damage(data / name)

    with pytest.raises(StartupError) as refused:
        build_agent(_settings(data, port))  # type: ignore[arg-type]
    message = str(refused.value)
    assert str(data / name) in message and "is damaged" in message

    command = re.search(r"for f in .*; fi; done", message)
    assert command is not None
    subprocess.run(["sh", "-c", command.group()], check=True)
    assert name in {p.name.split(".corrupt-")[0] for p in data.glob(f"{name}*.corrupt-*")}  # kept, moved aside

    again = start_agent(data, **{"health.min_free_mb": 0})
    assert len(first.alerts) == len(again.stub.Check(male_iud(2), timeout=10).alerts)
    if name != "history.sqlite3":  # the settlement stored before is still there (stored once)
        assert not again.stub.ConfirmSettlement(settlement(1), timeout=10).stored
    if name != "decisions.sqlite3":
        assert again.agent.issued.known(first.alerts[0].jr_id)


def test_the_doctor_fails_on_a_damaged_store_file(tmp_path: Path) -> None:
    """`fundguard doctor` with the agent's config: one FAIL naming the damaged file."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "history.sqlite3").write_bytes(b"not a database" * 100)
    config = tmp_path / "fundguard.toml"
    config.write_text(f'[data]\ndir = "{data}"\n[health]\nmin_free_mb = 0\n', encoding="utf-8")
    failed = [f for f in diagnose(config) if f.check == "stores" and f.level is Level.FAIL]
    assert 1 == len(failed) and str(data / "history.sqlite3") in failed[0].message
