"""The `fundguard` command: check a national 3101/3102 request, import the KB, serve gRPC.

```
fundguard check FILE|- [--kb PATH] [--lang zh-CN|en]     national-style JSON answer on stdout
fundguard kb import SRC [--out DIR] [--revision N] [--exclude-batch TAG]   bundle.json + review_report.md
fundguard kb keygen|build|sign|verify|diff|inspect …      signed bundle files (knowledge_base.bundle.commands)
fundguard feedback stats [--data-dir DIR]                 override rates per rule / practitioner (JSON)
fundguard trace import|lookup|generate|status …           the traceability-code ledger (agent.trace.commands)
fundguard history status|purge|show …                     the patient-history store (agent.history.commands)
fundguard serve [--grpc HOST:PORT] [--http HOST:PORT] [--mllp HOST:PORT] [--drop-dir DIR] [--code-map CSV]
                [--data-dir DIR] [--kb PATH] [--config FILE]
fundguard doctor [--config FILE]                          one OK/WARN/FAIL line per check; exit 0 healthy, 1 not
fundguard auth add-client|page-key …                      HIS client tokens, pop-up page keys (agent.auth.commands)
fundguard --version
```
Exit codes: 0 the command ran (a check with or without violations); 2 bad input, unreadable file, bad KB or
bad arguments. `check` always prints a national envelope on stdout (`infcode` -1 on failure) and, on failure,
one line naming the field on stderr.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tomllib
from collections.abc import Sequence
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from fundguard.adapters.his import nhsa_json
from fundguard.agent.auth.commands import add_auth_commands
from fundguard.agent.console import write_utf8
from fundguard.agent.engine.errors import FundguardError, InvalidField, KbInvalid, KbUnavailable
from fundguard.agent.history.commands import add_history_commands
from fundguard.agent.kb import KbStore
from fundguard.agent.service import CheckService
from fundguard.agent.trace.commands import add_trace_commands
from fundguard.knowledge_base import default_bundle_path
from fundguard.knowledge_base.bundle.commands import add_kb_commands

__all__ = ["main"]

EXIT_OK = 0
EXIT_FAILED = 2
MAX_REQUEST_BYTES = 32 * 1024 * 1024  # a 3101 with long history is a few MB; beyond this it is not a request
LOCALES = ("zh-CN", "en")
BUNDLE_NAME = "bundle.json"
REPORT_NAME = "review_report.md"


def _say(message: str) -> None:
    """One line on stderr."""
    write_utf8(sys.stderr, "fundguard: " + " ".join(message.split()) + "\n")


def _read_request(name: str) -> bytes:
    """The request bytes from FILE or stdin (`-`); FundguardError when unreadable or too large."""
    try:
        if name == "-":
            raw: bytes = sys.stdin.buffer.read(MAX_REQUEST_BYTES + 1)
        else:
            with Path(name).open("rb") as f:
                raw = f.read(MAX_REQUEST_BYTES + 1)
    except OSError as exc:
        raise FundguardError(f"cannot read {name}: {exc.strerror or exc}") from None
    if len(raw) > MAX_REQUEST_BYTES:
        raise InvalidField(f"request larger than {MAX_REQUEST_BYTES // (1024 * 1024)} MB", "")
    return raw


def _load_kb(path: Path | None) -> KbStore:
    """A store with the bundle at `path` (default: the embedded one) active; KbInvalid/KbUnavailable else."""
    bundle = path or default_bundle_path()
    store = KbStore()
    try:
        store.load(bundle)
    except FileNotFoundError:
        hint = "" if path else " (the embedded default bundle is missing; pass --kb PATH)"
        raise KbUnavailable(f"knowledge base not found: {bundle}{hint}") from None
    except OSError as exc:
        raise KbUnavailable(f"cannot read knowledge base {bundle}: {exc.strerror or exc}") from None
    except KbInvalid as exc:
        detail = exc.message if exc.field in ("", str(bundle)) else str(exc)
        raise KbInvalid(f"knowledge base {bundle} is not valid: {detail}") from None
    return store


def _print_json(doc: dict[str, Any]) -> None:
    write_utf8(sys.stdout, json.dumps(doc, ensure_ascii=False, indent=2) + "\n")


def _cmd_check(args: argparse.Namespace) -> int:
    received = datetime.now()
    try:
        doc = nhsa_json.load(_read_request(args.file))
        requests = nhsa_json.decode(doc, locale=args.lang)
        store = _load_kb(args.kb)
    except FundguardError as exc:
        what = "invalid request" if isinstance(exc, InvalidField) else "check failed"
        _print_json(nhsa_json.encode_error(exc, refmsg_time=received, respond_time=datetime.now()))
        _say(f"{what}: {exc}")
        return EXIT_FAILED
    service = CheckService(store)
    outcomes = [service.check(parsed) for parsed in requests]
    infno = nhsa_json.transaction(doc)
    _print_json(nhsa_json.encode(outcomes, requests, infno, refmsg_time=received, respond_time=datetime.now()))
    return EXIT_OK


def _cmd_kb_import(args: argparse.Namespace) -> int:
    # Lazy: the importer is a build tool; `check` and `serve` never need it.
    from fundguard.knowledge_base.importer import (  # noqa: PLC0415
        OverrideError,
        SourceError,
        import_points,
        render_report,
        write_bundle,
    )

    out: Path = args.out
    try:
        result = import_points(args.src, args.revision, overrides=args.overrides, exclude_batches=args.exclude_batch)
        write_bundle(result.bundle, out / BUNDLE_NAME)
        (out / REPORT_NAME).write_text(render_report(result.report), encoding="utf-8")
    except (SourceError, OverrideError) as exc:
        _say(f"kb import failed: {exc}")
        return EXIT_FAILED
    except OSError as exc:
        _say(f"kb import failed: cannot write to {out}: {exc.strerror or exc}")
        return EXIT_FAILED
    write_utf8(sys.stdout, f"{result.report.headline}\nwrote {out / BUNDLE_NAME} and {out / REPORT_NAME}\n")
    return EXIT_OK


def _cmd_feedback_stats(args: argparse.Namespace) -> int:
    # Lazy, as serve: only this command reads the agent's state.
    from fundguard.agent.app import DECISIONS_FILE  # noqa: PLC0415
    from fundguard.agent.feedback import DecisionStore  # noqa: PLC0415

    path = args.data_dir / DECISIONS_FILE
    if not path.is_file():
        _say(f"no decision store at {path} (pass --data-dir, the agent's [data] dir)")
        return EXIT_FAILED
    store = DecisionStore(path)
    try:
        _print_json({"decisions": store.count(), **store.override_rates()})
    finally:
        store.close()
    return EXIT_OK


def _cmd_serve(args: argparse.Namespace) -> int:
    # Lazy: the composition root pulls in grpc, config and logging; `check` must work without them.
    from fundguard.agent.app import run_serve  # noqa: PLC0415

    overrides = {
        "grpc.address": args.grpc,
        "http.address": args.http,
        "mllp.address": args.mllp,
        "drop.dir": args.drop_dir,
        "codes.map_file": args.code_map,
        "data.dir": args.data_dir,
        "kb.path": args.kb,
    }
    code: int = run_serve(args.config, overrides)
    return code


def _cmd_doctor(args: argparse.Namespace) -> int:
    # Lazy, as serve: the checks pull in grpc, cryptography and the config model.
    from fundguard.agent.ops.doctor import run_doctor  # noqa: PLC0415

    report = io.StringIO()
    code: int = run_doctor(args.config, report)
    write_utf8(sys.stdout, report.getvalue())  # UTF-8 whatever the console's locale
    return code


def _version() -> str:
    """The installed distribution's version; in a work tree (make dev) the one pyproject.toml declares."""
    try:
        return metadata.version("fundguard")
    except metadata.PackageNotFoundError:
        pass
    try:
        project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text("utf-8"))
        return f"{project['project']['version']} (work tree)"
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="fundguard", description="Hospital-side pre-settlement compliance agent (医保 事前/事中审核)."
    )
    parser.add_argument("--version", action="version", version=f"fundguard {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser("check", help="check a national 3101/3102 request; print the national response")
    check.add_argument("file", metavar="FILE|-", help="request JSON (envelope, input or data); - reads stdin")
    check.add_argument("--kb", type=Path, default=None, help="KB bundle (default: the embedded one)")
    check.add_argument("--lang", choices=LOCALES, default="zh-CN", help="language of vola_cont (default zh-CN)")
    check.set_defaults(func=_cmd_check)

    kb = commands.add_parser("kb", help="knowledge-base tools")
    kb_commands = kb.add_subparsers(dest="kb_command", required=True, metavar="KB_COMMAND")
    imp = kb_commands.add_parser("import", help="build bundle.json + review_report.md from published points")
    imp.add_argument("src", type=Path, metavar="SRC", help="folder with knowledge_points.jsonl …")
    imp.add_argument("--out", type=Path, default=Path("kb-out"), help="output folder (default ./kb-out)")
    imp.add_argument("--revision", type=int, default=1, help="bundle revision (default 1)")
    imp.add_argument("--overrides", type=Path, default=None, help="override table (default: the shipped one)")
    imp.add_argument(
        "--exclude-batch", action="append", default=[], metavar="TAG", help="leave out a batch (repeatable)"
    )
    imp.set_defaults(func=_cmd_kb_import)
    add_kb_commands(kb_commands)

    feedback = commands.add_parser("feedback", help="clinicians' decisions on alerts")
    feedback_commands = feedback.add_subparsers(dest="feedback_command", required=True, metavar="FEEDBACK_COMMAND")
    stats = feedback_commands.add_parser("stats", help="override rate per rule and per practitioner (JSON)")
    stats.add_argument("--data-dir", type=Path, default=Path("fundguard-data"), help="the agent's data dir")
    stats.set_defaults(func=_cmd_feedback_stats)

    serve = commands.add_parser("serve", help="serve the agent: gRPC, plus the HTTP/MLLP/drop-folder listeners enabled")
    serve.add_argument(
        "--grpc", default=None, metavar="HOST:PORT", help="gRPC listen address (default: the configuration's)"
    )
    serve.add_argument("--http", default=None, metavar="HOST:PORT", help="national 3101/3102/3103 + CDS Hooks HTTP")
    serve.add_argument("--mllp", default=None, metavar="HOST:PORT", help="HL7 v2 over MLLP")
    serve.add_argument("--drop-dir", type=Path, default=None, metavar="DIR", help="drop folder (inbox/ outbox/ …)")
    serve.add_argument("--code-map", type=Path, default=None, metavar="CSV", help="hosplist_code → hilist_code map")
    serve.add_argument("--data-dir", type=Path, default=None, metavar="DIR", help="durable state (decisions …)")
    serve.add_argument("--kb", type=Path, default=None, help="KB bundle (default: the embedded one)")
    serve.add_argument("--config", type=Path, default=None, help="TOML configuration file")
    serve.set_defaults(func=_cmd_serve)
    doctor = commands.add_parser("doctor", help="check this install (config, ports, KB, certificates, central, disk)")
    doctor.add_argument("--config", type=Path, default=None, help="TOML configuration file (as given to serve)")
    doctor.set_defaults(func=_cmd_doctor)
    add_trace_commands(commands)
    add_history_commands(commands)
    add_auth_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
