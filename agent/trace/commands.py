"""`fundguard trace …`: the traceability-code ledger on the command line.

```
fundguard trace import FILE [--kind inbound|catalogue|nocode] [--ledger PATH | --data-dir DIR]
fundguard trace lookup CODE [--ledger PATH | --data-dir DIR]
fundguard trace generate N [FILE] [--ledger PATH | --data-dir DIR] [--products K] [--seed S]
fundguard trace status [--ledger PATH | --data-dir DIR]
```
The ledger is `<data dir>/trace.sqlite3` (the agent's `[data] dir`, default `fundguard-data`) unless `--ledger`
names a file. `import` shows a progress bar on stderr and prints a summary with every rejected line; exit codes:
0 all lines imported (or unchanged), 1 some lines rejected (the rest imported), 2 the command could not run.
`lookup` prints the code's parse, product, inbound record, 拆零 state and sales as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from fundguard.agent.console import write_utf8

from .ledger import LEDGER_FILE

if TYPE_CHECKING:
    from tqdm import tqdm

    from .ledger import TraceLedger

__all__ = ["add_trace_commands", "ledger_path"]

DEFAULT_DATA_DIR = Path("fundguard-data")  # as agent.config's [data] dir (not imported: it pulls in pydantic)
EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_FAILED = 2


def ledger_path(args: argparse.Namespace) -> Path:
    """The ledger file the command names: `--ledger`, else `<--data-dir>/trace.sqlite3`."""
    ledger: Path | None = args.ledger
    return ledger if ledger is not None else args.data_dir / LEDGER_FILE


def _out(text: str) -> None:
    write_utf8(sys.stdout, text)


def _err(text: str) -> None:
    write_utf8(sys.stderr, f"fundguard: {text}\n")


def _advance(bar: tqdm[NoReturn]) -> Callable[[int], None]:
    """A progress callback moving `bar` to the absolute position it is given."""

    def advance(done: int) -> None:
        bar.update(done - bar.n)

    return advance


def _cmd_import(args: argparse.Namespace) -> int:
    # Lazy, as the other commands' heavy modules: `fundguard check` must not pay for sqlite3 and tqdm.
    from tqdm import tqdm  # noqa: PLC0415

    from .importer import ImportFileError, ImportKind, import_file  # noqa: PLC0415
    from .ledger import TraceLedger  # noqa: PLC0415

    path: Path = args.file
    if not path.is_file():
        _err(f"trace import: no file {path}")
        return EXIT_FAILED
    with (
        TraceLedger(ledger_path(args)) as ledger,
        tqdm(total=path.stat().st_size, unit="B", unit_scale=True, desc=path.name, file=sys.stderr) as bar,
    ):
        try:
            report = import_file(ledger, path, ImportKind(args.kind), datetime.now(), progress=_advance(bar))
        except ImportFileError as exc:
            _err(f"trace import: {exc}")
            return EXIT_FAILED
    lines = [
        f"{report.kind} {report.source}: {report.records} records, {report.added} added, "
        f"{report.unchanged} unchanged, {report.updated} updated, {len(report.rejected)} rejected"
    ]
    lines += [f"line {r.line}: {r.reason}" for r in report.rejected]
    _out("\n".join(lines) + "\n")
    return EXIT_REJECTED if report.rejected else EXIT_OK


def _open_existing(args: argparse.Namespace) -> TraceLedger | None:
    from .ledger import TraceLedger  # noqa: PLC0415

    path = ledger_path(args)
    if not path.is_file():
        _err(f"no trace ledger at {path} (pass --ledger PATH or --data-dir DIR)")
        return None
    return TraceLedger(path)


def _cmd_lookup(args: argparse.Namespace) -> int:
    ledger = _open_existing(args)
    if ledger is None:
        return EXIT_FAILED
    with ledger:
        found = ledger.lookup(args.code)
    _out(json.dumps(found, ensure_ascii=False, indent=2) + "\n")
    return EXIT_OK


def _cmd_status(args: argparse.Namespace) -> int:
    ledger = _open_existing(args)
    if ledger is None:
        return EXIT_FAILED
    with ledger:
        counts = ledger.counts()
    _out(json.dumps({"ledger": str(ledger_path(args)), **counts}, ensure_ascii=False, indent=2) + "\n")
    return EXIT_OK


def _cmd_generate(args: argparse.Namespace) -> int:
    from tqdm import tqdm  # noqa: PLC0415

    from .generate import load_ledger, write_csv  # noqa: PLC0415
    from .ledger import TraceLedger  # noqa: PLC0415

    if args.file is None and args.ledger is None and args.data_dir is None:
        _err("trace generate: name a FILE, --ledger PATH or --data-dir DIR")
        return EXIT_FAILED
    if args.count <= 0 or args.products <= 0:
        _err("trace generate: N and --products must be positive")
        return EXIT_FAILED
    options = {"products": args.products, "seed": args.seed}
    if args.file is not None:
        with tqdm(total=args.count, unit="code", unit_scale=True, desc="csv", file=sys.stderr) as bar:
            cat = write_csv(args.file, args.count, progress=_advance(bar), **options)
        _out(f"wrote {args.count} codes to {args.file} and the catalogue to {cat}\n")
    if args.ledger is not None or args.data_dir is not None:
        args.data_dir = args.data_dir or DEFAULT_DATA_DIR
        with (
            TraceLedger(ledger_path(args)) as ledger,
            tqdm(total=args.count, unit="code", unit_scale=True, desc="ledger", file=sys.stderr) as bar,
        ):
            added = load_ledger(ledger, args.count, datetime.now(), progress=_advance(bar), **options)
        _out(f"added {added} codes to {ledger_path(args)}\n")
    return EXIT_OK


def _ledger_options(parser: argparse.ArgumentParser, *, data_dir_default: Path | None = DEFAULT_DATA_DIR) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--ledger", type=Path, default=None, metavar="PATH", help="the ledger file")
    where.add_argument(
        "--data-dir",
        type=Path,
        default=data_dir_default,
        metavar="DIR",
        help=f"the agent's data dir: the ledger is DIR/trace.sqlite3 (default {DEFAULT_DATA_DIR})",
    )


def add_trace_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `trace import|lookup|generate|status` to the `fundguard` command's subparsers."""
    trace = commands.add_parser("trace", help="drug traceability codes (追溯码): the local ledger")
    sub = trace.add_subparsers(dest="trace_command", required=True, metavar="TRACE_COMMAND")

    imp = sub.add_parser("import", help="import inbound codes, the catalogue or the 无码库 (CSV / JSON / JSON Lines)")
    imp.add_argument("file", type=Path, metavar="FILE")
    imp.add_argument("--kind", choices=("inbound", "catalogue", "nocode"), default="inbound", help="default inbound")
    _ledger_options(imp)
    imp.set_defaults(func=_cmd_import)

    look = sub.add_parser("lookup", help="one code: parse, product, stock, 拆零 and sale state (JSON)")
    look.add_argument("code", metavar="CODE")
    _ledger_options(look)
    look.set_defaults(func=_cmd_lookup)

    gen = sub.add_parser("generate", help="N real-shaped inbound codes + catalogue, to a CSV FILE and/or a ledger")
    gen.add_argument("count", type=int, metavar="N")
    gen.add_argument("file", type=Path, nargs="?", default=None, metavar="FILE", help="codes CSV to write")
    gen.add_argument("--products", type=int, default=3000, help="number of products (default 3000)")
    gen.add_argument("--seed", type=int, default=20250701, help="generator seed (default 20250701)")
    _ledger_options(gen, data_dir_default=None)
    gen.set_defaults(func=_cmd_generate)

    status = sub.add_parser("status", help="row counts of the ledger (JSON)")
    _ledger_options(status)
    status.set_defaults(func=_cmd_status)
