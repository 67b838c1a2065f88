"""Mutual TLS between the uploader and the central platform (certificates from `fundguard-central dev-certs`): the
reference central accepts the agent with its certificate; a client certificate of another CA is refused, and so is
a central the agent's CA did not sign; nothing leaves the outbox when refused. Channel errors name the key."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fundguard.agent.config import UplinkSettings
from fundguard.agent.uplink.outbox import Outbox
from fundguard.agent.uplink.tls import channel
from fundguard.agent.uplink.uploader import Uploader, grpc_send
from fundguard.central.devcerts import agent_dir, write_dev_certs
from fundguard.central.server import CentralSettings, create_server, load_server_credentials
from fundguard.central.store import Store

AGENT, HOSPITAL = "agent-07", "H43070200001"


def settings(port: int, certs: Path) -> UplinkSettings:
    """[uplink] for this agent with the certificate folder `certs` gave it."""
    folder = agent_dir(certs, AGENT)
    return UplinkSettings(central=f"127.0.0.1:{port}", agent_id=AGENT, institution_code=HOSPITAL,
                          ca=folder / "ca.pem", cert=folder / "client.pem", key=folder / "client.key")  # fmt: skip


@pytest.fixture
def central(tmp_path: Path) -> Iterator[int]:
    """The reference central over mTLS on a free port, with the dev PKI under tmp_path/certs; yields the port."""
    write_dev_certs(tmp_path / "certs", [AGENT])
    write_dev_certs(tmp_path / "rogue", [AGENT])  # another CA issuing the same names
    store = Store.open(f"sqlite:///{tmp_path / 'central.sqlite3'}")
    server, port = create_server(store, CentralSettings(), credentials=load_server_credentials(tmp_path / "certs"))
    server.start()
    yield port
    server.stop(0)


def upload(tmp_path: Path, chosen: UplinkSettings) -> tuple[int, int]:
    """Record two events and try to upload them once; (events acknowledged or -1 on failure, left in outbox)."""
    box = Outbox(tmp_path / f"outbox-{id(chosen)}.sqlite3", 1 << 26, clock=lambda: datetime.now(UTC), agent_id=AGENT)
    box.record("check", "M1", "D430702000001", {"alerts": []})
    box.record("decision", "M1", "D430702000001", {"jr_id": "J1", "dspo_way": "2"})
    up = Uploader(box, grpc_send(channel(chosen), 10.0), institution_code=HOSPITAL)
    try:
        done = up.drain_once()
    except Exception:
        done = -1
    return done, box.depth


def test_the_agent_with_its_certificate_uploads(tmp_path: Path, central: int) -> None:
    """The right client certificate, a server signed by the trusted CA: both events stored and deleted."""
    assert (2, 0) == upload(tmp_path, settings(central, tmp_path / "certs"))


def test_a_client_certificate_of_another_ca_is_refused(tmp_path: Path, central: int) -> None:
    """The central does not accept a client whose certificate its CA did not sign; the events stay."""
    right = settings(central, tmp_path / "certs")
    rogue = agent_dir(tmp_path / "rogue", AGENT)
    chosen = UplinkSettings(central=right.central, ca=right.ca, cert=rogue / "client.pem", key=rogue / "client.key")
    assert (-1, 2) == upload(tmp_path, chosen)


def test_a_central_the_agent_does_not_trust_is_refused(tmp_path: Path, central: int) -> None:
    """Trusting only another CA, the agent does not talk to this central; the events stay."""
    right = settings(central, tmp_path / "certs")
    chosen = UplinkSettings(central=right.central, ca=tmp_path / "rogue" / "ca.pem", cert=right.cert, key=right.key)
    assert (-1, 2) == upload(tmp_path, chosen)


def test_channel_errors_name_the_key(tmp_path: Path) -> None:
    """No central: the uplink is off; an unreadable PEM file is named by its key."""
    with pytest.raises(ValueError, match=r"^uplink.central: not set"):
        channel(UplinkSettings())
    missing = UplinkSettings(central="127.0.0.1:1", ca=tmp_path / "ca.pem", cert=tmp_path / "c", key=tmp_path / "k")
    with pytest.raises(ValueError, match=r"^uplink.ca: cannot read .*ca.pem"):
        channel(missing)
