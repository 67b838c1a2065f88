"""The `fundguard-central` command: serve the reference central platform, record sanctions, report, make dev certs.

```
fundguard-central serve [--listen HOST:PORT] [--db URL] (--certs DIR | --insecure) [--points FILE] [--bundles DIR]
                        [--workers N] [--max-wait SECONDS]
fundguard-central sanction [--db URL] --practitioner CODE (--act ACT | --points N) [--at YYYY-MM-DD]
                           [--institution H…] [--note TEXT] [--suspend-months 1-6] [--points-table FILE]
fundguard-central report [--db URL] [--institution H…]… [--json] [--as-of YYYY-MM-DD]
fundguard-central dev-certs --out DIR [--agent ID]… [--san NAME|IP]… [--force]
```
`--db` is a SQLAlchemy URL: `sqlite:///central.sqlite3` (the default) or `postgresql+psycopg://user@host/db`.
`sanction` may run while `serve` runs on the same database: agents' long polls see the change within a second.
Give `serve` and `sanction` the same points file. Exit codes: 0 done; 2 bad arguments or input (one line on stderr
naming the field); SIGINT/SIGTERM stop `serve` gracefully.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from types import FrameType

import sqlalchemy as sa

from .bundles import BUNDLE_PATH, BundleShelf, serve_bundles
from .devcerts import write_dev_certs
from .points import DEFAULT_TABLE, PointsTable, load_points_table
from .report import build_report, render_json, render_text
from .scoring import Scorer, china_today
from .server import CentralSettings, create_server, load_server_credentials
from .store import Store

__all__ = ["main"]

EXIT_OK = 0
EXIT_FAILED = 2
DEFAULT_DB = "sqlite:///central.sqlite3"
DEFAULT_LISTEN = "127.0.0.1:50052"
STOP_GRACE_S = 5.0


class UsageError(ValueError):
    """Bad input the user can fix; the message names the field."""


def _say(message: str) -> None:
    sys.stderr.write("fundguard-central: " + message + "\n")
    sys.stderr.flush()


def _day(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{field}: {text!r} is not a date (YYYY-MM-DD)") from None


def _table(path: str | None) -> PointsTable:
    return load_points_table(Path(path)) if path else DEFAULT_TABLE


def _serve(args: argparse.Namespace) -> int:
    table = _table(args.points)
    credentials = None if args.insecure else load_server_credentials(Path(args.certs))
    settings = CentralSettings(address=args.listen, workers=args.workers, max_wait_seconds=args.max_wait)
    server, port = create_server(Store.open(args.db), settings, credentials=credentials, table=table)
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    server.start()
    shelf_server = None
    if args.bundles:
        shelf_server, shelf_port = serve_bundles(args.bundles_listen, BundleShelf(Path(args.bundles)))
        shelf_host = args.bundles_listen.rpartition(":")[0]
        print(f"fundguard-central: KB bundles of {args.bundles} at http://{shelf_host}:{shelf_port}{BUNDLE_PATH}",
              flush=True)  # fmt: skip
    host = args.listen.rpartition(":")[0]
    mode = "insecure (no TLS)" if args.insecure else f"mTLS, clients of {Path(args.certs) / 'ca.pem'}"
    print(f"fundguard-central: serving on {host}:{port} ({mode})", flush=True)
    stop.wait()
    if shelf_server is not None:
        shelf_server.shutdown()
    server.stop(STOP_GRACE_S)
    print("fundguard-central: stopped", flush=True)
    return EXIT_OK


def _sanction(args: argparse.Namespace) -> int:
    store = Store.open(args.db)
    try:
        scorer = Scorer(store, _table(args.points_table))
        outcome = scorer.apply_sanction(
            args.practitioner,
            act=args.act,
            points=args.points,
            at=_day(args.at, "at") if args.at else None,
            institution_code=args.institution or "",
            note=args.note,
            suspend_months=args.suspend_months,
        )
    finally:
        store.close()
    after = outcome.after
    until = f" until {after.until.isoformat()}" if after.until is not None else ""
    change = f"revision {outcome.revision}" if outcome.revision is not None else "no status change"
    print(
        f"{args.practitioner}: +{outcome.points} points ({args.act or 'points'}), {after.points} in {after.year}: "
        f"{after.status}{until}; {change}"
    )
    return EXIT_OK


def _report(args: argparse.Namespace) -> int:
    today = _day(args.as_of, "as-of") if args.as_of else china_today()
    store = Store.open(args.db)
    try:
        reports = build_report(store, today, args.institution or ())
    finally:
        store.close()
    text = render_json(reports, today) if args.json else render_text(reports, today)
    sys.stdout.buffer.write(text.encode("utf-8"))
    sys.stdout.flush()
    return EXIT_OK


def _dev_certs(args: argparse.Namespace) -> int:
    extra = args.san or []
    ips = [name for name in extra if name.replace(".", "").isdigit() or ":" in name]
    dns = [name for name in extra if name not in ips]
    made = write_dev_certs(
        Path(args.out), args.agent or [], dns=["localhost", *dns], ips=["127.0.0.1", "::1", *ips], force=args.force
    )
    for path in made.written:
        print(path)
    if not made.written:
        print(f"nothing to do: {args.out} already holds these certificates (--force to issue new ones)")
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fundguard-central", description=(__doc__ or "").splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve CentralPlatform (gRPC)")
    serve.add_argument("--listen", default=DEFAULT_LISTEN, help=f"HOST:PORT (default {DEFAULT_LISTEN}; port 0: any)")
    serve.add_argument("--db", default=DEFAULT_DB, help=f"database URL (default {DEFAULT_DB})")
    tls = serve.add_mutually_exclusive_group(required=True)
    tls.add_argument("--certs", help="folder from dev-certs: ca.pem, server.pem, server.key (mTLS)")
    tls.add_argument("--insecure", action="store_true", help="no TLS (tests and local demos only)")
    serve.add_argument("--points", "--points-table", dest="points", help="points table (.toml or .json)")
    serve.add_argument("--workers", type=int, default=32, help="RPC threads (each waiting long poll holds one)")
    serve.add_argument("--max-wait", type=int, default=30, help="long-poll cap in seconds (default 30)")
    serve.add_argument("--bundles", help="folder of signed KB bundles (*.fgkb): the newest is served to the agents")
    serve.add_argument("--bundles-listen", default="0.0.0.0:8081",
                       help="HOST:PORT of the bundle shelf (GET /kb/current.fgkb; default 0.0.0.0:8081)")  # fmt: skip
    serve.set_defaults(run=_serve)

    sanction = commands.add_parser("sanction", help="give a practitioner points")
    sanction.add_argument("--db", default=DEFAULT_DB)
    sanction.add_argument("--practitioner", required=True, help="医保医师代码")
    what = sanction.add_mutually_exclusive_group(required=True)
    what.add_argument("--act", help="an act of the points table (e.g. art38_main)")
    what.add_argument("--points", type=int, help="a number of points (1-12)")
    sanction.add_argument("--at", help="date of the sanction (YYYY-MM-DD, default today)")
    sanction.add_argument("--institution", help="the institution it concerns (H + 11 digits)")
    sanction.add_argument("--note", default="", help="free text kept with the sanction")
    sanction.add_argument("--suspend-months", type=int, help="suspension if this crosses 9 points (1-6)")
    sanction.add_argument("--points-table", help="points table (.toml or .json); the same as serve's")
    sanction.set_defaults(run=_sanction)

    report = commands.add_parser("report", help="events, alerts, overrides, points and status per practitioner")
    report.add_argument("--db", default=DEFAULT_DB)
    report.add_argument("--institution", action="append", help="only this institution (repeatable)")
    report.add_argument("--json", action="store_true", help="JSON instead of text tables")
    report.add_argument("--as-of", help="the day points and statuses are taken on (default today in China)")
    report.set_defaults(run=_report)

    certs = commands.add_parser("dev-certs", help="a private CA, a server cert and client certs (development)")
    certs.add_argument("--out", required=True, help="folder to write (reused if it holds a CA)")
    certs.add_argument("--agent", action="append", help="an agent id: a client certificate with CN = ID (repeatable)")
    certs.add_argument("--san", action="append", help="another server name or IP (repeatable)")
    certs.add_argument("--force", action="store_true", help="issue new server and agent certificates")
    certs.set_defaults(run=_dev_certs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; the exit code."""
    args = _parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except ValueError as exc:  # UsageError, PointsFileError, SanctionRefused, a bad URL or address: named field
        _say(str(exc))
        return EXIT_FAILED
    except sa.exc.SQLAlchemyError as exc:
        _say(f"db: {type(exc).__name__}: {getattr(exc, 'orig', None) or exc}")
        return EXIT_FAILED
    return code


if __name__ == "__main__":
    sys.exit(main())
