"""The agent's listeners' own TLS: gRPC server credentials, an `ssl.SSLContext` for HTTP and MLLP, and the names a
verified client certificate carries.

`[auth] cert` + `key` make every listener serve TLS; with `mode = "mtls"` the client must present a certificate
signed by `client_ca` (gRPC and MLLP refuse the handshake without one; HTTP asks for one but lets a browser without
one through to the pop-up page, which has its own workstation key, while the national gateway and CDS Hooks refuse
it). The PEM files are read with the uplink's `read_pem` (errors name the `auth.*` key).
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable, Mapping
from typing import Any

import grpc

from fundguard.agent.config import AuthSettings
from fundguard.agent.uplink.tls import read_pem

__all__ = ["GRPC_NAME_KEYS", "cert_names", "grpc_names", "server_credentials", "ssl_context"]

GRPC_NAME_KEYS = ("x509_common_name", "x509_subject_alternative_name")  # in a grpc call's auth_context()


def server_credentials(settings: AuthSettings) -> grpc.ServerCredentials | None:
    """The gRPC server's TLS credentials (client certificates required when mtls), or None without TLS."""
    if settings.cert is None or settings.key is None:
        return None
    mtls = settings.mode == "mtls"
    return grpc.ssl_server_credentials(
        [(read_pem(settings.key, "auth.key"), read_pem(settings.cert, "auth.cert"))],
        root_certificates=read_pem(settings.client_ca, "auth.client_ca") if mtls else None,
        require_client_auth=mtls,
    )


def ssl_context(settings: AuthSettings, *, require_client_cert: bool) -> ssl.SSLContext | None:
    """A server-side context (TLS 1.2+) with the agent's certificate; under mtls it verifies client certificates
    against `client_ca`, required or (`require_client_cert` False) optional. None without TLS; ValueError naming
    the key when a file cannot be used."""
    if settings.cert is None or settings.key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    read_pem(settings.cert, "auth.cert")  # readable? (the error names the key)
    read_pem(settings.key, "auth.key")
    try:
        context.load_cert_chain(settings.cert, settings.key)
    except ssl.SSLError as exc:
        raise ValueError(f"auth.cert/auth.key: not a certificate and its private key ({exc.reason})") from None
    if settings.mode == "mtls":
        read_pem(settings.client_ca, "auth.client_ca")
        try:
            context.load_verify_locations(cafile=settings.client_ca)
        except ssl.SSLError as exc:
            raise ValueError(f"auth.client_ca: not a PEM CA certificate ({exc.reason})") from None
        context.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    return context


def cert_names(peercert: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The subject CN and the DNS / IP subject alternative names of a verified peer certificate, as
    `SSLSocket.getpeercert()` gives it (empty: no certificate)."""
    if not peercert:
        return ()
    names = [value for rdn in peercert.get("subject", ()) for key, value in rdn if key == "commonName"]
    names += [value for kind, value in peercert.get("subjectAltName", ()) if kind in ("DNS", "IP Address")]
    return tuple(names)


def grpc_names(auth_context: Mapping[str, Iterable[bytes]]) -> tuple[str, ...]:
    """The CN and SANs of a gRPC call's verified peer certificate (from `context.auth_context()`)."""
    return tuple(value.decode("utf-8", "replace") for key in GRPC_NAME_KEYS for value in auth_context.get(key, ()))
