"""`fundguard kb keygen|build|sign|verify|diff|inspect`: the signed-bundle tools on the command line.

```
fundguard kb keygen --key-id ID --out DIR                    DIR/ID.key (private, 0600) + DIR/ID.pub
fundguard kb build BUNDLE_JSON --out F [--delta-from BASE] [--issuer TEXT]    unsigned full (or delta) bundle file
fundguard kb sign F --key ID.key --key-id ID [--out G]        signed copy (default: F replaced)
fundguard kb verify F --trusted DIR|FILE.pub                  exit 0 verified, 1 rejected (reason on stderr)
fundguard kb diff A B [--list] [--json]                       A, B: bundle files or bundle.json
fundguard kb inspect F [--trusted DIR|FILE.pub]               manifest, counts, integrity, signature (JSON)
```
Exit codes: 0 done (verify: verified); 1 verify refused the bundle; 2 the command could not run (unreadable file,
bad key, bad input bundle), with one line on stderr naming the problem.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ..durable import replace_file
from .build import build_delta, build_full, read_full
from .comparison import CHANGE_KINDS, BundleDiff, diff
from .errors import BundleRejected
from .inspection import inspect
from .keys import generate_key_pair, load_trusted_keys
from .signing import sign
from .verification import verify

__all__ = ["add_kb_commands"]

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_FAILED = 2
MAX_INPUT_BYTES = 1024 * 1024 * 1024  # a bundle file or bundle.json beyond 1 GiB is not a KB
FILE_MODE = 0o644


class _Failed(Exception):
    """The command cannot run; the message is printed as is."""


def _write(stream: TextIO, text: str) -> None:
    """UTF-8 whatever the console's locale (rule classes are Chinese; a Windows console may be GBK)."""
    buffer = getattr(stream, "buffer", None)
    if buffer is None:
        stream.write(text)
        stream.flush()
        return
    stream.flush()
    buffer.write(text.encode("utf-8"))
    buffer.flush()


def _say(message: str) -> None:
    _write(sys.stderr, f"fundguard: {message}\n")


def _read(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            data = f.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise _Failed(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_INPUT_BYTES:
        raise _Failed(f"{path}: larger than {MAX_INPUT_BYTES // (1024 * 1024)} MiB")
    return data


def _save(path: Path, data: bytes) -> None:
    """Write `path` whole: temp file in the same folder, fsync, rename (a reader never sees half a bundle)."""
    try:
        replace_file(path, data, FILE_MODE)
    except OSError as exc:
        raise _Failed(f"cannot write {path}: {exc.strerror or exc}") from None


def _trusted(path: Path) -> dict[str, Ed25519PublicKey]:
    try:
        return load_trusted_keys(path)
    except (OSError, ValueError) as exc:
        raise _Failed(f"trusted keys {path}: {exc}") from None


def _cmd_keygen(args: argparse.Namespace) -> int:
    try:
        files = generate_key_pair(args.key_id, args.out)
    except (OSError, ValueError) as exc:
        raise _Failed(f"keygen: {exc}") from None
    _write(sys.stdout, f"private key {files.private} (keep it secret, off the agents)\npublic key  {files.public}\n")
    return EXIT_OK


def _cmd_build(args: argparse.Namespace) -> int:
    new = _read(args.bundle)
    data = build_delta(_read(args.delta_from), new, args.issuer) if args.delta_from else build_full(new, args.issuer)
    _save(args.out, data)
    summary = inspect(data)["manifest"]
    base = f" on base revision {summary['base_revision']}" if summary["base_revision"] is not None else ""
    _write(sys.stdout, f"wrote {args.out}: unsigned {summary['kind']} bundle, revision {summary['revision']}{base}\n")
    return EXIT_OK


def _cmd_sign(args: argparse.Namespace) -> int:
    try:
        data = sign(_read(args.file), _read(args.key), args.key_id)
    except ValueError as exc:
        raise _Failed(f"sign: {exc}") from None
    out = args.out or args.file
    _save(out, data)
    _write(sys.stdout, f"wrote {out}: signed with key {args.key_id!r}\n")
    return EXIT_OK


def _cmd_verify(args: argparse.Namespace) -> int:
    data, trusted = _read(args.file), _trusted(args.trusted)
    try:
        verified = verify(data, trusted)
    except BundleRejected as exc:
        _say(f"{args.file}: rejected: {exc.reason}")
        return EXIT_REJECTED
    base = f" on base revision {verified.base_revision}" if verified.base_revision is not None else ""
    key = verified.manifest.key_id
    _write(sys.stdout, f"{args.file}: verified: {verified.kind} revision {verified.revision}{base}, key {key!r}\n")
    return EXIT_OK


def _render(result: BundleDiff, *, with_ids: bool) -> str:
    totals = result.totals()
    lines = [
        f"revision {result.from_revision} -> {result.to_revision}: "
        + ", ".join(f"{kind} {totals[kind]}" for kind in CHANGE_KINDS),
        "   added  changed  withdrawn  superseded  rule class",
    ]
    for name, entry in result.classes.items():
        counts = entry.counts()
        lines.append(
            f"{counts['added']:8d} {counts['changed']:8d} {counts['withdrawn']:10d} {counts['superseded']:11d}  {name}"
        )
    lines.append("rules changed: " + (", ".join(result.rules) or "none"))
    lines.append("parameters changed: " + (", ".join(result.parameters) or "none"))
    if with_ids:
        for kind in CHANGE_KINDS:
            for name, entry in result.classes.items():
                for kp_id in entry.ids(kind):
                    fields = result.changed_fields.get(kp_id, ()) if kind == "changed" else ()
                    lines.append(f"{kind} {kp_id} {name}" + (f" ({', '.join(fields)})" if fields else ""))
    return "\n".join(lines) + "\n"


def _cmd_diff(args: argparse.Namespace) -> int:
    result = diff(read_full(_read(args.a), str(args.a)), read_full(_read(args.b), str(args.b)))
    if args.json:
        _write(sys.stdout, json.dumps(result.to_json(with_ids=args.list), ensure_ascii=False, indent=2) + "\n")
    else:
        _write(sys.stdout, _render(result, with_ids=args.list))
    return EXIT_OK


def _cmd_inspect(args: argparse.Namespace) -> int:
    trusted = _trusted(args.trusted) if args.trusted is not None else None
    report = inspect(_read(args.file), trusted)
    _write(sys.stdout, json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    return EXIT_OK


def _guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Run `command`; a _Failed or an input bundle refused becomes one stderr line and exit 2."""

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except _Failed as exc:
            _say(str(exc))
            return EXIT_FAILED
        except BundleRejected as exc:
            _say(f"kb {args.kb_command}: {exc.reason}")
            return EXIT_FAILED

    return run


def add_kb_commands(kb_commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `keygen`, `build`, `sign`, `verify`, `diff` and `inspect` to the `fundguard kb` subparsers."""
    keygen = kb_commands.add_parser("keygen", help="make an Ed25519 signing key pair: DIR/ID.key + DIR/ID.pub")
    keygen.add_argument("--key-id", required=True, metavar="ID", help="key id (also the file names)")
    keygen.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the two PEM files")
    keygen.set_defaults(func=_guarded(_cmd_keygen))

    build = kb_commands.add_parser("build", help="an unsigned bundle file from bundle.json (full, or a delta)")
    build.add_argument("bundle", type=Path, metavar="BUNDLE_JSON", help="the importer's bundle.json")
    build.add_argument("--out", type=Path, required=True, metavar="F", help="bundle file to write (*.fgkb)")
    build.add_argument("--delta-from", type=Path, default=None, metavar="BASE", help="base bundle: build a delta")
    build.add_argument("--issuer", default=None, help="publisher named in the manifest (default: the bundle's)")
    build.set_defaults(func=_guarded(_cmd_build))

    sign_ = kb_commands.add_parser("sign", help="sign a bundle file with a private key")
    sign_.add_argument("file", type=Path, metavar="F")
    sign_.add_argument("--key", type=Path, required=True, metavar="K", help="private key (PEM, from keygen)")
    sign_.add_argument("--key-id", required=True, metavar="ID", help="key id the agents trust it under")
    sign_.add_argument("--out", type=Path, default=None, metavar="G", help="signed file (default: replace F)")
    sign_.set_defaults(func=_guarded(_cmd_sign))

    verify_ = kb_commands.add_parser("verify", help="verify a bundle file: exit 0 verified, 1 rejected")
    verify_.add_argument("file", type=Path, metavar="F")
    verify_.add_argument("--trusted", type=Path, required=True, metavar="DIR", help="folder of *.pub (or one file)")
    verify_.set_defaults(func=_guarded(_cmd_verify))

    diff_ = kb_commands.add_parser("diff", help="compare two bundles point by point, per rule class")
    diff_.add_argument("a", type=Path, metavar="A", help="older bundle (bundle file or bundle.json)")
    diff_.add_argument("b", type=Path, metavar="B", help="newer bundle (bundle file or bundle.json)")
    diff_.add_argument("--list", action="store_true", help="list the kp_ids of every change")
    diff_.add_argument("--json", action="store_true", help="JSON instead of text")
    diff_.set_defaults(func=_guarded(_cmd_diff))

    inspect_ = kb_commands.add_parser("inspect", help="manifest, counts, integrity and signature of a bundle (JSON)")
    inspect_.add_argument("file", type=Path, metavar="F")
    inspect_.add_argument("--trusted", type=Path, default=None, metavar="DIR", help="also verify with these keys")
    inspect_.set_defaults(func=_guarded(_cmd_inspect))
