"""`fundguard doctor`: a good install (uplink with mutual TLS to a central that answers) is healthy, exit 0; a
broken config, an expired certificate, a damaged KB, a port taken by another program, an unreachable central are
each named on a FAIL line, exit 1."""

from __future__ import annotations

import hashlib
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fundguard.agent.cli import main
from fundguard.agent.kb.activation import LAST_GOOD_FILE
from fundguard.agent.ops.doctor_kb import META_FILE
from fundguard.central.devcerts import agent_dir, write_dev_certs
from fundguard.knowledge_base.bundle import build_full, generate_key_pair, sign

from ..transport.agent_kb import write_small_bundle

AGENT_ID = "agent-h1"


def free_port() -> int:
    """A port nothing listens on (now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def central(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A TLS server standing in for the central platform (dev PKI, client certificate required); its port and
    the PKI folder."""
    pki = tmp_path / "pki"
    write_dev_certs(pki, [AGENT_ID])
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki / "ca.pem"))
    context.load_cert_chain(str(pki / "server.pem"), str(pki / "server.key"))
    context.verify_mode = ssl.CERT_REQUIRED
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (OSError, ssl.SSLError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], pki
    finally:
        stop.set()
        thread.join()
        server.close()


def write_config(tmp_path: Path, central: tuple[int, Path], **sections: dict[str, Any]) -> Path:
    """A complete install's TOML config (free ports, uplink over mutual TLS, HIS clients authenticated by token),
    with sections overridden."""
    port, pki = central
    folder = agent_dir(pki, AGENT_ID)
    clients = tmp_path / "clients.csv"  # [auth]: without it the doctor warns that anyone is served
    clients.write_text(f"client,sha256\nhis-main,{'0' * 64}\n", encoding="utf-8")
    config: dict[str, dict[str, Any]] = {
        "auth": {"mode": "token", "tokens_file": str(clients)},
        "grpc": {"address": f"127.0.0.1:{free_port()}"},
        "http": {"address": f"127.0.0.1:{free_port()}"},
        "data": {"dir": str(tmp_path / "data")},
        "health": {"min_free_mb": 1},
        "uplink": {"central": f"localhost:{port}", "agent_id": AGENT_ID, "institution_code": "H11010800001",
                   "ca": str(folder / "ca.pem"), "cert": str(folder / "client.pem"),
                   "key": str(folder / "client.key"), "identity": "full"},
    }  # fmt: skip
    for name, values in sections.items():
        config.setdefault(name, {}).update(values)
    lines = []
    for name, values in config.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    path = tmp_path / "fundguard.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def doctor(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    """Run `fundguard doctor --config FILE`; exit code and output lines."""
    code = main(["doctor", "--config", str(config)])
    return code, capsys.readouterr().out.splitlines()


def fails(lines: list[str]) -> list[str]:
    """The FAIL lines."""
    return [line for line in lines if line.startswith("FAIL")]


def test_good_install_is_healthy(tmp_path: Path, central: tuple[int, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """Valid config, free ports, intact KB, valid certificates, a central that completes the mutual-TLS handshake:
    every line OK, verdict `healthy`, exit 0."""
    code, lines = doctor(write_config(tmp_path, central), capsys)
    assert (0, "healthy") == (code, lines[-1]), "\n".join(lines)
    assert all(line.startswith("OK") for line in lines[:-1]), "\n".join(lines)
    checks = {line.split()[1] for line in lines[:-1]}
    assert {"config", "port", "kb", "cert", "central", "disk", "queue"} <= checks
    assert any("mutual TLS" in line for line in lines)


def test_broken_config_names_each_key(
    tmp_path: Path, central: tuple[int, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A misspelt key and an out-of-range value are each one FAIL line naming the key, with what to do."""
    config = write_config(tmp_path, central, grpc={"max_workers": 0, "adress": "x"})
    code, lines = doctor(config, capsys)
    assert 1 == code
    assert "2 problems" == lines[-1]
    assert any("grpc.max_workers" in line for line in fails(lines))
    assert any("grpc.adress: unknown key" in line and "spelling" in line for line in fails(lines))


def _client_cert(pki: Path, not_before: datetime, not_after: datetime) -> tuple[bytes, bytes]:
    """A client certificate and key signed by the dev CA, valid from `not_before` to `not_after`."""
    ca_key = serialization.load_pem_private_key((pki / "ca.key").read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    ca = x509.load_pem_x509_certificate((pki / "ca.pem").read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, AGENT_ID)]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(ca_key, hashes.SHA256())
    )
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())  # fmt: skip
    return cert.public_bytes(serialization.Encoding.PEM), pem_key


@pytest.mark.parametrize("case", [(-3, "FAIL", "expired on"), (10, "WARN", "expires in")], ids=["expired", "soon"])
def test_certificate_expiry(
    tmp_path: Path, central: tuple[int, Path], capsys: pytest.CaptureFixture[str], case: tuple[int, str, str]
) -> None:
    """An expired client certificate is a FAIL naming the file and the date (exit 1); one expiring within 30 days
    is a WARN (still healthy, exit 0)."""
    days_left, level, words = case
    now = datetime.now(UTC)
    cert, key = _client_cert(central[1], now - timedelta(days=400), now + timedelta(days=days_left))
    (tmp_path / "client.pem").write_bytes(cert)
    (tmp_path / "client.key").write_bytes(key)
    config = write_config(tmp_path, central, uplink={"cert": str(tmp_path / "client.pem"),
                                                     "key": str(tmp_path / "client.key")})  # fmt: skip
    code, lines = doctor(config, capsys)
    (line,) = [line for line in lines if line.split()[1:3] == ["cert", "cert"]]
    assert line.startswith(level) and words in line and str(tmp_path / "client.pem") in line, line
    if level == "FAIL":
        assert 1 == code
        assert lines[-1].startswith("1 problem") or lines[-1].startswith("2 problems"), lines[-1]
    else:
        assert (0, "healthy (1 warning)") == (code, lines[-1]), "\n".join(lines)


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_damaged_kb_files_are_named(
    tmp_path: Path, central: tuple[int, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A flipped byte in the last-good bundle (its SHA-256 no longer matches) and in a signed bundle waiting in the
    inbox (its hashes or signature no longer verify) are each a FAIL naming the file; exit 1."""
    keys = generate_key_pair("bureau-2026", tmp_path / "keys")
    bundle = write_small_bundle(tmp_path)
    signed = sign(build_full(bundle), keys.private.read_bytes(), "bureau-2026")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "r7.fgkb").write_bytes(signed)
    _flip(inbox / "r7.fgkb", len(signed) // 2)
    state = tmp_path / "data" / "kb"
    state.mkdir(parents=True)
    raw = bundle.read_bytes()
    (state / LAST_GOOD_FILE).write_bytes(raw)
    (state / META_FILE).write_text(json.dumps({"revision": "7", "sha256": hashlib.sha256(raw).hexdigest()}))
    _flip(state / LAST_GOOD_FILE, 40)
    config = write_config(tmp_path, central, kb={"inbox": str(inbox), "trusted_keys": str(tmp_path / "keys")})
    code, lines = doctor(config, capsys)
    assert 1 == code
    assert "2 problems" == lines[-1], "\n".join(lines)
    assert any("kb last-good" in line and LAST_GOOD_FILE in line and "SHA-256" in line for line in fails(lines))
    assert any("kb inbox" in line and "r7.fgkb: would be refused" in line for line in fails(lines))


def test_intact_signed_bundle_in_the_inbox_verifies(tmp_path: Path, central: tuple[int, Path],
                                                    capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """The same bundle, undamaged, verifies with the trusted key: OK, healthy."""
    keys = generate_key_pair("bureau-2026", tmp_path / "keys")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "r7.fgkb").write_bytes(
        sign(build_full(write_small_bundle(tmp_path)), keys.private.read_bytes(), "bureau-2026")
    )
    config = write_config(tmp_path, central, kb={"inbox": str(inbox), "trusted_keys": str(tmp_path / "keys")})
    code, lines = doctor(config, capsys)
    assert (0, "healthy") == (code, lines[-1]), "\n".join(lines)
    assert any("r7.fgkb: signature and hashes verify (revision 7)" in line for line in lines)


def test_port_taken_by_another_program_and_central_away(tmp_path: Path, central: tuple[int, Path],
                                                        capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """A gRPC port held by a program that is not a fundguard agent, and a central nobody listens on, are each a
    FAIL saying so."""
    with socket.create_server(("127.0.0.1", 0)) as squatter:
        port = squatter.getsockname()[1]
        config = write_config(tmp_path, central, grpc={"address": f"127.0.0.1:{port}"},
                              uplink={"central": f"localhost:{free_port()}"})  # fmt: skip
        code, lines = doctor(config, capsys)
    assert 1 == code
    assert any("port grpc" in line and "in use by another program" in line for line in fails(lines))
    assert any(line.split()[1] == "central" and "cannot connect" in line for line in fails(lines))


def test_ports_held_by_the_running_agent_are_fine(tmp_path: Path, central: tuple[int, Path],
                                                  capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """Run beside the agent it checks, the doctor recognises the agent on its gRPC port (health answers SERVING)
    and on its HTTP port (it serves fundguard's /metrics): OK, healthy."""
    from fundguard.agent.app import build_agent
    from fundguard.agent.config import load_settings

    config = write_config(tmp_path, central)
    agent = build_agent(load_settings(config))
    agent.start()
    try:
        code, lines = doctor(config, capsys)
    finally:
        agent.stop(grace=1)
    assert (0, "healthy") == (code, lines[-1]), "\n".join(lines)
    assert any("port grpc" in line and "running fundguard agent (health SERVING)" in line for line in lines)
    assert any("port http" in line and "running fundguard agent (it serves /metrics)" in line for line in lines)
