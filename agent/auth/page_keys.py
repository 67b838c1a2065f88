"""The pop-up page's workstation keys: each workstation's page opens only its own alert stream.

A workstation's key is HMAC-SHA256(agent secret, workstation id), base64url, 32 characters (192 bits): nothing is
stored per workstation, and a key for W is no key for W2. The page URL carries it,
`/alerts?workstation=W&key=K`; the page passes it on to its stream and feedback calls. `fundguard auth page-key W`
prints it. The agent secret is `[auth] page_secret_file` (default `<data dir>/auth/page.secret`), 32 random bytes
as hex, created 0600 on first start; replacing it revokes every key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

__all__ = ["KEY_CHARS", "PAGE_SECRET_FILE", "PageKeys", "load_page_secret"]

PAGE_SECRET_FILE = Path("auth") / "page.secret"  # under the data dir
KEY_CHARS = 32
_CONTEXT = b"fundguard alert page\x00"
_MIN_SECRET_CHARS = 32


def load_page_secret(path: Path, *, create: bool = True) -> bytes:
    """The secret in `path`; when missing and `create`, 32 fresh random bytes are written there (hex, 0600).
    ValueError naming the file when it cannot be read or is too short."""
    if create and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process just made it: read theirs
        else:
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(secrets.token_hex(32) + "\n")
    try:
        secret = path.read_text("utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"auth.page_secret_file: cannot read {path} ({exc})") from None
    if len(secret) < _MIN_SECRET_CHARS:
        raise ValueError(f"auth.page_secret_file: {path} holds fewer than {_MIN_SECRET_CHARS} characters")
    return secret.encode("utf-8")


class PageKeys:
    """Workstation keys under one secret."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def key(self, workstation: str) -> str:
        """The key of `workstation`'s page."""
        mac = hmac.new(self._secret, _CONTEXT + workstation.encode("utf-8"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode("ascii")[:KEY_CHARS]

    def refusal(self, workstation: str, key: str) -> tuple[int, str] | None:
        """(HTTP status, reason) when `key` does not open `workstation`'s page: 401 without a workstation or key,
        403 with a key that is not this workstation's; None when it is."""
        if not workstation:
            return 401, "the page is bound to a workstation: ?workstation= is required"
        if not key:
            return 401, "no workstation key (?key=)"
        if not hmac.compare_digest(self.key(workstation).encode("ascii"), key.encode("utf-8", "replace")):
            return 403, "the key is not this workstation's"
        return None
