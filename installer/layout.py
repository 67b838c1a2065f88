"""Where an installation lives: the prefix with its releases, and the config, data, log and unit directories.

```
/opt/fundguard/releases/<version>-<sha8>/   one venv per release (the fundguard wheel and every dependency)
/opt/fundguard/current -> releases/…        what the unit runs; `previous` is what `rollback` switches back to
/opt/fundguard/install.json                 the layout and history of this installation (upgrade/rollback read it)
/etc/fundguard/fundguard.toml               the agent's config (root:fundguard 0640), kept by upgrade and uninstall
/var/lib/fundguard/                         the agent's data (fundguard 0750): decisions, ledger, outbox, kb/, kb-inbox/
/var/log/fundguard/fundguard.log            the agent's JSON log lines (fundguard 0750)
/etc/systemd/system/fundguard.service       the hardened unit
```
Every directory is configurable, so tests (and staging installs) put a whole installation under a temp dir.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "CONFIG_NAME",
    "DEFAULT_LAYOUT",
    "LOGROTATE_NAME",
    "SERVICE_USER",
    "STATE_NAME",
    "UNIT_NAME",
    "Layout",
]

SERVICE_USER = "fundguard"
UNIT_NAME = "fundguard.service"
CONFIG_NAME = "fundguard.toml"
STATE_NAME = "install.json"
LOGROTATE_NAME = "fundguard"
_PATH_FIELDS = ("prefix", "etc_dir", "data_dir", "log_dir", "unit_dir", "logrotate_dir")


@dataclass(frozen=True, slots=True)
class Layout:
    """The directories of one installation and the service user that runs it."""

    prefix: Path = Path("/opt/fundguard")
    etc_dir: Path = Path("/etc/fundguard")
    data_dir: Path = Path("/var/lib/fundguard")
    log_dir: Path = Path("/var/log/fundguard")
    unit_dir: Path = Path("/etc/systemd/system")
    logrotate_dir: Path = Path("/etc/logrotate.d")
    user: str = SERVICE_USER

    @property
    def releases(self) -> Path:
        """The folder of release venvs."""
        return self.prefix / "releases"

    @property
    def current(self) -> Path:
        """The symlink to the release the service runs."""
        return self.prefix / "current"

    @property
    def previous(self) -> Path:
        """The symlink to the release `rollback` returns to."""
        return self.prefix / "previous"

    @property
    def state(self) -> Path:
        """install.json: this layout and the history of installs, upgrades and rollbacks."""
        return self.prefix / STATE_NAME

    @property
    def config(self) -> Path:
        """The agent's TOML config."""
        return self.etc_dir / CONFIG_NAME

    @property
    def trusted_keys(self) -> Path:
        """Public keys (*.pub) that KB bundles must be signed with."""
        return self.etc_dir / "trusted-keys"

    @property
    def kb_inbox(self) -> Path:
        """Where an operator copies signed KB bundles (`[kb] inbox` when enabled)."""
        return self.data_dir / "kb-inbox"

    @property
    def kb_state(self) -> Path:
        """The agent's last-good KB (agent.kb.sources.KB_STATE_DIR under the data dir)."""
        return self.data_dir / "kb"

    @property
    def unit(self) -> Path:
        """The systemd unit file."""
        return self.unit_dir / UNIT_NAME

    @property
    def logrotate(self) -> Path:
        """The logrotate snippet for the agent's log file."""
        return self.logrotate_dir / LOGROTATE_NAME

    def substitutions(self) -> dict[str, str]:
        """The values the templates (unit, config, logrotate) are rendered with."""
        return {**{name: str(getattr(self, name)) for name in _PATH_FIELDS}, "user": self.user}

    def to_json(self) -> dict[str, Any]:
        """The layout as JSON values (for install.json)."""
        return {key: str(value) for key, value in asdict(self).items()}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Layout:
        """The layout stored by `to_json`; KeyError/TypeError when the document is not one."""
        return cls(**{name: Path(doc[name]) for name in _PATH_FIELDS}, user=str(doc["user"]))

    @classmethod
    def load(cls, prefix: Path) -> Layout:
        """The layout recorded in PREFIX/install.json; FileNotFoundError when nothing is installed there."""
        doc = json.loads((prefix / STATE_NAME).read_text(encoding="utf-8"))
        return cls.from_json(doc["layout"])


DEFAULT_LAYOUT = Layout()
