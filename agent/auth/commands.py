"""`fundguard auth …`: issue HIS client tokens and pop-up page keys.

```
fundguard auth add-client NAME --tokens-file FILE          a new random token, printed once; its SHA-256 stored
fundguard auth page-key WORKSTATION [--data-dir DIR | --secret-file FILE] [--url http://HOST:8080]
```
`add-client` creates the file when missing (TOML for `*.toml`, else CSV) and refuses a name already there. The
token is printed on stdout and nowhere else; give it to the HIS (gRPC `authorization: Bearer …`, HTTP
`Authorization: Bearer …`, HL7 MSH-8). `page-key` prints the workstation's key (or the page URL with it) from the
agent's page secret (`<data dir>/auth/page.secret`, made by the agent's first start). Exit 0 done, 2 failed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from urllib.parse import urlencode

__all__ = ["add_auth_commands"]

DEFAULT_DATA_DIR = Path("fundguard-data")  # as agent.config's [data] dir (not imported: it pulls in pydantic)
EXIT_OK = 0
EXIT_FAILED = 2


def _cmd_add_client(args: argparse.Namespace) -> int:
    from .tokens import add_client  # noqa: PLC0415 - the CLI imports only what a command needs

    try:
        token = add_client(args.tokens_file, args.name)
    except (ValueError, OSError) as exc:
        print(f"fundguard auth: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(token)
    print(f"client {args.name!r} added to {args.tokens_file}; the token above is shown only this once",
          file=sys.stderr)  # fmt: skip
    return EXIT_OK


def _cmd_page_key(args: argparse.Namespace) -> int:
    from .page_keys import PAGE_SECRET_FILE, PageKeys, load_page_secret  # noqa: PLC0415

    path: Path = args.secret_file if args.secret_file is not None else args.data_dir / PAGE_SECRET_FILE
    workstation = args.workstation.strip()
    try:
        if not workstation:
            raise ValueError("the workstation id is empty")
        secret = load_page_secret(path, create=False)
    except ValueError as exc:
        print(f"fundguard auth: {exc} (the agent creates it when it first starts with [auth] mode set)",
              file=sys.stderr)  # fmt: skip
        return EXIT_FAILED
    key = PageKeys(secret).key(workstation)
    if args.url:
        print(f"{args.url.rstrip('/')}/alerts?{urlencode({'workstation': workstation, 'key': key})}")
    else:
        print(key)
    return EXIT_OK


def add_auth_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `auth add-client` and `auth page-key` to the `fundguard` command line."""
    auth = commands.add_parser("auth", help="HIS client tokens and pop-up page keys ([auth])")
    sub = auth.add_subparsers(dest="auth_command", required=True, metavar="AUTH_COMMAND")
    add = sub.add_parser("add-client", help="issue a token for a HIS client (printed once; only its hash is kept)")
    add.add_argument("name", metavar="NAME", help="the client's name (letters, digits, . _ -)")
    add.add_argument("--tokens-file", type=Path, required=True, metavar="FILE", help="the [auth] tokens_file")
    add.set_defaults(func=_cmd_add_client)
    page = sub.add_parser("page-key", help="the pop-up page key of a workstation")
    page.add_argument("workstation", metavar="WORKSTATION", help="the workstation id (as in ?workstation=)")
    page.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="the agent's data dir")
    page.add_argument("--secret-file", type=Path, default=None, help="[auth] page_secret_file, if set")
    page.add_argument("--url", default=None, metavar="http://HOST:8080", help="print the page URL with the key")
    page.set_defaults(func=_cmd_page_key)
