"""The `fundguard-installer` command (also `python3 fundguard-installer.pyz …` from an unpacked bundle).

```
fundguard-installer build [--source DIR] [--out DIR]       the offline bundle (needs a package index, once)
fundguard-installer verify BUNDLE                          check an unpacked bundle against its manifest
fundguard-installer install --bundle DIR [--prefix P] [--etc-dir D] [--data-dir D] [--log-dir D] [--unit-dir D]
                            [--logrotate-dir D] [--user NAME] [--python PY] [--no-system] [--no-start]
fundguard-installer upgrade --bundle DIR [--prefix P] [--python PY] [--no-system]
fundguard-installer rollback [--prefix P] [--no-system]
fundguard-installer uninstall [--prefix P] [--purge] [--no-system]
fundguard-installer status [--prefix P]                    JSON: current/previous release, layout, history
```
Host steps (service user, chown, systemctl) need root; `--no-system` skips them (and says which), for a staging
install under a temp dir. Exit codes: 0 done, 1 refused or failed (the message says why), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .build import BuildError, build_bundle
from .layout import DEFAULT_LAYOUT, Layout
from .lifecycle import InstallError, Outcome, install, rollback, status, uninstall, upgrade
from .manifest import ManifestError, read_manifest, verify_files
from .system import System

__all__ = ["build_parser", "main"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def _say(text: str) -> None:
    print(f"fundguard-installer: {text}", file=sys.stderr)


def _report(outcome: Outcome) -> None:
    print(f"{outcome.action}: current release {outcome.release or '(none)'}, previous {outcome.previous or '(none)'}")
    for note in outcome.notes:
        print(f"  {note}")


def _system(args: argparse.Namespace) -> System:
    return System(enabled=not args.no_system)


def _cmd_build(args: argparse.Namespace) -> int:
    archive = build_bundle(args.source.resolve(), args.out.resolve())
    print(archive)
    return EXIT_OK


def _cmd_verify(args: argparse.Namespace) -> int:
    manifest = read_manifest(args.bundle)
    problems = verify_files(args.bundle, manifest)
    for problem in problems:
        print(problem)
    if problems:
        return EXIT_FAILED
    print(f"fundguard {manifest.version} (Python {manifest.python}, {manifest.platform}, KB revision "
          f"{manifest.kb_revision}): {len(manifest.files)} files match the manifest")  # fmt: skip
    return EXIT_OK


def _cmd_install(args: argparse.Namespace) -> int:
    dirs = (args.prefix, args.etc_dir, args.data_dir, args.log_dir, args.unit_dir, args.logrotate_dir)
    layout = Layout(*dirs, user=args.user)
    _report(install(args.bundle.resolve(), layout, _system(args), args.python, start=not args.no_start))
    return EXIT_OK


def _cmd_upgrade(args: argparse.Namespace) -> int:
    _report(upgrade(args.bundle.resolve(), args.prefix, _system(args), args.python))
    return EXIT_OK


def _cmd_rollback(args: argparse.Namespace) -> int:
    _report(rollback(args.prefix, _system(args)))
    return EXIT_OK


def _cmd_uninstall(args: argparse.Namespace) -> int:
    _report(uninstall(args.prefix, _system(args), purge=args.purge))
    return EXIT_OK


def _cmd_status(args: argparse.Namespace) -> int:
    print(json.dumps(status(args.prefix), indent=2))
    return EXIT_OK


def _absolute(value: str) -> Path:
    return Path(value).absolute()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(prog="fundguard-installer", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    d = DEFAULT_LAYOUT

    build = commands.add_parser("build", help="build the offline bundle (tar.gz)")
    build.add_argument("--source", type=_absolute, default=Path.cwd(), help="fundguard source tree (default: .)")
    build.add_argument("--out", type=_absolute, default=Path("dist").absolute(), help="output folder (default dist)")
    build.set_defaults(func=_cmd_build, system=False)

    verify = commands.add_parser("verify", help="check an unpacked bundle against its manifest")
    verify.add_argument("bundle", type=_absolute, metavar="BUNDLE")
    verify.set_defaults(func=_cmd_verify, system=False)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--prefix", type=_absolute, default=d.prefix, help=f"install prefix (default {d.prefix})")
        sub.add_argument("--no-system", action="store_true", help="skip service user, chown and systemctl")

    def from_bundle(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--bundle", type=_absolute, required=True, help="the unpacked bundle folder")
        sub.add_argument("--python", default=sys.executable, help="interpreter for the venv (default: this one)")

    inst = commands.add_parser("install", help="first installation from an unpacked bundle")
    from_bundle(inst)
    common(inst)
    for flag, default, what in (("--etc-dir", d.etc_dir, "config"), ("--data-dir", d.data_dir, "data"),
                                ("--log-dir", d.log_dir, "log"), ("--unit-dir", d.unit_dir, "systemd unit"),
                                ("--logrotate-dir", d.logrotate_dir, "logrotate snippet")):  # fmt: skip
        inst.add_argument(flag, type=_absolute, default=default, help=f"{what} directory (default {default})")
    inst.add_argument("--user", default=d.user, help=f"service user (default {d.user})")
    inst.add_argument("--no-start", action="store_true", help="enable the service but do not start it")
    inst.set_defaults(func=_cmd_install, system=True)

    upg = commands.add_parser("upgrade", help="install a new release, keep data and config, keep the old for rollback")
    from_bundle(upg)
    common(upg)
    upg.set_defaults(func=_cmd_upgrade, system=True)

    back = commands.add_parser("rollback", help="switch back to the previous release")
    common(back)
    back.set_defaults(func=_cmd_rollback, system=True)

    rm = commands.add_parser("uninstall", help="remove the service and releases; keeps config, data, logs")
    common(rm)
    rm.add_argument("--purge", action="store_true", help="also remove config, data, logs and the service user")
    rm.set_defaults(func=_cmd_uninstall, system=True)

    stat = commands.add_parser("status", help="the installation under the prefix (JSON)")
    stat.add_argument("--prefix", type=_absolute, default=d.prefix, help=f"install prefix (default {d.prefix})")
    stat.set_defaults(func=_cmd_status, system=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; the exit code."""
    args = build_parser().parse_args(argv)
    os.umask(0o022)  # the service user must read the release whatever root's umask; private modes are set explicitly
    if args.system and not args.no_system and os.geteuid() != 0:
        _say(f"{args.command} creates a user and runs systemctl: run it as root, or pass --no-system")
        return EXIT_USAGE
    try:
        code: int = args.func(args)
    except (InstallError, BuildError, ManifestError) as exc:
        _say(f"{args.command} failed: {exc}")
        return EXIT_FAILED
    return code


if __name__ == "__main__":
    sys.exit(main())
