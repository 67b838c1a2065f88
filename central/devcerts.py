"""Development certificates for mutual TLS between agents and the central platform (`fundguard-central dev-certs`).

One private CA signs a server certificate (SAN `localhost`, `127.0.0.1`, `::1` and any `--san` given) and one client
certificate per agent (CN = the agent id, which the platform checks against each upload's `agent_id`). Keys are
ECDSA P-256, written PKCS#8 PEM, mode 0600. Layout under `--out DIR`:

    ca.pem  ca.key                        the CA (keep ca.key off the agents)
    server.pem  server.key                for `fundguard-central serve --certs DIR`
    agents/<agent_id>/ca.pem client.pem client.key   what one agent needs (copy the folder to the hospital)

Running it again reuses the CA and the server certificate and adds the agents not there yet, so agents can be
added later; `--force` issues fresh server and agent certificates (still under the existing CA). For production the
bureau's own PKI issues these; this is for development, tests and demonstrations.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["AGENT_ID", "DevCerts", "agent_dir", "write_dev_certs"]

AGENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # also a safe folder name
CA_DAYS = 3650
LEAF_DAYS = 825
ORGANIZATION = "fundguard development"
DEFAULT_DNS = ("localhost",)
DEFAULT_IPS = ("127.0.0.1", "::1")

_Key = ec.EllipticCurvePrivateKey


@dataclass(frozen=True, slots=True)
class DevCerts:
    """Where the files are, and which of them this run wrote."""

    out: Path
    written: tuple[Path, ...]

    @property
    def ca(self) -> Path:
        """The CA certificate (what both sides trust)."""
        return self.out / "ca.pem"


def agent_dir(out: Path, agent_id: str) -> Path:
    """The folder holding one agent's `ca.pem`, `client.pem` and `client.key`."""
    return out / "agents" / agent_id


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])  # fmt: skip


def _write(path: Path, data: bytes, *, secret: bool) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = 0o600 if secret else 0o644
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.fchmod(fd, mode)  # also when the file was there before
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path


def _key_pem(key: _Key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _builder(subject: x509.Name, issuer: x509.Name, key: _Key, now: datetime, days: int) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )


def _new_ca(now: datetime) -> tuple[_Key, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name("fundguard development CA")
    cert = (
        _builder(name, name, key, now, CA_DAYS)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return key, cert


def _leaf(
    ca_key: _Key,
    ca_cert: x509.Certificate,
    common_name: str,
    usage: x509.ObjectIdentifier,
    sans: list[x509.GeneralName],
) -> tuple[_Key, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _builder(_name(common_name), ca_cert.subject, key, datetime.now(UTC), LEAF_DAYS)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=True, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )  # fmt: skip
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def _load_ca(out: Path) -> tuple[_Key, x509.Certificate] | None:
    key_path, cert_path = out / "ca.key", out / "ca.pem"
    if not key_path.exists() or not cert_path.exists():
        return None
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"out: {key_path} is not an EC key written by dev-certs")
    return key, x509.load_pem_x509_certificate(cert_path.read_bytes())


def _sans(dns: Sequence[str], ips: Sequence[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns]
    for ip in ips:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(ip)))
        except ValueError:
            raise ValueError(f"san: {ip!r} is not an IP address") from None
    return names


def write_dev_certs(
    out: Path,
    agents: Sequence[str],
    *,
    dns: Sequence[str] = DEFAULT_DNS,
    ips: Sequence[str] = DEFAULT_IPS,
    force: bool = False,
) -> DevCerts:
    """Create (or complete) the development PKI under `out`; ValueError naming `agent` / `san` for a bad value."""
    for agent_id in agents:
        if not AGENT_ID.fullmatch(agent_id):
            raise ValueError(f"agent: {agent_id!r} is not an agent id (1–64 letters, digits, '.', '_', '-')")
    sans = _sans(dns, ips)
    written: list[Path] = []
    loaded = _load_ca(out)
    if loaded is None:
        ca_key, ca_cert = _new_ca(datetime.now(UTC))
        written += [
            _write(out / "ca.key", _key_pem(ca_key), secret=True),
            _write(out / "ca.pem", _cert_pem(ca_cert), secret=False),
        ]
        force = True  # a new CA: every certificate under it is new
    else:
        ca_key, ca_cert = loaded
    ca_pem = _cert_pem(ca_cert)
    if force or not (out / "server.pem").exists():
        key, cert = _leaf(
            ca_key, ca_cert, dns[0] if dns else "fundguard-central", ExtendedKeyUsageOID.SERVER_AUTH, sans
        )
        written += [
            _write(out / "server.key", _key_pem(key), secret=True),
            _write(out / "server.pem", _cert_pem(cert), secret=False),
        ]
    for agent_id in agents:
        folder = agent_dir(out, agent_id)
        if not force and (folder / "client.pem").exists():
            continue
        key, cert = _leaf(ca_key, ca_cert, agent_id, ExtendedKeyUsageOID.CLIENT_AUTH, [])
        written += [
            _write(folder / "client.key", _key_pem(key), secret=True),
            _write(folder / "client.pem", _cert_pem(cert), secret=False),
            _write(folder / "ca.pem", ca_pem, secret=False),
        ]
    return DevCerts(out=out, written=tuple(written))
