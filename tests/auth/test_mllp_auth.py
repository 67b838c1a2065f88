"""MLLP with `[auth]` on a real listener (127.0.0.1:0): a message without a known token in MSH-8 is answered `AR`
with "unauthenticated" in MSA-3 and ERR-8, counted, and the connection stays usable; TLS-wrapped MLLP under mtls
serves an allowed client certificate and refuses other ones."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import hl7
import pytest
from structlog.testing import capture_logs

from fundguard.agent.auth.mllp_auth import msh8
from fundguard.agent.auth.wiring import open_auth
from fundguard.agent.config import AuthSettings, MllpSettings
from fundguard.agent.kb import KbStore
from fundguard.agent.ops import AgentMetrics
from fundguard.agent.service import CheckService
from fundguard.agent.transport.mllp_server import MllpListener
from tests.hl7_samples import frames, rde_o11
from tests.samples import SEX_DRUG_RULE_ID

from .auth_samples import HIS, LAB, Pki, Tokens, refused

NOW = datetime(2026, 11, 23, 10, 0, 0)
WAIT = 10.0


def with_security(message: str, token: str) -> str:
    """The message with `token` in MSH-8 (Security)."""
    head, _, rest = message.partition("\r")
    fields = head.split("|")
    fields[7] = token
    return "|".join(fields) + "\r" + rest


@contextmanager
def serving(store: KbStore, auth: AuthSettings, tmp_path: Path, metrics: AgentMetrics) -> Iterator[MllpListener]:
    """A started MLLP listener behind `auth` (TLS when the settings name a certificate)."""
    opened = open_auth(auth, tmp_path, metrics.unauthenticated)
    service = CheckService(store, clock=lambda: NOW)
    listener = MllpListener(MllpSettings("127.0.0.1:0"), service, lambda: NOW, auth=opened.mllp,
                            ssl_context=opened.mllp_ssl)  # fmt: skip
    listener.start()
    try:
        yield listener
    finally:
        listener.stop()


class Client:
    """A raw MLLP client (optionally over TLS): send a frame, read one ACK."""

    def __init__(self, address: str, tls: ssl.SSLContext | None = None) -> None:
        host, _, port = address.rpartition(":")
        sock = socket.create_connection((host, int(port)), timeout=WAIT)
        self.sock = tls.wrap_socket(sock, server_hostname="localhost") if tls is not None else sock
        self.buffer = b""

    def ask(self, message: str) -> hl7.Message:
        """Send one message and parse its ACK."""
        self.sock.sendall(frames(message))
        while b"\x1c\r" not in self.buffer:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed before an answer")
            self.buffer += data
        frame, _, self.buffer = self.buffer.partition(b"\x1c\r")
        return hl7.parse(frame[1:].decode("utf-8"))

    def close(self) -> None:
        """Close the connection."""
        self.sock.close()


def msa(ack: hl7.Message) -> tuple[str, str]:
    """MSA-1 and MSA-3."""
    segment = ack.segment("MSA")
    return str(segment[1]), str(segment[3])


def test_msh8_is_read_from_the_first_segment() -> None:
    """MSH-8 in the message's own field separator; "" for a missing MSH or too few fields."""
    assert "tok" == msh8(with_security(rde_o11(), "tok").encode())
    assert "tok" == msh8(b"MSH#^~\\&#A#B#C#D#20250101#tok#ADT^A01\r")
    assert "" == msh8(b"PID|1\r")
    assert "" == msh8(b"MSH|^~\\&|A|B\r")


def test_message_without_a_valid_token_is_ar_and_the_connection_stays_usable(
    store: KbStore, tokens: Tokens, tmp_path: Path, metrics: AgentMetrics
) -> None:
    """No token, then a wrong one: AR with "unauthenticated" in MSA-3 and ERR-8, counted, logged without the token;
    then, on the same connection, the right token gets the AA with the alert."""
    wrong = "fgt_" + "C" * 43
    with serving(store, tokens.settings(), tmp_path, metrics) as listener, capture_logs() as logs:
        client = Client(listener.address)
        try:
            for message in (rde_o11(), with_security(rde_o11(), wrong)):
                ack = client.ask(message)
                code, text = msa(ack)
                assert "AR" == code
                assert text.startswith("unauthenticated: ")
                assert "unauthenticated" in str(ack.segment("ERR")[8])
            ack = client.ask(with_security(rde_o11(), tokens.token))
        finally:
            client.close()
    assert "AA" == msa(ack)[0]
    assert [SEX_DRUG_RULE_ID] == [str(e[5]).split("^")[0] for e in ack if str(e[0]) == "ERR"]
    assert 2.0 == refused(metrics, "mllp")
    assert ["no token", "unknown token"] == [e["reason"] for e in logs if e["event"] == "auth.refused"]
    assert all(wrong not in str(e) and tokens.token not in str(e) for e in logs)


def client_tls(pki: Pki, client: str, *, stranger: bool = False) -> ssl.SSLContext:
    """A client context trusting the agent's CA with `client`'s certificate."""
    context = ssl.create_default_context(cafile=pki.ca)
    cert, key = pki.client(client, stranger=stranger)
    context.load_cert_chain(cert, key)
    return context


def test_mtls_mllp_serves_an_allowed_certificate_and_refuses_others(
    store: KbStore, pki: Pki, tmp_path: Path, metrics: AgentMetrics
) -> None:
    """TLS-wrapped MLLP, allowed his-main: its messages are checked (AA); his-lab's (same CA) are AR
    "unauthenticated"; a certificate of another CA does not get through the handshake."""
    with serving(store, pki.settings(HIS), tmp_path, metrics) as listener:
        client = Client(listener.address, client_tls(pki, HIS))
        try:
            assert "AA" == msa(client.ask(rde_o11()))[0]
        finally:
            client.close()
        client = Client(listener.address, client_tls(pki, LAB))
        try:
            code, text = msa(client.ask(rde_o11()))
        finally:
            client.close()
        assert ("AR", "unauthenticated: client certificate 'his-lab' is not in auth.allowed_clients") == (code, text)
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            stranger = Client(listener.address, client_tls(pki, HIS, stranger=True))
            try:
                stranger.ask(rde_o11())
            finally:
                stranger.close()
    assert 1.0 == refused(metrics, "mllp")
