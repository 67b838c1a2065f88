"""The config template and the installer package itself: the template is a valid agent config for the layout it is
rendered for, so is every example it shows, and it names every settings section; the installer imports nothing
but the standard library (it runs on the target's bare python3), apart from the preflight run inside a release."""

from __future__ import annotations

import ast
import dataclasses
import re
import sys
from pathlib import Path

from fundguard.agent.config import Settings, load_settings
from fundguard.installer.layout import Layout
from fundguard.installer.render import render_config
from tests.conftest import REPO

LAYOUT = Layout(prefix=Path("/srv/fg/opt"), etc_dir=Path("/srv/fg/etc"), data_dir=Path("/srv/fg/data"))
EXAMPLE = re.compile(r"^# (\[[a-z_.]+\]|[a-z_]+ = .+)$")
AGENT_ONLY = {"preflight.py"}  # runs with the release's own Python, imports the agent lazily


def write(tmp_path: Path, text: str) -> Path:
    """TEXT as tmp_path/fundguard.toml."""
    path = tmp_path / "fundguard.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_rendered_template_is_a_valid_config_for_its_layout(tmp_path: Path) -> None:
    """The config as installed loads with the agent's settings model and keeps data in the layout's data dir."""
    settings = load_settings(write(tmp_path, render_config(LAYOUT)))
    assert (LAYOUT.data_dir, "127.0.0.1:50051", True) == (settings.data.dir, settings.grpc.address, settings.log.json)


def test_every_example_in_the_template_is_a_valid_setting(tmp_path: Path) -> None:
    """With every `# key = value` example line of the template switched on, the agent still accepts the config:
    no example names a key or value the settings model would refuse."""
    lines = render_config(LAYOUT).splitlines()
    enabled = [line[2:] if EXAMPLE.match(line) else line for line in lines]
    settings = load_settings(write(tmp_path, "\n".join(enabled) + "\n"))
    assert ("central.example.gov.cn:8443", LAYOUT.data_dir / "kb-inbox") == (settings.uplink.central, settings.kb.inbox)


def test_template_has_a_table_for_every_settings_section() -> None:
    """Each section of the agent's settings has its table in the template, so an operator sees them all."""
    tables = set(re.findall(r"(?m)^\[([a-z_]+)\]$", render_config(LAYOUT)))
    assert {f.name for f in dataclasses.fields(Settings)} == tables


def test_installer_imports_only_the_standard_library() -> None:
    """Every installer module except the preflight imports only the standard library or its own package."""
    foreign = []
    for path in sorted((REPO / "installer").glob("*.py")):
        if path.name in AGENT_ONLY:
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            foreign += [f"{path.name}: {n}" for n in names if n.partition(".")[0] not in sys.stdlib_module_names]
    assert [] == foreign
