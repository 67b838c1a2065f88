"""Release venvs under PREFIX/releases and the `current` / `previous` symlinks that select one.

A release is a venv made with the target's Python and filled by pip from the bundle's wheelhouse only: no index
(`--no-index`), no pip configuration (`PIP_CONFIG_FILE=/dev/null`), every wheel checked against requirements.txt
(`--require-hashes`), pip itself run from its wheel in the wheelhouse (so the host needs no ensurepip). Its name is
`<version>-<first 8 hex of the fundguard wheel's SHA-256>`, so two builds of one version never share a folder.
Switching writes a new symlink beside the old one and renames it over (atomic).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from .layout import Layout
from .manifest import REQUIREMENTS_NAME, Manifest, ManifestError, read_manifest, verify_files

__all__ = [
    "ReleaseError",
    "checked_bundle",
    "create_release",
    "link_target",
    "prune_releases",
    "release_id",
    "switch_current",
]

WHEELHOUSE = "wheelhouse"
_PIP_TIMEOUT_SECONDS = 900


class ReleaseError(Exception):
    """A release cannot be made or selected; the message says why."""


def release_id(manifest: Manifest) -> str:
    """The folder name of the bundle's release: version and the fundguard wheel's hash prefix."""
    return f"{manifest.version}-{manifest.wheel('fundguard').sha256[:8]}"


def checked_bundle(bundle: Path, python: str) -> Manifest:
    """The manifest of the unpacked bundle at BUNDLE after checking every file's hash and that PYTHON (the
    interpreter the venv will use) is the version the wheelhouse was built for; ReleaseError else."""
    try:
        manifest = read_manifest(bundle)
    except ManifestError as exc:
        raise ReleaseError(f"not a usable bundle: {exc}") from None
    problems = verify_files(bundle, manifest)
    if problems:
        raise ReleaseError("the bundle does not match its manifest:\n  " + "\n  ".join(problems))
    done = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True, check=False
    )
    found = done.stdout.strip() if done.returncode == 0 else f"unusable ({done.stderr.strip()})"
    if found != manifest.python:
        raise ReleaseError(f"the bundle's wheels are for Python {manifest.python}; {python} is {found}")
    return manifest


def _offline_env() -> dict[str, str]:
    """The environment for pip: no configuration file, no PIP_* variable (an index URL, find-links …) of the host."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PIP_")}
    env.update({"PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    return env


def create_release(bundle: Path, manifest: Manifest, layout: Layout, python: str) -> str:
    """Make the release venv for BUNDLE under layout.releases; its id. A failed attempt leaves nothing behind."""
    rid = release_id(manifest)
    target = layout.releases / rid
    if target.exists():
        shutil.rmtree(target)  # a leftover of an interrupted attempt (the current release is never rebuilt)
    layout.releases.mkdir(parents=True, exist_ok=True)
    wheelhouse = bundle / WHEELHOUSE
    pip_wheel = wheelhouse / manifest.wheel("pip").file
    steps = [
        [python, "-m", "venv", "--without-pip", str(target)],
        [str(target / "bin" / "python"), f"{pip_wheel}/pip", "install", "--quiet", "--no-index", "--find-links",
         str(wheelhouse), "--require-hashes", "--only-binary", ":all:", "--no-cache-dir", "--requirement",
         str(bundle / REQUIREMENTS_NAME)],
    ]  # fmt: skip
    for argv in steps:
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, env=_offline_env(), timeout=_PIP_TIMEOUT_SECONDS, check=False
            )
        except subprocess.TimeoutExpired:
            shutil.rmtree(target, ignore_errors=True)
            raise ReleaseError(f"{argv[2]} did not finish in {_PIP_TIMEOUT_SECONDS} s") from None
        if done.returncode != 0:
            shutil.rmtree(target, ignore_errors=True)
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
            raise ReleaseError(f"creating release {rid} failed at `{' '.join(argv[:3])} …`:\n{tail}")
    return rid


def link_target(link: Path) -> str | None:
    """The release id a `current`/`previous` symlink points at, None when absent."""
    return Path(os.readlink(link)).name if link.is_symlink() else None


def _point(link: Path, rid: str | None) -> None:
    if rid is None:
        link.unlink(missing_ok=True)
        return
    fresh = link.with_name(f".{link.name}.new")
    fresh.unlink(missing_ok=True)
    fresh.symlink_to(Path("releases") / rid, target_is_directory=True)
    fresh.replace(link)


def switch_current(layout: Layout, rid: str, previous: str | None) -> None:
    """Point `current` at release RID and `previous` at PREVIOUS (removed when None)."""
    if not (layout.releases / rid / "bin" / "fundguard").is_file():
        raise ReleaseError(f"release {rid} is not installed under {layout.releases}")
    _point(layout.previous, previous)
    _point(layout.current, rid)


def prune_releases(layout: Layout) -> list[str]:
    """Remove every release that is neither current nor previous; the ids removed."""
    keep = {link_target(layout.current), link_target(layout.previous)}
    removed = []
    for folder in sorted(layout.releases.iterdir()) if layout.releases.is_dir() else ():
        if folder.name not in keep:
            shutil.rmtree(folder)
            removed.append(folder.name)
    return removed
