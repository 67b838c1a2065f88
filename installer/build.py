"""Build the offline bundle: one tar.gz with everything an air-gapped server needs to install fundguard.

Runs on a machine that reaches a package index (PyPI or a mirror, through pip's own configuration), with the same
Python minor version and platform as the target:

```
fundguard-offline-<version>-py311-linux_x86_64/
  install.sh upgrade.sh rollback.sh uninstall.sh   thin wrappers: python3 fundguard-installer.pyz <command> …
  fundguard-installer.pyz                          this package (stdlib only), taken from the fundguard wheel
  wheelhouse/*.whl                                 the fundguard wheel (generated proto code, default KB) + every
                                                   runtime dependency + pip, as wheels for this platform
  requirements.txt  MANIFEST.json  SHA256SUMS      pinned versions and hashes (manifest.py)
  share/fundguard.service  fundguard.toml  fundguard.logrotate   rendered for the default layout, for review
  README.txt
```
The fundguard wheel is built from a staged copy of the source (the package folders, `proto/`, `setup.py`,
`pyproject.toml`, `README.md`), so a build never writes into the work tree.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import zipapp
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from .layout import DEFAULT_LAYOUT
from .manifest import (
    REQUIREMENTS_NAME,
    Manifest,
    bundle_files,
    pinned_requirements,
    wheel_pin,
    write_manifest,
)
from .render import render_config, render_logrotate, render_unit

__all__ = ["PYZ_NAME", "SCRIPTS", "BuildError", "build_bundle", "stage_source"]

PYZ_NAME = "fundguard-installer.pyz"
WHEELHOUSE = "wheelhouse"
SCRIPTS = {"install.sh": "install", "upgrade.sh": "upgrade", "rollback.sh": "rollback", "uninstall.sh": "uninstall"}
_SOURCE_FILES = ("setup.py", "pyproject.toml", "README.md")
_KB_IN_WHEEL = "fundguard/knowledge_base/default/bundle.json"
_INSTALLER_IN_WHEEL = "fundguard/installer/"
_SCRIPT = """#!/bin/sh
# {command} fundguard with this offline bundle (no network needed); `{name} --help` lists the options.
# PYTHON selects the interpreter (default python3; it must be Python {python}, as the wheelhouse).
set -eu
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
exec "${{PYTHON:-python3}}" "$here/{pyz}" {command}{bundle} "$@"
"""
_PYZ_MAIN = "import sys\n\nfrom fundguard.installer.cli import main\n\nsys.exit(main())\n"
_README = """fundguard {version} offline bundle (Python {python}, {platform}, KB revision {kb_revision})

Check the copy:   sha256sum -c SHA256SUMS            (the install checks it again)
Install:          sudo ./install.sh                  (user fundguard, /opt/fundguard, /etc/fundguard/fundguard.toml,
                                                      /var/lib/fundguard, /var/log/fundguard, fundguard.service)
Upgrade:          sudo ./upgrade.sh                  (keeps data and config; the previous release stays for rollback)
Roll back:        sudo ./rollback.sh
Uninstall:        sudo ./uninstall.sh [--purge]      (keeps config, data and logs unless --purge)

Nothing here needs network access: pip installs only from wheelhouse/, with the hashes in requirements.txt.
The unit and config as they will be installed with the default paths are in share/.
"""


class BuildError(Exception):
    """The bundle cannot be built (source incomplete, pip failed); the message says why."""


def stage_source(source: Path, dest: Path) -> Path:
    """Copy what the wheel is built from (package folders, proto/, setup.py, pyproject.toml, README.md) to DEST."""
    missing = [name for name in _SOURCE_FILES if not (source / name).is_file()]
    if missing:
        raise BuildError(f"{source} is not a fundguard source tree (missing {', '.join(missing)})")
    dest.mkdir(parents=True)
    for name in _SOURCE_FILES:
        shutil.copy2(source / name, dest / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in sorted(p for p in source.iterdir() if p.is_dir()):
        if (folder / "__init__.py").is_file() or folder.name == "proto":
            shutil.copytree(folder, dest / folder.name, ignore=ignore)
    return dest


def _pip(*args: str) -> None:
    """Run this interpreter's pip; BuildError with pip's last lines when it fails."""
    done = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise BuildError(f"pip {args[0]} failed:\n{tail}")


def _wheelhouse(staged: Path, wheelhouse: Path) -> Path:
    """Build the fundguard wheel, then collect wheels of its whole dependency closure and pip; the fundguard wheel."""
    _pip("wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheelhouse), str(staged))
    built = sorted(wheelhouse.glob("fundguard-*.whl"))
    if len(built) != 1:
        raise BuildError(f"expected one fundguard wheel, pip built {[p.name for p in built]}")
    _pip("wheel", "--quiet", "--wheel-dir", str(wheelhouse), str(built[0]), "pip")
    strays = sorted(p.name for p in wheelhouse.iterdir() if p.suffix != ".whl")
    if strays:
        raise BuildError(f"the wheelhouse holds files that are not wheels: {strays}")
    return built[0]


def _installer_pyz(fundguard_wheel: Path, target: Path, scratch: Path) -> None:
    """A zipapp of fundguard.installer taken from the wheel itself (a regular `fundguard` package inside, since
    zipimport has no namespace packages), run with the target's system python3 before any venv exists."""
    tree = scratch / "pyz"
    with zipfile.ZipFile(fundguard_wheel) as wheel:
        members = [n for n in wheel.namelist() if n.startswith(_INSTALLER_IN_WHEEL) and not n.endswith("/")]
        if not members:
            raise BuildError(f"{fundguard_wheel.name} has no {_INSTALLER_IN_WHEEL}")
        wheel.extractall(tree, members)
    (tree / "fundguard" / "__init__.py").write_text('"""fundguard.installer, packed for the offline bundle."""\n')
    (tree / "__main__.py").write_text(_PYZ_MAIN)  # zipapp's own `main=` drops the exit code
    zipapp.create_archive(tree, target, interpreter="/usr/bin/env python3")


def _kb_facts(fundguard_wheel: Path) -> tuple[int, str]:
    """Revision and SHA-256 of the default KB embedded in the wheel."""
    with zipfile.ZipFile(fundguard_wheel) as wheel:
        try:
            data = wheel.read(_KB_IN_WHEEL)
        except KeyError:
            raise BuildError(f"{fundguard_wheel.name} has no {_KB_IN_WHEEL}") from None
    return int(json.loads(data)["revision"]), hashlib.sha256(data).hexdigest()


def _write_scripts(root: Path, python: str) -> None:
    for name, command in SCRIPTS.items():
        bundle = ' --bundle "$here"' if command in ("install", "upgrade") else ""
        text = _SCRIPT.format(command=command, name=name, python=python, pyz=PYZ_NAME, bundle=bundle)
        (root / name).write_text(text, encoding="utf-8")
        (root / name).chmod(0o755)


def build_bundle(source: Path, out_dir: Path) -> Path:
    """Build the offline bundle from the fundguard source tree SOURCE into OUT_DIR; the archive's path."""
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    with tempfile.TemporaryDirectory(prefix="fundguard-bundle-") as tmp:
        scratch = Path(tmp)
        wheelhouse = scratch / "wheels"
        fundguard_wheel = _wheelhouse(stage_source(source, scratch / "src"), wheelhouse)
        version = wheel_pin(fundguard_wheel).version
        name = f"fundguard-offline-{version}-py{python.replace('.', '')}-{platform}"
        root = scratch / "out" / name
        root.mkdir(parents=True)
        shutil.move(wheelhouse, root / WHEELHOUSE)
        fundguard_wheel = root / WHEELHOUSE / fundguard_wheel.name
        wheels = tuple(wheel_pin(p) for p in sorted((root / WHEELHOUSE).glob("*.whl")))
        (root / REQUIREMENTS_NAME).write_text(pinned_requirements(wheels), encoding="utf-8")
        _installer_pyz(fundguard_wheel, root / PYZ_NAME, scratch)
        _write_scripts(root, python)
        share = root / "share"
        share.mkdir()
        (share / "fundguard.service").write_text(render_unit(DEFAULT_LAYOUT), encoding="utf-8")
        (share / "fundguard.toml").write_text(render_config(DEFAULT_LAYOUT), encoding="utf-8")
        (share / "fundguard.logrotate").write_text(render_logrotate(DEFAULT_LAYOUT), encoding="utf-8")
        kb_revision, kb_sha256 = _kb_facts(fundguard_wheel)
        readme = _README.format(version=version, python=python, platform=platform, kb_revision=kb_revision)
        (root / "README.txt").write_text(readme, encoding="utf-8")
        built_at = datetime.now(UTC).isoformat(timespec="seconds")
        manifest = Manifest(version, python, platform, built_at, kb_revision, kb_sha256, wheels, bundle_files(root))
        write_manifest(root, manifest)
        out_dir.mkdir(parents=True, exist_ok=True)
        archive = out_dir / f"{name}.tar.gz"
        partial = archive.with_name(archive.name + ".part")
        with tarfile.open(partial, "w:gz") as tar:
            tar.add(root, arcname=name)
        partial.replace(archive)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    archive.with_name(archive.name + ".sha256").write_text(f"{digest}  {archive.name}\n", encoding="utf-8")
    return archive
