"""The bundle's manifest: what it holds, pinned and hashed, so the target can check it before installing anything.

Three files at the bundle's top:
- `MANIFEST.json`: the fundguard version, the Python (`3.11`) and platform the wheelhouse was built for, the
  embedded KB's revision and SHA-256, every wheel with its name, version and SHA-256, and the SHA-256 of every
  other file in the bundle.
- `SHA256SUMS`: the same file hashes in `sha256sum -c` format, for checking a copy without Python.
- `requirements.txt`: every wheel as `name==version --hash=sha256:…`; the install runs pip with `--require-hashes`
  on it, so a wheel that is missing, extra in the closure or altered stops the install.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

__all__ = [
    "FORMAT",
    "MANIFEST_NAME",
    "REQUIREMENTS_NAME",
    "SUMS_NAME",
    "Manifest",
    "ManifestError",
    "PinnedWheel",
    "bundle_files",
    "pinned_requirements",
    "read_manifest",
    "sha256_file",
    "verify_files",
    "wheel_pin",
    "write_manifest",
]

FORMAT = "fundguard-offline-bundle"
FORMAT_VERSION = 1
MANIFEST_NAME = "MANIFEST.json"
SUMS_NAME = "SHA256SUMS"
REQUIREMENTS_NAME = "requirements.txt"
_UNHASHED = frozenset({MANIFEST_NAME, SUMS_NAME})
_WHEEL_NAME = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)(-\d[^-]*)?-[^-]+-[^-]+-[^-]+\.whl$")
_CHUNK = 1024 * 1024


class ManifestError(Exception):
    """The bundle's manifest is missing or unreadable, or a file does not match it."""


@dataclass(frozen=True, slots=True)
class PinnedWheel:
    """One wheel of the wheelhouse: its file name, project name, version and SHA-256."""

    file: str
    name: str
    version: str
    sha256: str


@dataclass(frozen=True, slots=True)
class Manifest:
    """What a bundle holds (see the module docstring)."""

    version: str
    python: str
    platform: str
    built_at: str
    kb_revision: int
    kb_sha256: str
    wheels: tuple[PinnedWheel, ...]
    files: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def wheel(self, name: str) -> PinnedWheel:
        """The pinned wheel of project NAME; ManifestError when the bundle has none."""
        for wheel in self.wheels:
            if wheel.name == name:
                return wheel
        raise ManifestError(f"the bundle has no {name} wheel")

    def to_json(self) -> dict[str, Any]:
        """The MANIFEST.json document."""
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "version": self.version,
            "python": self.python,
            "platform": self.platform,
            "built_at": self.built_at,
            "kb": {"revision": self.kb_revision, "sha256": self.kb_sha256},
            "wheels": [{"file": w.file, "name": w.name, "version": w.version, "sha256": w.sha256} for w in self.wheels],
            "files": dict(sorted(self.files.items())),
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Manifest:
        """Parse MANIFEST.json; ManifestError naming what is wrong."""
        if doc.get("format") != FORMAT or doc.get("format_version") != FORMAT_VERSION:
            raise ManifestError(f"not a {FORMAT} v{FORMAT_VERSION} manifest")
        try:
            return cls(
                version=str(doc["version"]),
                python=str(doc["python"]),
                platform=str(doc["platform"]),
                built_at=str(doc["built_at"]),
                kb_revision=int(doc["kb"]["revision"]),
                kb_sha256=str(doc["kb"]["sha256"]),
                wheels=tuple(PinnedWheel(**w) for w in doc["wheels"]),
                files=MappingProxyType({str(k): str(v) for k, v in doc["files"].items()}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestError(f"malformed manifest: {exc!r}") from None


def sha256_file(path: Path) -> str:
    """The hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def wheel_pin(path: Path) -> PinnedWheel:
    """Name, version and hash of a wheel file (from its PEP 427 file name); ManifestError when not a wheel name."""
    match = _WHEEL_NAME.match(path.name)
    if match is None:
        raise ManifestError(f"{path.name} is not a wheel file name")
    name = re.sub(r"[-_.]+", "-", match["name"]).lower()
    return PinnedWheel(path.name, name, match["version"], sha256_file(path))


def pinned_requirements(wheels: Iterable[PinnedWheel]) -> str:
    """requirements.txt for `pip install --require-hashes`: one `name==version --hash=sha256:…` per wheel."""
    return "".join(f"{w.name}=={w.version} --hash=sha256:{w.sha256}\n" for w in sorted(wheels, key=lambda w: w.name))


def bundle_files(root: Path) -> dict[str, str]:
    """SHA-256 of every regular file under ROOT (relative POSIX paths) except the manifest and the sums."""
    return {
        path.relative_to(root).as_posix(): sha256_file(path)
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.relative_to(root).as_posix() not in _UNHASHED
    }


def write_manifest(root: Path, manifest: Manifest) -> None:
    """Write MANIFEST.json and SHA256SUMS at ROOT."""
    text = json.dumps(manifest.to_json(), ensure_ascii=False, indent=2) + "\n"
    (root / MANIFEST_NAME).write_text(text, encoding="utf-8")
    sums = "".join(f"{digest}  {name}\n" for name, digest in sorted(manifest.files.items()))
    (root / SUMS_NAME).write_text(sums, encoding="utf-8")


def read_manifest(root: Path) -> Manifest:
    """The manifest at ROOT; ManifestError when missing or malformed."""
    try:
        doc = json.loads((root / MANIFEST_NAME).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ManifestError(f"{root / MANIFEST_NAME}: cannot read ({exc.strerror or exc})") from None
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{root / MANIFEST_NAME}: not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ManifestError(f"{root / MANIFEST_NAME}: not a JSON object")
    return Manifest.from_json(doc)


def verify_files(root: Path, manifest: Manifest) -> list[str]:
    """One line per file that is missing, altered or not in the manifest (empty: the bundle is intact)."""
    problems: list[str] = []
    found = bundle_files(root)
    for name, digest in sorted(manifest.files.items()):
        if name not in found:
            problems.append(f"{name}: missing")
        elif found[name] != digest:
            problems.append(f"{name}: SHA-256 differs from the manifest (altered or damaged copy)")
    problems.extend(f"{name}: not in the manifest" for name in sorted(set(found) - set(manifest.files)))
    for wheel in manifest.wheels:
        if manifest.files.get(f"wheelhouse/{wheel.file}") != wheel.sha256:
            problems.append(f"wheelhouse/{wheel.file}: pinned hash differs from the file list")
    return problems
