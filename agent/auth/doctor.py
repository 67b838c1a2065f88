"""`fundguard doctor`'s lines on authentication: is the agent open to anyone, and do its `[auth]` files work."""

from __future__ import annotations

from fundguard.agent.config import Settings
from fundguard.agent.ops.findings import Finding

from .page_keys import load_page_secret
from .tls import ssl_context
from .tokens import TokenFileError, read_tokens
from .wiring import page_secret_path

__all__ = ["auth_findings"]

CHECK = "auth"


def auth_findings(settings: Settings) -> list[Finding]:
    """WARN when HIS clients are not authenticated; FAIL when a file `[auth]` names cannot be used."""
    auth = settings.auth
    if auth.mode == "none":
        return [Finding.warn(CHECK, "[auth] mode = none: any program reaching the gRPC/HTTP/MLLP ports is served "
                                    "(set mode = 'token' or 'mtls')")]  # fmt: skip
    findings = []
    if auth.mode == "token" and auth.tokens_file is not None:
        try:
            clients = len(set(read_tokens(auth.tokens_file).values()))
        except TokenFileError as exc:
            findings.append(Finding.fail(CHECK, f"auth.tokens_file: {exc}"))
        else:
            clear = "" if auth.tls else " (no TLS: tokens cross the network in the clear; [auth] cert/key)"
            findings.append(Finding.ok(CHECK, f"mode token: {clients} client(s) in {auth.tokens_file}{clear}"))
    try:
        ssl_context(auth, require_client_cert=True)
    except ValueError as exc:
        findings.append(Finding.fail(CHECK, str(exc)))
    else:
        if auth.mode == "mtls":
            who = ", ".join(auth.allowed_clients) or "any certificate the client CA signed"
            findings.append(Finding.ok(CHECK, f"mode mtls: {who}"))
    secret = page_secret_path(auth, settings.data.dir)
    if secret.exists():
        try:
            load_page_secret(secret, create=False)
        except ValueError as exc:
            findings.append(Finding.fail(CHECK, str(exc)))
    return findings
