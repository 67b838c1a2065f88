"""`python scripts/audit_dependencies.py [--python PY]`: known vulnerabilities in the installed dependencies (CI).

Audits every distribution installed in the environment of `--python` (default: this interpreter; CI passes
`.venv/bin/python`, where `make test` installed the runtime and test dependencies) except fundguard itself, with
`pip-audit` against PyPI's vulnerability data (the PyPA advisory database). Exit codes:

- 0: every dependency was audited and none has a known vulnerability;
- 1: a known vulnerability (each printed: package, version, advisory id, fixed versions) — CI fails;
- 2: the audit could not vouch for everything: pip-audit failed (no network, service down) or skipped packages it
  could not look up. CI fails here too: a silent pass would hide that nothing was checked (pip-audit itself exits 0
  and prints "No known vulnerabilities found" when every lookup failed). An operator who knowingly builds offline sets
  `FUNDGUARD_AUDIT_ALLOW_UNAUDITED=1`: the unaudited packages are then listed as a warning and the exit is 0.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

EXIT_CLEAN = 0
EXIT_VULNERABLE = 1
EXIT_UNAUDITED = 2
ALLOW_UNAUDITED = "FUNDGUARD_AUDIT_ALLOW_UNAUDITED"
OWN = ("fundguard",)


def judge(report: Mapping[str, Any], *, allow_unaudited: bool = False) -> tuple[int, list[str]]:
    """The exit code and the lines to print for a pip-audit JSON report."""
    lines: list[str] = []
    vulnerable, skipped, audited = [], [], 0
    for dep in report.get("dependencies", []):
        if dep.get("skip_reason"):
            skipped.append(f"{dep.get('name')}: {dep['skip_reason']}")
            continue
        audited += 1
        for vuln in dep.get("vulns", []):
            fixed = ", ".join(vuln.get("fix_versions", [])) or "no fixed version"
            vulnerable.append(f"{dep['name']} {dep.get('version', '?')}: {vuln.get('id')} (fixed in {fixed})")
    if vulnerable:
        lines += ["known vulnerabilities:", *(f"  {v}" for v in vulnerable)]
    if skipped:
        lines += [f"not audited ({len(skipped)} of {len(skipped) + audited}):", *(f"  {s}" for s in skipped)]
    if vulnerable:
        return EXIT_VULNERABLE, lines
    if skipped and not allow_unaudited:
        return EXIT_UNAUDITED, [*lines, f"the audit cannot vouch for these (set {ALLOW_UNAUDITED}=1 to accept)"]
    lines.append(f"{audited} dependencies audited: no known vulnerabilities")
    return EXIT_CLEAN, lines


def _requirements(python: str) -> str:
    """`name==version` of every distribution installed for `python`, fundguard excluded."""
    frozen = subprocess.run([python, "-m", "pip", "freeze", "--exclude-editable", "--all"], capture_output=True,
                            text=True, check=True).stdout  # fmt: skip
    keep = [line for line in frozen.splitlines() if "==" in line and not line.lower().startswith(OWN)]
    return "\n".join(keep) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Audit, print, return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable, help="the environment to audit (its interpreter)")
    args = parser.parse_args(argv)
    allow = os.environ.get(ALLOW_UNAUDITED, "") == "1"
    with tempfile.TemporaryDirectory() as scratch:
        requirements = Path(scratch) / "requirements.txt"
        requirements.write_text(_requirements(args.python), encoding="utf-8")
        done = subprocess.run(
            [sys.executable, "-m", "pip_audit", "-r", str(requirements), "--no-deps", "--disable-pip", "-f", "json",
             "--progress-spinner", "off"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        tail = "\n".join(done.stderr.strip().splitlines()[-3:])
        print(f"pip-audit failed (exit {done.returncode}): the dependencies were not audited\n{tail}", file=sys.stderr)
        return EXIT_CLEAN if allow else EXIT_UNAUDITED
    code, lines = judge(report, allow_unaudited=allow)
    print("\n".join(lines), file=sys.stderr if code else sys.stdout)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
