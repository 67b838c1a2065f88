"""The host-level steps of an installation: the service user, ownership of its directories, systemctl.

`System(enabled=True)` runs them (root only); `System(enabled=False)` (`--no-system`: tests, staging, a container
without systemd) skips each and remembers what it skipped, so the command can say so. Permissions (chmod) are not
host-level: they are applied either way. systemctl is skipped, with a note, where systemd is not running.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["HostStepError", "System"]

_NOLOGIN = ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false")
_SYSTEMD_RUNNING = Path("/run/systemd/system")


class HostStepError(Exception):
    """A host-level step failed (useradd, chown, systemctl); the message names the command and its output."""


@dataclass
class System:
    """Host-level steps, run when `enabled`, else skipped and listed in `skipped`."""

    enabled: bool
    skipped: list[str] = field(default_factory=list)

    def _skip(self, what: str) -> bool:
        if not self.enabled:
            self.skipped.append(what)
        return not self.enabled

    def _run(self, *argv: str) -> None:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise HostStepError(f"{' '.join(argv)} failed ({done.returncode}): {(done.stderr or done.stdout).strip()}")

    def ensure_user(self, user: str, home: Path) -> None:
        """Create the system user USER (own group, no login shell, home HOME not created) unless it exists."""
        if self._skip(f"create system user {user}"):
            return
        try:
            pwd.getpwnam(user)
        except KeyError:
            shell = next((s for s in _NOLOGIN if Path(s).exists()), _NOLOGIN[-1])
            self._run("useradd", "--system", "--user-group", "--no-create-home", "--home-dir", str(home),
                      "--shell", shell, "--comment", "fundguard compliance agent", user)  # fmt: skip

    def remove_user(self, user: str) -> None:
        """Delete the system user USER (and its group) if it exists."""
        if self._skip(f"delete system user {user}"):
            return
        try:
            pwd.getpwnam(user)
        except KeyError:
            return
        self._run("userdel", user)

    def own(self, path: Path, user: str, group: str) -> None:
        """chown PATH to USER:GROUP (names; "root" for root)."""
        if self._skip(f"chown {user}:{group} {path}"):
            return
        os.chown(path, pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid)

    def systemctl(self, *args: str) -> None:
        """Run `systemctl ARGS` (skipped, with a note, when systemd is not the running init)."""
        if self._skip("systemctl " + " ".join(args)):
            return
        if not _SYSTEMD_RUNNING.is_dir() or shutil.which("systemctl") is None:
            self.skipped.append("systemctl " + " ".join(args) + " (systemd is not running here)")
            return
        self._run("systemctl", *args)

    def unit_active(self, unit: str) -> bool:
        """Whether UNIT is running (False when the steps are skipped or systemd is not running)."""
        if not self.enabled or not _SYSTEMD_RUNNING.is_dir() or shutil.which("systemctl") is None:
            return False
        done = subprocess.run(["systemctl", "is-active", "--quiet", unit], check=False)
        return done.returncode == 0
