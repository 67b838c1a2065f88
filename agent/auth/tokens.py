"""The HIS clients' tokens: client name → SHA-256 of its bearer token, never the token itself.

The tokens file (`[auth] tokens_file`) is TOML or CSV, by its suffix:

    # TOML (.toml)                                  # CSV (any other suffix), UTF-8
    [clients]                                       client,sha256
    his-main = "<64 hex digits>"                    his-main,<64 hex digits>

`fundguard auth add-client NAME --tokens-file FILE` draws a random token (`fgt_` + 43 URL-safe characters, 256
bits), prints it once and stores only its hash. A token of 256 random bits needs no slow password hash. A call
presents the token; `TokenStore.client(token)` looks it up among the tokens already verified (one dict lookup: the
per-call cost), and only a token not seen yet is hashed (SHA-256) and looked up by its hash. Measured inside the
grpc.aio server, OpenSSL's SHA-256 took ~5 µs a call (cold caches, threads), the dict lookup well under 1 µs
(`bench/auth_cost.py`). The verified tokens live in memory only (as every call's token does anyway), at most one
per client; unknown tokens are never remembered. The store rereads the file when it changed (checked at most
every `RELOAD_SECONDS`) and forgets what it verified, so an added or removed client takes effect without a restart.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import secrets
import threading
import time
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

__all__ = ["CLIENT_NAME", "RELOAD_SECONDS", "TokenFileError", "TokenStore", "add_client", "hash_token", "read_tokens"]

CLIENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
RELOAD_SECONDS = 5.0
TOKEN_PREFIX = "fgt_"  # recognisable by secret scanners and by people
_HASH = re.compile(r"[0-9a-f]{64}")
_CSV_HEADER = ("client", "sha256")
_TOML_HEAD = "# fundguard HIS clients: name = SHA-256 of its token (fundguard auth add-client). No tokens here.\n"


class TokenFileError(ValueError):
    """The tokens file cannot be read or is malformed; the message names the file and the entry."""


def hash_token(token: str) -> str:
    """The SHA-256 of a token, as stored (lowercase hex)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _entries(path: Path, text: str) -> list[tuple[str, str, str]]:
    """(where, client, hash) for each entry of the file's text."""
    if path.suffix.lower() == ".toml":
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise TokenFileError(f"{path}: not valid TOML ({exc})") from None
        clients = doc.get("clients", {})
        if not isinstance(clients, dict) or set(doc) - {"clients"}:
            raise TokenFileError(f"{path}: expected only a [clients] table of name = sha256")
        return [(f"clients.{name}", name, str(value)) for name, value in clients.items()]
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or tuple(cell.strip().lower() for cell in rows[0]) != _CSV_HEADER:
        raise TokenFileError(f"{path}: line 1: the header must be client,sha256")
    out = []
    for n, row in enumerate(rows[1:], start=2):
        if not row or not "".join(row).strip():
            continue
        if len(row) != 2:
            raise TokenFileError(f"{path}: line {n}: expected 2 columns (client,sha256), found {len(row)}")
        out.append((f"line {n}", row[0].strip(), row[1].strip()))
    return out


def read_tokens(path: Path) -> Mapping[str, str]:
    """Token hash → client name, from the file; TokenFileError naming the file and entry."""
    try:
        text = path.read_text("utf-8-sig")
    except OSError as exc:
        raise TokenFileError(f"{path}: cannot read the tokens file ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise TokenFileError(f"{path}: not UTF-8 text") from None
    by_hash: dict[str, str] = {}
    for where, client, value in _entries(path, text):
        if not CLIENT_NAME.fullmatch(client):
            raise TokenFileError(f"{path}: {where}: client name must be letters, digits, '.', '_', '-' (≤ 64)")
        digest = value.lower().removeprefix("sha256:")
        if not _HASH.fullmatch(digest):
            raise TokenFileError(f"{path}: {where}: {client}: not a SHA-256 (64 hex digits); tokens are never stored")
        if by_hash.setdefault(digest, client) != client:
            raise TokenFileError(f"{path}: {where}: {client} has the same token as {by_hash[digest]}")
    return MappingProxyType(by_hash)


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


class TokenStore:
    """Who a token belongs to. Thread-safe: the lookup reads one dict reference, a reload swaps it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # (hash → client, token presented → client once its hash was found): one reference, swapped whole on reload
        self._state: tuple[Mapping[str, str], dict[str, str]] = (read_tokens(path), {})
        self._stamp = _stamp(path)
        self._next_check = time.monotonic() + RELOAD_SECONDS
        self._lock = threading.Lock()

    @property
    def clients(self) -> frozenset[str]:
        """The client names the file holds."""
        return frozenset(self._state[0].values())

    def client(self, token: str) -> str | None:
        """The client whose token this is, or None."""
        if time.monotonic() >= self._next_check:
            self._maybe_reload()
        by_hash, verified = self._state
        client = verified.get(token)
        if client is not None:
            return client
        client = by_hash.get(hashlib.sha256(token.encode("utf-8")).hexdigest())
        if client is not None and len(verified) < len(by_hash):  # one token per client at most
            verified[token] = client
        return client

    def _maybe_reload(self) -> None:
        """Reread the file if it changed; a file that became unreadable or malformed keeps the tokens in force."""
        if not self._lock.acquire(blocking=False):
            return
        try:
            self._next_check = time.monotonic() + RELOAD_SECONDS
            stamp = _stamp(self.path)
            if stamp is None or stamp == self._stamp:
                return
            try:
                by_hash = read_tokens(self.path)
            except TokenFileError:
                return  # a half-written or broken file: the tokens in force stay until it reads again
            self._state = (by_hash, {})  # a removed client's token is no longer known
            self._stamp = stamp
        finally:
            self._lock.release()


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def add_client(path: Path, name: str) -> str:
    """Draw a token for a new client `name`, store its hash in the file (created if missing) and return the token
    (the only time it exists outside the client). ValueError when the name is malformed or taken."""
    if not CLIENT_NAME.fullmatch(name):
        raise ValueError(f"client name {name!r}: letters, digits, '.', '_', '-' (at most 64, not starting with . _ -)")
    existing = read_tokens(path) if path.exists() else MappingProxyType({})
    if name in existing.values():
        raise ValueError(f"client {name!r} is already in {path}: remove its line first to issue a new token")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    clients = {**{client: digest for digest, client in existing.items()}, name: hash_token(token)}
    if path.suffix.lower() == ".toml":
        text = _TOML_HEAD + "[clients]\n" + "".join(f'{client} = "{digest}"\n' for client, digest in clients.items())
    else:
        text = "client,sha256\n" + "".join(f"{client},{digest}\n" for client, digest in clients.items())
    _write_atomic(path, text)
    return token
