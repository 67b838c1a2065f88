"""Fixtures of the installer tests: the offline bundle built once per session (and a second, newer one for the
upgrade tests), unpacked; the bundle installed and probed inside a network namespace with no network.

Building needs a package index (pip's own configuration: PyPI or a mirror), as it does in CI; installing never
does. Where no namespace can be made (tools missing, or a container that forbids it) the install is probed with
pip pointed at nothing instead, and the no-network assertion is skipped saying why; missing tools are a failure
when FUNDGUARD_REQUIRE_INSTALLER_TOOLS is set (`.ci/run` sets it and installs them).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fundguard.installer.build import build_bundle, stage_source
from fundguard.installer.layout import Layout
from tests.conftest import REPO
from tests.samples import IUD_CODE

PROBE = Path(__file__).with_name("netns_probe.py")
NEXT_VERSION = "0.1.1"
INSTALL_TIMEOUT_SECONDS = 300


def base_python() -> str:
    """The interpreter a target's python3 stands for: this Python's own base installation (not the dev venv)."""
    return str(Path(sys._base_executable).resolve())


def unpack(archive: Path, dest: Path) -> Path:
    """Extract the bundle archive into DEST; the bundle folder."""
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    (folder,) = dest.iterdir()
    return folder


def layout_under(root: Path) -> Layout:
    """A whole installation under ROOT (the default paths, re-rooted)."""
    return Layout(
        prefix=root / "opt" / "fundguard",
        etc_dir=root / "etc" / "fundguard",
        data_dir=root / "var" / "lib" / "fundguard",
        log_dir=root / "var" / "log" / "fundguard",
        unit_dir=root / "etc" / "systemd" / "system",
        logrotate_dir=root / "etc" / "logrotate.d",
    )


def layout_args(layout: Layout) -> list[str]:
    """install.sh options for LAYOUT, host steps skipped."""
    return [
        "--no-system", "--prefix", str(layout.prefix), "--etc-dir", str(layout.etc_dir),
        "--data-dir", str(layout.data_dir), "--log-dir", str(layout.log_dir), "--unit-dir", str(layout.unit_dir),
        "--logrotate-dir", str(layout.logrotate_dir),
    ]  # fmt: skip


def run_script(bundle: Path, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run one of the bundle's scripts with the base Python; the finished process (not checked)."""
    env = {**os.environ, "PYTHON": base_python()}
    return subprocess.run(
        [str(bundle / script), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=INSTALL_TIMEOUT_SECONDS,
        check=False,
    )


@pytest.fixture(scope="session")
def bundle_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`fundguard-installer build` of this work tree (the one network-using step)."""
    return build_bundle(REPO, tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="session")
def bundle_dir(bundle_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundle unpacked, as an operator would with `tar xzf`."""
    return unpack(bundle_archive, tmp_path_factory.mktemp("bundle"))


@pytest.fixture(scope="session")
def next_bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle of the next version (this source with the version raised to 0.1.1), unpacked: the upgrade."""
    source = stage_source(REPO, tmp_path_factory.mktemp("next-src") / "src")
    pyproject = source / "pyproject.toml"
    text, count = re.subn(r'(?m)^version = "[^"]+"$', f'version = "{NEXT_VERSION}"', pyproject.read_text("utf-8"))
    assert 1 == count
    pyproject.write_text(text, encoding="utf-8")
    archive = build_bundle(source, tmp_path_factory.mktemp("next-dist"))
    return unpack(archive, tmp_path_factory.mktemp("next-bundle"))


@dataclass(frozen=True)
class OfflineRun:
    """The install in a namespace without network, and what the installed agent answered there."""

    mode: str  # "netns": a fresh network namespace; "no-index (why)": pip pointed at nothing, host network present
    layout: Layout
    install_output: str
    probe: dict[str, Any]


def _netns() -> tuple[list[str] | None, str]:
    """`unshare` arguments for a fresh network namespace with only loopback, or None and why that is impossible
    here. Missing tools fail the run when FUNDGUARD_REQUIRE_INSTALLER_TOOLS is set; a host that forbids namespaces
    (an unprivileged container) never does."""
    missing = [tool for tool in ("unshare", "ip") if shutil.which(tool) is None]
    if missing:
        if os.environ.get("FUNDGUARD_REQUIRE_INSTALLER_TOOLS"):
            pytest.fail(f"{' and '.join(missing)} required (FUNDGUARD_REQUIRE_INSTALLER_TOOLS): util-linux, iproute2")
        return None, f"{' and '.join(missing)} not installed"
    argv = ["unshare", "--net"] if os.geteuid() == 0 else ["unshare", "--net", "--map-root-user"]
    tried = subprocess.run([*argv, "true"], capture_output=True, text=True, check=False)
    if tried.returncode != 0:
        return None, f"cannot create a network namespace here: {tried.stderr.strip()}"
    return argv, ""


@pytest.fixture(scope="session")
def offline_run(bundle_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> OfflineRun:
    """install.sh run with no network (fresh namespace: `ip link set lo up` and nothing else), then the probe run
    by the installed release's Python in the same namespace."""
    layout = layout_under(tmp_path_factory.mktemp("offline-root"))
    install = [str(bundle_dir / "install.sh"), *layout_args(layout)]
    probe = [str(layout.current / "bin" / "python"), str(PROBE), str(layout.prefix), str(layout.config), IUD_CODE]
    script = " && ".join([
        "ip link set lo up",
        " ".join(f"'{a}'" for a in install),
        "echo '--- probe'",
        " ".join(f"'{a}'" for a in probe),
    ])  # fmt: skip
    netns, why_not = _netns()
    if netns is None:
        argv, mode = ["sh", "-c", script.removeprefix("ip link set lo up && ")], f"no-index ({why_not})"
        env = {**os.environ, "PYTHON": base_python(), "PIP_INDEX_URL": "http://127.0.0.1:9/", "PIP_FIND_LINKS": ""}
    else:
        argv, mode = [*netns, "sh", "-c", script], "netns"
        env = {**os.environ, "PYTHON": base_python()}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=INSTALL_TIMEOUT_SECONDS, check=False)
    assert 0 == done.returncode, f"offline install/probe failed ({mode}):\n{done.stdout}\n{done.stderr}"
    installed, _, probed = done.stdout.partition("--- probe\n")
    return OfflineRun(mode, layout, installed, json.loads(probed.strip().splitlines()[-1]))
