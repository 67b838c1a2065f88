"""`fundguard doctor [--config FILE]`: is this install healthy? One line per check, then a verdict.

Checks, in order: the configuration (each error explained, from `ConfigError.problems`; nothing else is checked
without a valid one), the listening ports (free, or held by the running agent, or by another program), the
knowledge base (embedded default, the operator's bundle, last-good, trusted keys, inbox: `doctor_kb`), the uplink's
certificates and their expiry and whether the central platform answers (`doctor_uplink`), the data dir (writable,
free space), the store files (none damaged: `integrity`) and the outbox queue. Exit 0 when healthy (warnings
allowed), 1 when any check failed. It only reads (and writes one probe file in the data dir): it is safe to run
beside the running agent.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from fundguard.agent.auth.doctor import auth_findings
from fundguard.agent.config import ConfigError, Settings, load_settings

from .doctor_kb import kb_findings
from .doctor_ports import port_findings
from .doctor_uplink import central_findings, certificate_findings, queue_findings
from .findings import Finding, Level, render
from .integrity import store_findings
from .readiness import probe_writable

__all__ = ["EXIT_HEALTHY", "EXIT_PROBLEMS", "config_findings", "diagnose", "run_doctor"]

EXIT_HEALTHY = 0
EXIT_PROBLEMS = 1
DISK_WARNING_BYTES = 1024**3  # below 1 GiB free: warn (the outbox and the ledgers grow)
_MB = 1024 * 1024

# what to do about the usual configuration errors (matched on the problem text)
_HINTS = (
    ("unknown key", "not a fundguard setting: check its spelling and its [section] (README, Configuration)"),
    ("cannot read config file", "check the path given to --config and that the service user may read it"),
    ("not valid TOML", "fix the TOML syntax at the line given"),
    ("required when central is set", "the uplink needs these to reach the central platform (or unset central)"),
    ("trusted_keys", "a folder of the bureau's *.pub keys: bundles from the inbox or a poll URL are verified with it"),
    ("must be HOST:PORT", "an address to listen on, like 127.0.0.1:50051 or 0.0.0.0:8080"),
    ("Input should be", "the value is not one this key accepts"),
)


def _explain(problem: str) -> str:
    hints = [hint for needle, hint in _HINTS if needle in problem]
    return f"{problem} — {hints[0]}" if hints else problem


def config_findings(config_file: Path | None) -> tuple[list[Finding], Settings | None]:
    """The configuration's findings and the settings (None when invalid: each problem is one FAIL)."""
    try:
        settings = load_settings(config_file)
    except ConfigError as exc:
        return [Finding.fail("config", _explain(problem)) for problem in exc.problems], None
    where = str(config_file) if config_file is not None else "no file: defaults and FUNDGUARD_* variables"
    return [Finding.ok("config", f"{where}: valid")], settings


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def disk_findings(settings: Settings) -> Iterator[Finding]:
    """The data dir: writable (or creatable), and the free space on its disk."""
    data = settings.data.dir
    folder = _existing(data.resolve())
    problem = probe_writable(folder)
    if problem is not None:
        yield Finding.fail("data dir", problem)
    elif folder != data.resolve():
        yield Finding.ok("data dir", f"{data} does not exist yet; the agent will create it in {folder}")
    else:
        yield Finding.ok("data dir", f"{data} is writable")
    try:
        free = shutil.disk_usage(folder).free
    except OSError as exc:
        yield Finding.fail("disk", f"cannot read the free space of {folder} ({exc.strerror or exc})")
        return
    floor = settings.health.min_free_mb * _MB
    text = f"{free / 1024**3:.1f} GB free on the disk of {data}"
    if free < floor:
        yield Finding.fail("disk", f"{text}: below [health] min_free_mb ({settings.health.min_free_mb} MB), "
                                   "the agent reports NOT_SERVING")  # fmt: skip
    elif free < DISK_WARNING_BYTES:
        yield Finding.warn("disk", f"{text}: little room for the outbox and ledgers")
    else:
        yield Finding.ok("disk", text)


def diagnose(config_file: Path | None, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> list[Finding]:
    """Every finding, in report order."""
    findings, settings = config_findings(config_file)
    if settings is None:
        return findings
    findings += port_findings(settings)
    findings += auth_findings(settings)  # WARN when HIS clients are not authenticated ([auth] mode = none)
    findings += kb_findings(settings)
    findings += certificate_findings(settings.uplink, now())
    findings += central_findings(settings.uplink)
    findings += disk_findings(settings)
    findings += store_findings(settings)  # a damaged SQLite file stops the agent's start (integrity)
    findings += queue_findings(settings, now().timestamp())
    return findings


def run_doctor(config_file: Path | None, out: TextIO) -> int:
    """Print the report to `out`; EXIT_HEALTHY or EXIT_PROBLEMS."""
    findings = diagnose(config_file)
    out.write(render(findings))
    return EXIT_PROBLEMS if any(f.level is Level.FAIL for f in findings) else EXIT_HEALTHY
