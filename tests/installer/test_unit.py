"""The systemd unit the installer writes: `systemd-analyze verify` accepts it without a warning, and it carries
the hardening the issue asks for (no new privileges, strict read-only system, only data and log writable, restart
on failure, no capabilities, a syscall filter)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from fundguard.installer.layout import Layout
from fundguard.installer.render import render_unit

from .conftest import OfflineRun

pytestmark = pytest.mark.slow


def systemd_analyze() -> str:
    """The systemd-analyze binary, or a skip (a failure when FUNDGUARD_REQUIRE_INSTALLER_TOOLS is set)."""
    found = shutil.which("systemd-analyze")
    if found is None:
        if os.environ.get("FUNDGUARD_REQUIRE_INSTALLER_TOOLS"):
            pytest.fail("systemd-analyze is required (FUNDGUARD_REQUIRE_INSTALLER_TOOLS); Debian package systemd")
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    return found


def directives(text: str) -> dict[str, list[str]]:
    """KEY → values of every `KEY=value` line of a unit file (a key may repeat)."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key, []).append(value)
    return out


def test_systemd_analyze_verify_accepts_the_installed_unit(offline_run: OfflineRun) -> None:
    """`systemd-analyze verify` on the unit written by install.sh (its ExecStart is the installed release) exits 0
    and prints nothing: no unknown key, no bad value, the executable exists."""
    done = subprocess.run(
        [systemd_analyze(), "verify", str(offline_run.layout.unit)], capture_output=True, text=True, check=False
    )
    assert (0, "", "") == (done.returncode, done.stdout, done.stderr)


def test_systemd_analyze_verify_refuses_a_unit_whose_program_is_missing(tmp_path: Path) -> None:
    """The same check fails for the unit of a layout where nothing is installed: verify does look at ExecStart."""
    layout = Layout(prefix=tmp_path / "opt", data_dir=tmp_path / "data", log_dir=tmp_path / "log")
    unit = tmp_path / "fundguard.service"
    unit.write_text(render_unit(layout), encoding="utf-8")
    done = subprocess.run([systemd_analyze(), "verify", str(unit)], capture_output=True, text=True, check=False)
    assert 0 != done.returncode
    assert "fundguard is not executable" in done.stderr


def test_unit_is_hardened(offline_run: OfflineRun) -> None:
    """The unit runs the installed release as the service user, may write only the data and log directories, and
    drops privileges, capabilities and syscalls a gRPC server does not need."""
    layout = offline_run.layout
    unit = directives(layout.unit.read_text(encoding="utf-8"))
    expected = {
        "ExecStart": [f"{layout.prefix}/current/bin/fundguard serve --config {layout.etc_dir}/fundguard.toml"],
        "User": ["fundguard"],
        "Restart": ["on-failure"],
        "NoNewPrivileges": ["yes"],
        "ProtectSystem": ["strict"],
        "ProtectHome": ["yes"],
        "PrivateTmp": ["yes"],
        "ReadWritePaths": [f"{layout.data_dir} {layout.log_dir}"],
        "CapabilityBoundingSet": [""],
        "SystemCallFilter": ["@system-service", "~@privileged"],
        "RestrictAddressFamilies": ["AF_UNIX AF_INET AF_INET6"],
    }
    assert expected == {key: unit.get(key) for key in expected}


def test_security_exposure_is_rated_ok(offline_run: OfflineRun) -> None:
    """`systemd-analyze security --offline` rates the unit's exposure SAFE or OK (its own scale: SAFE, OK, MEDIUM,
    EXPOSED, UNSAFE); the overall line is printed for the record."""
    done = subprocess.run(
        [systemd_analyze(), "security", "--offline=true", str(offline_run.layout.unit)],
        capture_output=True,
        text=True,
        check=False,
    )
    (overall,) = [line for line in done.stdout.splitlines() if "Overall exposure level" in line]
    print(overall)
    rating = re.search(r": [\d.]+ ([A-Z]+)", overall)
    assert rating is not None, overall
    assert rating[1] in ("SAFE", "OK"), overall
