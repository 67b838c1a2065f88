"""Offline installer for an air-gapped intranet server: build one archive, then install, upgrade, roll back and
uninstall fundguard from it without any network.

`build_bundle` (build.py) makes the archive on a machine with a package index; `install` / `upgrade` / `rollback` /
`uninstall` (lifecycle.py) run on the target, from the archive's `fundguard-installer.pyz` with the system python3.
The whole package is standard library only (preflight.py, run inside an installed release, is the one module that
imports the agent), so it works before any venv exists. The command line is `fundguard-installer` (cli.py).
"""

from .build import BuildError, build_bundle
from .layout import DEFAULT_LAYOUT, Layout
from .lifecycle import InstallError, Outcome, install, rollback, status, uninstall, upgrade
from .manifest import Manifest, ManifestError, read_manifest, verify_files
from .system import HostStepError, System

__all__ = [
    "DEFAULT_LAYOUT",
    "BuildError",
    "HostStepError",
    "InstallError",
    "Layout",
    "Manifest",
    "ManifestError",
    "Outcome",
    "System",
    "build_bundle",
    "install",
    "read_manifest",
    "rollback",
    "status",
    "uninstall",
    "upgrade",
    "verify_files",
]
