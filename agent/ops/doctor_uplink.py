"""`fundguard doctor`'s checks of the central link: the mutual-TLS certificates (readable, key matching, expiry:
WARN within 30 days, FAIL once expired or not yet valid), the pseudonymisation secret, whether the central platform
answers (TCP connect, then the TLS handshake with the agent's certificate, a short timeout), and the outbox queue."""

from __future__ import annotations

import socket
import sqlite3
import ssl
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from fundguard.agent.config import Settings, UplinkSettings
from fundguard.agent.uplink.outbox import OUTBOX_FILE

from .findings import Finding

__all__ = ["CONNECT_TIMEOUT_S", "EXPIRY_WARNING", "central_findings", "certificate_findings", "queue_findings"]

EXPIRY_WARNING = timedelta(days=30)
CONNECT_TIMEOUT_S = 3.0
_MB = 1024 * 1024
QUEUE_AGE_WARNING_S = 3600.0  # events older than an hour: the central has not been taking them


def _certificate(key: str, path: Path, now: datetime) -> tuple[Finding, x509.Certificate | None]:
    check = f"cert {key}"
    try:
        certs = x509.load_pem_x509_certificates(path.read_bytes())
    except OSError as exc:
        return Finding.fail(check, f"uplink.{key} {path}: cannot read it ({exc.strerror or exc})"), None
    except ValueError as exc:
        return Finding.fail(check, f"uplink.{key} {path}: not a PEM certificate ({exc})"), None
    cert = certs[0]
    subject = cert.subject.rfc4514_string()
    ends, begins = cert.not_valid_after_utc, cert.not_valid_before_utc
    if ends <= now:
        return Finding.fail(check, f"{path} ({subject}) expired on {ends:%Y-%m-%d}: ask the bureau for a new one"), cert
    if begins > now:
        return Finding.fail(check, f"{path} ({subject}) is not valid before {begins:%Y-%m-%d} (check the clock)"), cert
    days = (ends - now).days
    if ends - now < EXPIRY_WARNING:
        return Finding.warn(check, f"{path} ({subject}) expires in {days} days ({ends:%Y-%m-%d}): renew it"), cert
    return Finding.ok(check, f"{path} ({subject}) valid until {ends:%Y-%m-%d} ({days} days)"), cert


def _key_matches(path: Path, cert: x509.Certificate) -> Finding:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        return Finding.fail("cert key", f"uplink.key {path}: cannot read it ({exc.strerror or exc})")
    except (ValueError, TypeError) as exc:
        return Finding.fail("cert key", f"uplink.key {path}: not an unencrypted PEM private key ({exc})")
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    mine = key.public_key().public_bytes(serialization.Encoding.DER, fmt)
    if mine != cert.public_key().public_bytes(serialization.Encoding.DER, fmt):
        return Finding.fail("cert key", f"uplink.key {path} does not belong to the certificate uplink.cert")
    return Finding.ok("cert key", f"{path} matches the client certificate")


def certificate_findings(uplink: UplinkSettings, now: datetime) -> Iterator[Finding]:
    """The uplink's certificates and secret, as configured (nothing to check when the uplink is off)."""
    if not uplink.enabled:
        yield Finding.ok("certificates", "uplink off ([uplink] central not set): none needed")
        return
    if uplink.insecure:
        yield Finding.warn("certificates", "uplink.insecure = true: plaintext to a loopback central (tests only)")
    else:
        client: x509.Certificate | None = None
        for key, path in (("ca", uplink.ca), ("cert", uplink.cert)):
            if path is not None:
                finding, cert = _certificate(key, path, now)
                yield finding
                client = cert if key == "cert" else client
        if uplink.key is not None and client is not None:
            yield _key_matches(uplink.key, client)
    if uplink.identity == "pseudonymised" and uplink.identity_secret_file is not None:
        secret = uplink.identity_secret_file
        try:
            size = len(secret.read_bytes())
        except OSError as exc:
            yield Finding.fail("identity secret", f"{secret}: cannot read it ({exc.strerror or exc})")
        else:
            level = Finding.ok if size >= 16 else Finding.fail
            yield level("identity secret", f"{secret}: {size} bytes" + ("" if size >= 16 else " (need at least 16)"))


def _tls_context(uplink: UplinkSettings) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(uplink.ca))
    context.load_cert_chain(str(uplink.cert), str(uplink.key))
    context.set_alpn_protocols(["h2"])  # what gRPC speaks
    return context


def central_findings(uplink: UplinkSettings, timeout: float = CONNECT_TIMEOUT_S) -> Iterator[Finding]:
    """Whether the central platform answers: TCP, then (unless insecure) the mutual-TLS handshake."""
    if not uplink.enabled or uplink.central is None:
        return
    host, _, port = uplink.central.rpartition(":")
    host = host.strip("[]")
    started = time.perf_counter()
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as sock:
            if uplink.insecure:
                yield Finding.ok("central", f"{uplink.central}: TCP connect in {_ms(started)} ms (plaintext)")
                return
            context = _tls_context(uplink)
            with context.wrap_socket(sock, server_hostname=host) as tls:
                version = tls.version()
    except ssl.SSLError as exc:
        yield Finding.fail("central", f"{uplink.central}: TLS handshake failed ({exc.reason or exc})")
    except OSError as exc:
        yield Finding.fail("central", f"{uplink.central}: cannot connect ({exc.strerror or exc}) within {timeout:g} s")
    else:
        yield Finding.ok("central", f"{uplink.central}: mutual TLS ({version}) handshake in {_ms(started)} ms")


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def queue_findings(settings: Settings, now_s: float) -> Iterator[Finding]:
    """The outbox: events waiting and the age of the oldest (read-only; the agent may be running)."""
    uplink = settings.uplink
    path = uplink.outbox or settings.data.dir / OUTBOX_FILE
    if not path.exists():
        yield Finding.ok("queue", "no outbox yet" if uplink.enabled else "uplink off: nothing queued")
        return
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)
        try:
            depth, oldest = db.execute("SELECT COUNT(*), MIN(at_s) FROM events").fetchone()
        finally:
            db.close()
    except sqlite3.Error as exc:
        yield Finding.fail("queue", f"{path}: cannot read the outbox ({exc})")
        return
    age = max(now_s - oldest, 0.0) if oldest is not None else 0.0
    size = path.stat().st_size + (Path(f"{path}-wal").stat().st_size if Path(f"{path}-wal").exists() else 0)
    text = f"{depth} event(s) waiting, oldest {age / 60:.0f} min old, {size / _MB:.1f} MB of {uplink.max_queue_mb} MB"
    if size >= uplink.alarm_ratio * uplink.max_queue_bytes:
        yield Finding.warn("queue", f"{text}: past the alarm ratio; is the central taking events?")
    elif age > QUEUE_AGE_WARNING_S:
        yield Finding.warn("queue", f"{text}: the central has not taken events for over an hour")
    else:
        yield Finding.ok("queue", text)
