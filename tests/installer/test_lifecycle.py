"""Upgrade, rollback and uninstall with the bundle's scripts under a temp root (`--no-system`): data and config
survive an upgrade, rollback returns to the previous version, uninstall keeps data unless --purge; a tampered bundle
or a config the new release refuses changes nothing."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from fundguard.installer import InstallError, System, install, upgrade
from fundguard.installer.manifest import read_manifest

from .conftest import NEXT_VERSION, base_python, layout_args, layout_under, run_script

pytestmark = pytest.mark.slow


def ok(done: subprocess.CompletedProcess[str]) -> str:
    """The script's stdout, after asserting it succeeded."""
    assert 0 == done.returncode, done.stdout + done.stderr
    return done.stdout


def version_of(prefix: Path) -> str:
    """`fundguard --version` of the current release."""
    done = subprocess.run(
        [str(prefix / "current" / "bin" / "fundguard"), "--version"], capture_output=True, text=True, check=False
    )
    return ok(done).strip()


def test_upgrade_keeps_data_and_config_and_rollback_restores_the_previous_version(
    bundle_dir: Path, next_bundle_dir: Path, tmp_path: Path
) -> None:
    """install 0.1.0; the operator edits the config and the agent has data; upgrade.sh to 0.1.1 keeps both and runs
    0.1.1; rollback.sh runs 0.1.0 again, data and config still untouched."""
    layout = layout_under(tmp_path)
    ok(run_script(bundle_dir, "install.sh", *layout_args(layout)))
    config = layout.config.read_text("utf-8").replace('address = "127.0.0.1:50051"', 'address = "0.0.0.0:50051"')
    layout.config.write_text(config, encoding="utf-8")
    decisions = layout.data_dir / "decisions.sqlite3"
    decisions.write_bytes(b"the agent's data")
    first = version_of(layout.prefix)

    ok(run_script(next_bundle_dir, "upgrade.sh", "--no-system", "--prefix", str(layout.prefix)))
    upgraded = (version_of(layout.prefix), layout.config.read_text(encoding="utf-8"), decisions.read_bytes())
    assert (f"fundguard {NEXT_VERSION}", config, b"the agent's data") == upgraded

    ok(run_script(next_bundle_dir, "rollback.sh", "--no-system", "--prefix", str(layout.prefix)))
    rolled_back = (version_of(layout.prefix), layout.config.read_text(encoding="utf-8"), decisions.read_bytes())
    assert ("fundguard 0.1.0", config, b"the agent's data") == rolled_back
    assert "fundguard 0.1.0" == first


def test_uninstall_keeps_data_and_config_unless_purge(bundle_dir: Path, tmp_path: Path) -> None:
    """uninstall.sh removes the releases and the unit but keeps config, data and logs; a reinstall keeps that
    config; uninstall.sh --purge removes everything."""
    layout = layout_under(tmp_path)
    ok(run_script(bundle_dir, "install.sh", *layout_args(layout)))
    layout.config.write_text(layout.config.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    (layout.data_dir / "decisions.sqlite3").write_bytes(b"kept")

    ok(run_script(bundle_dir, "uninstall.sh", "--no-system", "--prefix", str(layout.prefix)))
    gone = [p.exists() for p in (layout.prefix, layout.unit, layout.logrotate)]
    kept = (layout.data_dir / "decisions.sqlite3").read_bytes(), layout.config.read_text("utf-8")
    assert ([False, False, False], b"kept", True) == (gone, kept[0], kept[1].endswith("# edited\n"))

    reinstalled = ok(run_script(bundle_dir, "install.sh", *layout_args(layout)))
    assert f"kept the existing {layout.config}" in reinstalled
    assert layout.config.read_text("utf-8").endswith("# edited\n")

    ok(run_script(bundle_dir, "uninstall.sh", "--no-system", "--purge", "--prefix", str(layout.prefix)))
    assert [] == [p for p in (layout.prefix, layout.etc_dir, layout.data_dir, layout.log_dir) if p.exists()]


def test_upgrade_refused_by_the_new_release_leaves_the_running_one(
    bundle_dir: Path, next_bundle_dir: Path, tmp_path: Path
) -> None:
    """When the new release refuses the kept config (here an unknown key), upgrade fails naming the key, removes the
    new release and leaves `current` where it was."""
    layout = layout_under(tmp_path)
    system = System(enabled=False)
    before = install(bundle_dir, layout, system, base_python())
    layout.config.write_text(layout.config.read_text("utf-8") + "\n[grpc_typo]\naddress = 1\n", encoding="utf-8")
    with pytest.raises(InstallError, match="grpc_typo: unknown key"):
        upgrade(next_bundle_dir, layout.prefix, system, base_python())
    assert ([before.release], before.release) == (
        sorted(p.name for p in layout.releases.iterdir()),
        layout.current.resolve().name,
    )


def test_tampered_bundle_is_refused_before_anything_is_installed(bundle_dir: Path, tmp_path: Path) -> None:
    """A bundle whose wheel differs from its manifest (a damaged USB copy) is refused naming the file, before any
    directory is made."""
    copy = tmp_path / "bundle"
    subprocess.run(["cp", "-al", str(bundle_dir), str(copy)], check=True)  # hard links: cheap, no bytes copied
    wheel = copy / "wheelhouse" / read_manifest(bundle_dir).wheel("structlog").file
    data = wheel.read_bytes()
    wheel.unlink()  # break the hard link before altering
    wheel.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    layout = layout_under(tmp_path / "root")
    with pytest.raises(InstallError, match=f"wheelhouse/{wheel.name}: SHA-256 differs"):
        install(copy, layout, System(enabled=False), base_python())
    assert not (tmp_path / "root").exists()
