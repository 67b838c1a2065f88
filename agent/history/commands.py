"""`fundguard history …`: the patient-history store on the command line, for the hospital's IT.

```
fundguard history status [--config FILE | --data-dir DIR] [--json]     counts, visit dates, retention
fundguard history purge (--before YYYY-MM-DD | --retention) [--config FILE | --data-dir DIR] [--json]
fundguard history show PATN_ID [--config FILE | --data-dir DIR] [--json]   one patient's stored encounters
```
The store is the one the agent opens: `[history] path`, else `<[data] dir>/history.sqlite3`, read from `--config`
(and the environment, as `serve` does); `--data-dir DIR` names `DIR/history.sqlite3` directly. No command creates a
store. `purge --retention` drops what the agent's own purge would (encounters dated before today minus
`[history] retention_days`); `--before` what is dated before that day. They are safe while the agent runs (SQLite
WAL), but the agent keeps a purged patient's cached history until the entry expires (`cache_ttl_seconds`) or the
patient's next settlement. `show` prints the patient's data to the operator's terminal on purpose; the one log line
it writes (`history.shown`, for the audit trail) carries the patient id masked (`agent.log`).
Exit codes: 0 done; 1 `show` found nothing stored for the patient; 2 the command could not run (bad date, no
store, bad configuration), with a message naming the option.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fundguard.agent.console import write_utf8

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

    from fundguard.agent.config import LogSettings

    from .status import StoreSummary

__all__ = ["add_history_commands"]

EXIT_OK = 0
EXIT_NOTHING = 1
EXIT_FAILED = 2


class _Refused(Exception):
    """The command cannot run; the message names the option at fault."""


@dataclass(frozen=True, slots=True)
class _Target:
    """The store a command works on, the retention and logging configured for it."""

    path: Path
    retention_days: int
    enabled: bool
    where: str  # how the path was found, for messages
    log: LogSettings


def _out(args: argparse.Namespace, doc: dict[str, Any], lines: list[str]) -> None:
    text = json.dumps(doc, ensure_ascii=False, indent=2) if args.json else "\n".join(lines)
    write_utf8(sys.stdout, text + "\n")


def _target(args: argparse.Namespace) -> _Target:
    """The store file and retention from `--config` / `--data-dir` (and the environment); it must exist."""
    # Lazy: the config model pulls in pydantic, which `fundguard check` does not need.
    from fundguard.agent.config import ConfigError, load_settings  # noqa: PLC0415

    from .store import HISTORY_FILE  # noqa: PLC0415

    data_dir: Path | None = args.data_dir
    try:
        settings = load_settings(args.config, {"data.dir": data_dir} if data_dir is not None else None)
    except ConfigError as exc:
        source = f"--config {args.config}" if args.config is not None else "configuration (environment)"
        raise _Refused(f"{source}: {exc}") from None
    h = settings.history
    if data_dir is not None:
        path, where = data_dir / HISTORY_FILE, "--data-dir"
    else:
        path = h.path if h.path is not None else settings.data.dir / HISTORY_FILE
        where = "--config" if args.config is not None else "the default [data] dir"
    if not path.is_file():
        raise _Refused(f"no history store at {path} (from {where}; pass --config FILE or --data-dir DIR)")
    return _Target(path, h.retention_days, h.enabled, where, settings.log)


def _logger(target: _Target) -> FilteringBoundLogger:
    """The history logger; in a fresh process first the agent's masked logging on stderr, as `[log]` says."""
    import structlog  # noqa: PLC0415

    from fundguard.agent.log import configure_logging  # noqa: PLC0415

    if not structlog.is_configured():
        configure_logging(target.log)
    logger: FilteringBoundLogger = structlog.get_logger("fundguard.agent.history")
    return logger


def _day(raw: str, option: str) -> date:
    """`raw` as a day, strictly YYYY-MM-DD (Python 3.11 would also take 20240101 or 2024-W01-1)."""
    text = raw.strip()
    try:
        if len(text) != len("YYYY-MM-DD") or text[4] != "-" or text[7] != "-":
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise _Refused(f"{option}: {raw!r} is not a date (YYYY-MM-DD)") from None


def _counts_doc(summary: StoreSummary) -> dict[str, Any]:
    c = summary.counts
    return {"patients": summary.patients, "encounters": c.encounters, "settlements": c.settlements,
            "carried": c.carried, "diagnoses": summary.diagnoses, "lines": summary.lines,
            "oldest_visit": _iso(summary.oldest_visit), "newest_visit": _iso(summary.newest_visit)}  # fmt: skip


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _counts_lines(doc: dict[str, Any]) -> list[str]:
    dates = f"{doc['oldest_visit']} .. {doc['newest_visit']}" if doc["oldest_visit"] else "none"
    return [
        f"patients     {doc['patients']}",
        f"encounters   {doc['encounters']} ({doc['settlements']} settlements, {doc['carried']} carried by checks)",
        f"diagnoses    {doc['diagnoses']}",
        f"lines        {doc['lines']}",
        f"visit dates  {dates}",
    ]


def _cmd_status(args: argparse.Namespace) -> int:
    from .status import store_summary  # noqa: PLC0415

    target = _target(args)
    counts = _counts_doc(store_summary(target.path))
    cutoff = date.today() - timedelta(days=target.retention_days)
    doc = {"store": str(target.path), "enabled": target.enabled, **counts,
           "retention_days": target.retention_days, "purge_before": cutoff.isoformat()}  # fmt: skip
    lines = [f"store        {target.path}{'' if target.enabled else ' ([history] enabled = false)'}",
             *_counts_lines(counts),
             f"retention    {target.retention_days} days: visits before {cutoff} are purged"]  # fmt: skip
    _out(args, doc, lines)
    return EXIT_OK


def _cmd_purge(args: argparse.Namespace) -> int:
    from .status import store_summary  # noqa: PLC0415
    from .store import HistoryStore  # noqa: PLC0415

    before = _day(args.before, "--before") if args.before is not None else None
    if before is not None and before > date.today():  # would wipe today's and every earlier visit: a typo, surely
        raise _Refused(f"--before: {before} is in the future; pass today's date or earlier")
    target = _target(args)
    if before is None:
        before = date.today() - timedelta(days=target.retention_days)
    with HistoryStore(target.path) as store:
        removed = store.purge(before)
    remaining = _counts_doc(store_summary(target.path))
    _logger(target).info(
        "history.cli_purged", before=before.isoformat(), encounters=removed.encounters, lines=removed.lines,
        diagnoses=removed.diagnoses, patients=len(removed.patients),
    )  # fmt: skip
    doc = {"store": str(target.path), "before": before.isoformat(),
           "removed": {"encounters": removed.encounters, "diagnoses": removed.diagnoses, "lines": removed.lines,
                       "patients": len(removed.patients)},
           "remaining": remaining}  # fmt: skip
    lines = [f"purged visits before {before} from {target.path}: {removed.encounters} encounters, "
             f"{removed.diagnoses} diagnoses, {removed.lines} lines of {len(removed.patients)} patients",
             "remaining:", *(f"  {line}" for line in _counts_lines(remaining))]  # fmt: skip
    _out(args, doc, lines)
    return EXIT_OK


def _cmd_show(args: argparse.Namespace) -> int:
    from fundguard.agent.engine.history_model import encounter_date  # noqa: PLC0415

    from .store import HistoryStore  # noqa: PLC0415

    patn_id = args.patn_id.strip()
    if not patn_id:
        raise _Refused("PATN_ID: the patient id is empty")
    target = _target(args)
    with HistoryStore(target.path) as store:
        stored = store.load(patn_id)
    _logger(target).info("history.shown", patn_id=patn_id, encounters=len(stored))  # masked: an audit trail
    rows = []
    for e in stored:
        main = e.dscg_main_dise_codg or next((d.dise_codg for d in e.diagnoses if d.maindise_flag), "")
        rows.append({"visit_date": _iso(encounter_date(e)), "mdtrt_id": e.mdtrt_id, "med_type": e.med_type,
                     "adm_date": _iso(e.adm_date), "dscg_date": _iso(e.dscg_date), "main_diagnosis": main,
                     "lines": len(e.orders)})  # fmt: skip
    header = ("visit_date", "adm_date", "dscg_date", "mdtrt_id", "med_type", "main_diagnosis", "lines")
    table = [header, *(tuple(str(r[k] if r[k] is not None else "-") for k in header) for r in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = [f"patient {patn_id}: {len(rows)} encounters stored in {target.path}"]
    if rows:
        lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in table]
    _out(args, {"store": str(target.path), "patn_id": patn_id, "encounters": rows}, lines)
    return EXIT_OK if rows else EXIT_NOTHING


def _guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """`command` with refusals, a store that cannot be read and an unwritable disk as exit 2 and one line."""

    def run(args: argparse.Namespace) -> int:
        import sqlite3  # noqa: PLC0415

        try:
            return command(args)
        except _Refused as exc:
            write_utf8(sys.stderr, f"fundguard: history {args.history_command}: {exc}\n")
            return EXIT_FAILED
        except (OSError, sqlite3.Error) as exc:
            write_utf8(sys.stderr, f"fundguard: history {args.history_command}: {type(exc).__name__}: {exc}\n")
            return EXIT_FAILED

    return run


def _store_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--config", type=Path, default=None, metavar="FILE",
        help="the agent's TOML configuration: [history] path, else <[data] dir>/history.sqlite3",
    )  # fmt: skip
    where.add_argument(
        "--data-dir", type=Path, default=None, metavar="DIR", help="the agent's data dir: DIR/history.sqlite3"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def add_history_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `history status|purge|show` to the `fundguard` command's subparsers."""
    history = commands.add_parser("history", help="the patient-history store: counts, purge, one patient")
    sub = history.add_subparsers(dest="history_command", required=True, metavar="HISTORY_COMMAND")

    status = sub.add_parser("status", help="patients, encounters, settlements, lines, visit dates, retention")
    _store_options(status)
    status.set_defaults(func=_guarded(_cmd_status))

    purge = sub.add_parser("purge", help="remove encounters (with diagnoses and lines) dated before a day")
    when = purge.add_mutually_exclusive_group(required=True)
    when.add_argument("--before", default=None, metavar="YYYY-MM-DD", help="remove visits dated before this day")
    when.add_argument("--retention", action="store_true", help="before today minus [history] retention_days")
    _store_options(purge)
    purge.set_defaults(func=_guarded(_cmd_purge))

    show = sub.add_parser("show", help="one patient's stored encounters (prints patient data: for the operator)")
    show.add_argument("patn_id", metavar="PATN_ID", help="the patient id (参保人标识) as the HIS sends it")
    _store_options(show)
    show.set_defaults(func=_guarded(_cmd_show))
