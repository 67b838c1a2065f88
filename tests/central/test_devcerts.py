"""Development PKI and mutual TLS: the certificates `dev-certs` writes, and a platform serving with them refuses a
client without a certificate or with one from another CA, and an agent that does not trust its CA refuses it."""

from __future__ import annotations

import ipaddress
import stat
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from fundguard.central.devcerts import agent_dir, write_dev_certs
from fundguard.central.server import CentralSettings, create_server, load_server_credentials
from fundguard.central.store import Store
from fundguard.v1 import central_pb2_grpc as pb_grpc

from .events import event, upload

AGENT = "agent-1"


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two independent dev PKIs: the platform's (agents agent-1, agent-2) and another CA's (agent-1)."""
    ours = tmp_path_factory.mktemp("ours")
    theirs = tmp_path_factory.mktemp("theirs")
    write_dev_certs(ours, [AGENT, "agent-2"])
    write_dev_certs(theirs, [AGENT])
    return ours, theirs


def test_layout_modes_and_names(pki: tuple[Path, Path]) -> None:
    """CA, server and per-agent files; keys 0600; the server names localhost and 127.0.0.1; the client's CN is the
    agent id and it is for client auth; both are signed by the CA."""
    ours, _ = pki
    folder = agent_dir(ours, AGENT)
    for key in (ours / "ca.key", ours / "server.key", folder / "client.key"):
        assert 0o600 == stat.S_IMODE(key.stat().st_mode)
    ca, server, client = _cert(ours / "ca.pem"), _cert(ours / "server.pem"), _cert(folder / "client.pem")
    sans = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"localhost"} <= set(sans.get_values_for_type(x509.DNSName))
    assert ipaddress.ip_address("127.0.0.1") in sans.get_values_for_type(x509.IPAddress)
    cn = client.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    usage = client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert (AGENT, True) == (cn, ExtendedKeyUsageOID.CLIENT_AUTH in usage)
    assert (folder / "ca.pem").read_bytes() == (ours / "ca.pem").read_bytes()
    for leaf in (server, client):
        leaf.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_running_again_adds_agents_under_the_same_ca(tmp_path: Path) -> None:
    """A second run keeps the CA and server certificate and writes only the new agent's files."""
    write_dev_certs(tmp_path, [AGENT])
    ca_before = (tmp_path / "ca.pem").read_bytes()
    again = write_dev_certs(tmp_path, [AGENT, "agent-3"])
    assert ca_before == (tmp_path / "ca.pem").read_bytes()
    assert {p.relative_to(tmp_path).as_posix() for p in again.written} == {
        "agents/agent-3/client.key",
        "agents/agent-3/client.pem",
        "agents/agent-3/ca.pem",
    }
    _cert(agent_dir(tmp_path, "agent-3") / "client.pem").verify_directly_issued_by(_cert(tmp_path / "ca.pem"))


@pytest.mark.parametrize("bad", ["../x", "", "a b", "x" * 65])
def test_bad_agent_ids_are_refused(tmp_path: Path, bad: str) -> None:
    """An agent id that is not a safe name is refused naming `agent`, before anything is written."""
    with pytest.raises(ValueError, match=r"^agent: "):
        write_dev_certs(tmp_path / "out", [bad])
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def mtls_port(pki: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A platform serving with mutual TLS from our PKI."""
    ours, _ = pki
    db = tmp_path_factory.mktemp("db") / "central.sqlite3"
    server, port = create_server(
        Store.open(f"sqlite:///{db}"),
        CentralSettings(address="127.0.0.1:0"),
        credentials=load_server_credentials(ours),
    )
    server.start()
    yield port
    server.stop(0)


def _upload(port: int, credentials: grpc.ChannelCredentials, agent: str = AGENT) -> int:
    with grpc.secure_channel(f"localhost:{port}", credentials) as channel:
        ack = pb_grpc.CentralPlatformStub(channel).Upload(upload([event(1, agent=agent)], agent=agent), timeout=10)
    return len(ack.stored_ids)


def _credentials(root: Path, client: Path | None) -> grpc.ChannelCredentials:
    if client is None:
        return grpc.ssl_channel_credentials(root_certificates=(root / "ca.pem").read_bytes())
    return grpc.ssl_channel_credentials(
        root_certificates=(root / "ca.pem").read_bytes(),
        private_key=(client / "client.key").read_bytes(),
        certificate_chain=(client / "client.pem").read_bytes(),
    )


def test_agent_with_our_certificate_is_served(pki: tuple[Path, Path], mtls_port: int) -> None:
    """Trusting our CA and presenting our agent certificate: the upload is acknowledged."""
    ours, _ = pki
    assert 1 == _upload(mtls_port, _credentials(ours, agent_dir(ours, AGENT)))


@pytest.mark.parametrize("who", ["no certificate", "another CA's certificate", "does not trust the server"])
def test_handshake_refused(pki: tuple[Path, Path], mtls_port: int, who: str) -> None:
    """No client certificate, a client certificate from another CA, or a client that trusts another CA (so refuses
    our server): the TLS handshake fails and the call is UNAVAILABLE."""
    ours, theirs = pki
    credentials = {
        "no certificate": _credentials(ours, None),
        "another CA's certificate": _credentials(ours, agent_dir(theirs, AGENT)),
        "does not trust the server": _credentials(theirs, agent_dir(ours, AGENT)),
    }[who]
    with pytest.raises(grpc.RpcError) as caught:
        _upload(mtls_port, credentials)
    assert grpc.StatusCode.UNAVAILABLE == caught.value.code()  # type: ignore[attr-defined]


def test_an_agent_cannot_upload_as_another(pki: tuple[Path, Path], mtls_port: int) -> None:
    """agent-2's certificate with agent_id agent-1: PERMISSION_DENIED."""
    ours, _ = pki
    with pytest.raises(grpc.RpcError) as caught:
        _upload(mtls_port, _credentials(ours, agent_dir(ours, "agent-2")), agent=AGENT)
    assert grpc.StatusCode.PERMISSION_DENIED == caught.value.code()  # type: ignore[attr-defined]
