"""The offline bundle installed with no network (a fresh network namespace): the installed agent answers a gRPC
Check and health, with exactly the pinned wheels of the bundle and the stubs generated into the installed package."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from fundguard.installer.manifest import read_manifest

from .conftest import OfflineRun

pytestmark = pytest.mark.slow


def test_the_namespace_has_no_network(offline_run: OfflineRun) -> None:
    """Inside the namespace where install.sh ran, no connection can leave the host: the install had no network."""
    if offline_run.mode != "netns":
        pytest.skip(f"the install ran with pip pointed at nothing instead of in a namespace: {offline_run.mode}")
    assert "unreachable" == offline_run.probe["network"]


def test_installed_agent_is_serving(offline_run: OfflineRun) -> None:
    """The agent started from the installed release with the installed config reports gRPC health SERVING and
    stops cleanly on SIGTERM."""
    assert ("SERVING", 0) == (offline_run.probe["health"], offline_run.probe["exit_code"]), offline_run.probe


def test_installed_agent_answers_check(offline_run: OfflineRun, bundle_dir: Path) -> None:
    """A Check of a male patient's female-only IUD order, sent with the installed package's generated stubs, gets
    the 药品区分性别使用 alert on line 6374 from the embedded KB the manifest names."""
    answer = offline_run.probe["check"]
    sex = [a["rx_ids"] for a in answer["alerts"] if a["rule_name"] == "药品区分性别使用"]
    manifest = read_manifest(bundle_dir)
    assert ("CHECK_OK", [["6374"]], str(manifest.kb_revision)) == (answer["status"], sex, answer["kb_revision"])


def test_release_holds_exactly_the_pinned_wheels(offline_run: OfflineRun, bundle_dir: Path) -> None:
    """The release venv holds exactly the bundle's wheels at their pinned versions (fundguard, every runtime
    dependency and pip), and the probe's stubs came from the release, not the dev tree."""
    manifest = read_manifest(bundle_dir)
    pinned = sorted(f"{w.name}=={w.version}" for w in manifest.wheels)
    installed = sorted(
        f"{name.lower().replace('_', '-').replace('.', '-')}=={version}"
        for name, _, version in (d.partition("==") for d in offline_run.probe["distributions"])
    )
    assert pinned == installed
    assert Path(offline_run.probe["fundguard_from"]).is_relative_to(offline_run.layout.releases)


def test_install_writes_config_and_directories_with_their_modes(offline_run: OfflineRun) -> None:
    """The install leaves the config 0640, the config, data, KB and log directories 0750, and the unit in place."""
    layout = offline_run.layout
    paths = (layout.config, layout.etc_dir, layout.data_dir, layout.kb_state, layout.kb_inbox, layout.log_dir)
    modes = [oct(stat.S_IMODE(path.stat().st_mode)) for path in paths]
    assert ["0o640", "0o750", "0o750", "0o750", "0o750", "0o750"] == modes
    assert layout.unit.is_file()
