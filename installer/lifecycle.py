"""Install, upgrade, roll back and uninstall fundguard from an unpacked offline bundle.

- `install`: service user, directories with their owners and modes, a release venv from the wheelhouse (no
  network), the config template (only when no config exists), the unit and logrotate snippet, then enable + start.
- `upgrade`: a new release beside the running one, preflighted against the kept config before anything switches;
  stop, `current` → new, `previous` → old, start. Data and config are never touched; releases other than current
  and previous are removed.
- `rollback`: `current` and `previous` swap (after a preflight of the previous release against the config).
- `uninstall`: stop, disable, remove the unit and the prefix; config, data and logs stay unless `purge`.
Each returns an `Outcome`; a refusal or failure raises `InstallError` and leaves the running release in place.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .layout import UNIT_NAME, Layout
from .manifest import Manifest
from .releases import (
    ReleaseError,
    checked_bundle,
    create_release,
    link_target,
    prune_releases,
    release_id,
    switch_current,
)
from .render import render_config, render_logrotate, render_unit
from .system import HostStepError, System

__all__ = ["InstallError", "Outcome", "install", "rollback", "status", "uninstall", "upgrade"]

STATE_FORMAT = "fundguard-install"
EXAMPLE_SUFFIX = ".example"
_PRIVATE_DIR = 0o750
_CONFIG_MODE = 0o640
_PUBLIC_FILE = 0o644
_MIN_REMOVABLE_DEPTH = 3  # "/opt/fundguard" has 3 parts; never rmtree "/" or "/var"


class InstallError(Exception):
    """The operation was refused or failed; the message says why (the running release is untouched)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an operation did: the release now current, the one before it, and notes (host steps skipped, kept
    paths)."""

    action: str
    release: str | None
    previous: str | None
    notes: tuple[str, ...] = ()


def _installed(prefix: Path) -> Layout:
    try:
        return Layout.load(prefix)
    except FileNotFoundError:
        raise InstallError(f"fundguard is not installed under {prefix} (no install.json)") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InstallError(f"{prefix}/install.json is unreadable: {exc!r}") from None


def _save_state(layout: Layout, action: str, release: str) -> None:
    try:
        doc: dict[str, Any] = json.loads(layout.state.read_text(encoding="utf-8"))
    except FileNotFoundError:
        doc = {"format": STATE_FORMAT, "format_version": 1, "history": []}
    doc["layout"] = layout.to_json()
    doc["history"].append({"at": datetime.now(UTC).isoformat(timespec="seconds"), "action": action, "release": release})
    partial = layout.state.with_name(layout.state.name + ".new")
    partial.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    partial.replace(layout.state)


def _directory(path: Path, mode: int, system: System, owner: str, group: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(mode)
    system.own(path, owner, group)


def _prepare_dirs(layout: Layout, system: System) -> None:
    """The prefix (root, 0755), config dirs (root:user 0750), data, KB and log dirs (user 0750)."""
    layout.prefix.mkdir(parents=True, exist_ok=True)
    user = layout.user
    for path in (layout.etc_dir, layout.trusted_keys):
        _directory(path, _PRIVATE_DIR, system, "root", user)
    for path in (layout.data_dir, layout.kb_state, layout.kb_inbox, layout.log_dir):
        _directory(path, _PRIVATE_DIR, system, user, user)


def _write_config(layout: Layout, system: System) -> bool:
    """Write the config template when there is no config; always refresh the `.example` beside it. True when the
    config was written."""
    text = render_config(layout)
    example = layout.config.with_name(layout.config.name + EXAMPLE_SUFFIX)
    targets = [example] if layout.config.exists() else [layout.config, example]
    for path in targets:
        path.write_text(text, encoding="utf-8")
        path.chmod(_CONFIG_MODE)
        system.own(path, "root", layout.user)
    return layout.config in targets


def _write_host_files(layout: Layout) -> None:
    for path, text in ((layout.unit, render_unit(layout)), (layout.logrotate, render_logrotate(layout))):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        path.chmod(_PUBLIC_FILE)


def _preflight(layout: Layout, rid: str) -> str:
    """Run the release's preflight on the config; its version, or InstallError with the problems."""
    python = layout.releases / rid / "bin" / "python"
    argv = [str(python), "-m", "fundguard.installer.preflight", str(layout.config)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        problems = (done.stderr or done.stdout).strip()
        raise InstallError(f"release {rid} refuses {layout.config}:\n{problems}")
    return done.stdout.strip()


def _checked(bundle: Path, python: str) -> Manifest:
    try:
        return checked_bundle(bundle, python)
    except ReleaseError as exc:
        raise InstallError(str(exc)) from None


def _notes(system: System, *more: str) -> tuple[str, ...]:
    """MORE, then one line listing the host steps skipped (the chowns counted, not listed)."""
    if not system.skipped:
        return more
    chowns = sum(1 for step in system.skipped if step.startswith("chown "))
    steps = [step for step in system.skipped if not step.startswith("chown ")]
    return (*more, "skipped: " + "; ".join([*steps, *([f"chown of {chowns} paths"] if chowns else [])]))


def install(bundle: Path, layout: Layout, system: System, python: str, start: bool = True) -> Outcome:
    """First installation from the unpacked bundle BUNDLE, with the interpreter PYTHON for the venv."""
    if layout.state.exists() or layout.current.is_symlink():
        raise InstallError(f"fundguard is already installed under {layout.prefix}: use upgrade")
    manifest = _checked(bundle, python)
    try:
        system.ensure_user(layout.user, layout.data_dir)
        _prepare_dirs(layout, system)
        rid = create_release(bundle, manifest, layout, python)
        wrote = _write_config(layout, system)
        try:
            _preflight(layout, rid)
        except InstallError:
            shutil.rmtree(layout.releases / rid)
            raise
        switch_current(layout, rid, None)
        _write_host_files(layout)
        _save_state(layout, "install", rid)
        system.systemctl("daemon-reload")
        system.systemctl("enable", UNIT_NAME)
        if start:
            system.systemctl("restart", UNIT_NAME)
    except (HostStepError, ReleaseError) as exc:
        raise InstallError(str(exc)) from None
    kept = () if wrote else (f"kept the existing {layout.config} (template: {layout.config}{EXAMPLE_SUFFIX})",)
    return Outcome("install", rid, None, _notes(system, *kept))


def upgrade(bundle: Path, prefix: Path, system: System, python: str) -> Outcome:
    """Install the bundle's release beside the current one and switch to it; the old one stays for rollback."""
    layout = _installed(prefix)
    current = link_target(layout.current)
    manifest = _checked(bundle, python)
    rid = release_id(manifest)
    if rid == current:
        raise InstallError(f"release {rid} is already the current one")
    try:
        create_release(bundle, manifest, layout, python)
        _prepare_dirs(layout, system)
        _write_config(layout, system)
        try:
            _preflight(layout, rid)
        except InstallError:
            shutil.rmtree(layout.releases / rid)
            raise
        running = system.unit_active(UNIT_NAME)
        system.systemctl("stop", UNIT_NAME)
        switch_current(layout, rid, current)
        _write_host_files(layout)
        removed = prune_releases(layout)
        _save_state(layout, "upgrade", rid)
        system.systemctl("daemon-reload")
        if running:
            system.systemctl("start", UNIT_NAME)
    except (HostStepError, ReleaseError) as exc:
        raise InstallError(str(exc)) from None
    notes = [f"removed old release {r}" for r in removed]
    if not running:
        notes.append("the service was not running before the upgrade: not started")
    return Outcome("upgrade", rid, current, _notes(system, *notes))


def rollback(prefix: Path, system: System) -> Outcome:
    """Switch back to the previous release (the current one becomes `previous`, so a second rollback undoes it)."""
    layout = _installed(prefix)
    current, previous = link_target(layout.current), link_target(layout.previous)
    if previous is None or not (layout.releases / previous).is_dir():
        raise InstallError(f"no previous release under {layout.releases} to roll back to")
    _preflight(layout, previous)
    try:
        running = system.unit_active(UNIT_NAME)
        system.systemctl("stop", UNIT_NAME)
        switch_current(layout, previous, current)
        _write_host_files(layout)
        _save_state(layout, "rollback", previous)
        system.systemctl("daemon-reload")
        if running:
            system.systemctl("start", UNIT_NAME)
    except (HostStepError, ReleaseError) as exc:
        raise InstallError(str(exc)) from None
    return Outcome("rollback", previous, current, _notes(system))


def _check_removable(path: Path) -> None:
    if not path.is_absolute() or len(path.parts) < _MIN_REMOVABLE_DEPTH:
        raise InstallError(f"refusing to remove {path}: not a dedicated directory")


def _remove_tree(path: Path) -> None:
    _check_removable(path)
    shutil.rmtree(path, ignore_errors=True)


def uninstall(prefix: Path, system: System, purge: bool = False) -> Outcome:
    """Stop and remove the service and the releases; with PURGE also config, data, logs and the service user."""
    layout = _installed(prefix)
    current = link_target(layout.current)
    for path in (layout.prefix, *((layout.etc_dir, layout.data_dir, layout.log_dir) if purge else ())):
        _check_removable(path)  # before anything is removed
    try:
        system.systemctl("disable", "--now", UNIT_NAME)
        layout.unit.unlink(missing_ok=True)
        layout.logrotate.unlink(missing_ok=True)
        system.systemctl("daemon-reload")
        _remove_tree(layout.prefix)
        if purge:
            for path in (layout.etc_dir, layout.data_dir, layout.log_dir):
                _remove_tree(path)
            system.remove_user(layout.user)
    except HostStepError as exc:
        raise InstallError(str(exc)) from None
    kept = () if purge else tuple(f"kept {p}" for p in (layout.etc_dir, layout.data_dir, layout.log_dir))
    return Outcome("uninstall", None, current, _notes(system, *kept))


def status(prefix: Path) -> dict[str, Any]:
    """The installation at PREFIX: layout, current and previous release, releases present, history."""
    layout = _installed(prefix)
    doc: dict[str, Any] = json.loads(layout.state.read_text(encoding="utf-8"))
    releases = sorted(p.name for p in layout.releases.iterdir()) if layout.releases.is_dir() else []
    return {
        "current": link_target(layout.current),
        "previous": link_target(layout.previous),
        "releases": releases,
        "layout": layout.to_json(),
        "history": doc.get("history", []),
    }
