"""`fundguard-installer build`: one archive holding the wheelhouse (the fundguard wheel with its generated proto
code and default KB, every runtime dependency, pip), the installer, scripts, unit, config template, and a manifest
that pins and hashes all of it."""

from __future__ import annotations

import hashlib
import re
import subprocess
import tomllib
import zipfile
from pathlib import Path

import pytest

from fundguard.installer.build import PYZ_NAME, SCRIPTS
from fundguard.installer.manifest import REQUIREMENTS_NAME, read_manifest, verify_files
from tests.conftest import REPO

from .conftest import base_python

pytestmark = pytest.mark.slow


def canonical(requirement: str) -> str:
    """The project name of a PEP 508 requirement, normalised like wheel names (`fhir.resources` → fhir-resources)."""
    name = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert name is not None
    return re.sub(r"[-_.]+", "-", name[0]).lower()


def test_archive_holds_installer_scripts_unit_config_and_manifest(bundle_dir: Path, bundle_archive: Path) -> None:
    """The archive unpacks to one folder with the scripts (executable), the installer zipapp, the rendered unit,
    config and logrotate snippet, requirements, manifest and sums; the .sha256 beside it matches the archive."""
    top = sorted(p.name for p in bundle_dir.iterdir())
    expected = sorted([*SCRIPTS, PYZ_NAME, "MANIFEST.json", "SHA256SUMS", "README.txt", REQUIREMENTS_NAME,
                       "share", "wheelhouse"])  # fmt: skip
    assert expected == top
    assert all((bundle_dir / script).stat().st_mode & 0o111 for script in SCRIPTS)
    assert ["fundguard.logrotate", "fundguard.service", "fundguard.toml"] == sorted(
        p.name for p in (bundle_dir / "share").iterdir()
    )
    sums = bundle_archive.with_name(bundle_archive.name + ".sha256").read_text("utf-8")
    assert f"{hashlib.sha256(bundle_archive.read_bytes()).hexdigest()}  {bundle_archive.name}\n" == sums


def test_wheelhouse_covers_every_runtime_dependency(bundle_dir: Path) -> None:
    """Every dependency pyproject.toml declares has a wheel, and requirements.txt pins every wheel (fundguard and
    pip included) by version and SHA-256, as the manifest lists them."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]
    manifest = read_manifest(bundle_dir)
    names = {w.name for w in manifest.wheels}
    assert set() == {canonical(r) for r in project["dependencies"]} - names
    assert {"fundguard", "pip"} <= names
    pins = sorted(f"{w.name}=={w.version} --hash=sha256:{w.sha256}" for w in manifest.wheels)
    assert pins == sorted((bundle_dir / REQUIREMENTS_NAME).read_text("utf-8").splitlines())
    assert project["version"] == manifest.version


def test_fundguard_wheel_has_generated_proto_and_the_default_kb(bundle_dir: Path) -> None:
    """The fundguard wheel carries the proto modules generated at build time and the embedded default KB whose
    hash the manifest records, and the installer templates."""
    manifest = read_manifest(bundle_dir)
    with zipfile.ZipFile(bundle_dir / "wheelhouse" / manifest.wheel("fundguard").file) as wheel:
        names = set(wheel.namelist())
        kb = wheel.read("fundguard/knowledge_base/default/bundle.json")
    templates = "fundguard/installer/templates"
    wanted = {"fundguard/v1/compliance_pb2.py", "fundguard/v1/compliance_pb2_grpc.py",
              f"{templates}/fundguard.service.in", f"{templates}/fundguard.toml.in"}  # fmt: skip
    assert set() == wanted - names
    assert manifest.kb_sha256 == hashlib.sha256(kb).hexdigest()


def test_manifest_hashes_every_file_and_verify_names_an_altered_one(bundle_dir: Path, tmp_path: Path) -> None:
    """`verify` finds the bundle intact; in a copy with one byte of README.txt changed it names that file."""
    manifest = read_manifest(bundle_dir)
    assert [] == verify_files(bundle_dir, manifest)
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-al", str(bundle_dir), str(copy)], check=True)
    readme = copy / "README.txt"
    text = readme.read_text("utf-8")
    readme.unlink()
    readme.write_text(text.replace("offline", "offlinE", 1), encoding="utf-8")
    assert ["README.txt: SHA-256 differs from the manifest (altered or damaged copy)"] == verify_files(copy, manifest)


def test_installer_zipapp_runs_on_the_bare_python_and_keeps_exit_codes(bundle_dir: Path, tmp_path: Path) -> None:
    """The zipapp runs with the base Python (no venv, no dependency): `verify` of the bundle exits 0, of a folder
    without a manifest 1, and `uninstall` where nothing is installed 1 with the reason."""
    pyz = str(bundle_dir / PYZ_NAME)
    runs = [
        subprocess.run([base_python(), pyz, *args], capture_output=True, text=True, check=False)
        for args in (["verify", str(bundle_dir)], ["verify", str(tmp_path)],
                     ["uninstall", "--no-system", "--prefix", str(tmp_path / "none")])
    ]  # fmt: skip
    assert [0, 1, 1] == [run.returncode for run in runs]
    assert "fundguard is not installed under" in runs[2].stderr
