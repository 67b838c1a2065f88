"""Build glue: map the repo's top-level folders under the `fundguard` namespace and generate proto code.

The design keeps `agent/`, `knowledge_base/`, `adapters/`, `central/` and `installer/` at the top of the repo; the
installed distribution puts them at `fundguard.agent`, `fundguard.knowledge_base`, ... so nothing squats a generic
name in site-packages. `fundguard` itself is a PEP 420 namespace (no `__init__.py`). The gRPC contract in
`proto/fundguard/v1/*.proto` is compiled at build time (grpcio-tools + mypy-protobuf) into `fundguard.v1`.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).parent
MAPPED = ("agent", "knowledge_base", "adapters", "central", "installer")
PROTO_ROOT = ROOT / "proto"


def _packages() -> tuple[list[str], dict[str, str]]:
    packages: list[str] = []
    package_dir: dict[str, str] = {}
    for top in MAPPED:
        for init in sorted((ROOT / top).rglob("__init__.py")):
            rel = init.parent.relative_to(ROOT)
            name = "fundguard." + ".".join(rel.parts)
            packages.append(name)
            package_dir[name] = rel.as_posix()
    return packages, package_dir


def _tool(name: str) -> str:
    """A console script of the build environment (pip puts its bin on PATH; a plain venv may not)."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if not found:
        raise SystemExit(f"{name} not found: install mypy-protobuf in the build environment")
    return found


class BuildWithProto(build_py):
    """build_py that also runs protoc (grpcio-tools) with the mypy-protobuf plugins into the build tree."""

    def run(self) -> None:
        super().run()
        generate_proto(Path(self.build_lib))


def generate_proto(out_dir: Path) -> None:
    # build-time dependencies (pyproject build-system.requires), imported only when a build runs
    import grpc_tools  # noqa: PLC0415
    from grpc_tools import protoc  # noqa: PLC0415

    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    if not protos:
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    well_known = str(Path(grpc_tools.__file__).parent / "_proto")
    plugins = [f"--plugin=protoc-gen-{name}={_tool(f'protoc-gen-{name}')}" for name in ("mypy", "mypy_grpc")]
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        *plugins,
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--mypy_out={out_dir}",
        f"--mypy_grpc_out={out_dir}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed on " + " ".join(protos))
    for pkg_dir in {(out_dir / p).parent for p in protos}:
        (pkg_dir / "py.typed").touch()


if __name__ == "__main__":  # setuptools' build backend runs this file as __main__; scripts/ import the helpers
    packages, package_dir = _packages()
    setup(
        packages=packages,
        package_dir=package_dir,
        package_data={
            "fundguard.knowledge_base": ["default/*.json", "default/*.md", "*.json", "README.md", "py.typed"],
            "fundguard.knowledge_base.importer": ["data/*.json", "data/*.md"],
            "fundguard.agent": ["py.typed"],
            "fundguard.agent.alerts": ["*.json"],
            "fundguard.agent.transport": ["alert_page/*"],
            "fundguard.adapters": ["py.typed"],
            "fundguard.installer": ["templates/*.in"],
        },
        cmdclass={"build_py": BuildWithProto},
    )
