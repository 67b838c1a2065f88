"""What the authentication tests share: a dev PKI (the agent's CA and a stranger's), a token file with one client,
the embedded default KB, a metrics registry and how to read `fundguard_unauthenticated_total` from it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from fundguard.agent.auth.tokens import add_client
from fundguard.agent.config import AuthSettings
from fundguard.agent.kb import KbStore
from fundguard.agent.ops import AgentMetrics
from fundguard.central.devcerts import agent_dir, write_dev_certs
from fundguard.knowledge_base import default_bundle_path

HIS = "his-main"  # the allowed client (a certificate from the agent's CA, CN his-main)
LAB = "his-lab"  # another client of the same CA, not in allowed_clients when that is set


@dataclass(frozen=True)
class Pki:
    """The agent's dev CA (server certificate, two clients) and an unrelated CA with a client of the same name."""

    ca: Path
    server_cert: Path
    server_key: Path
    root: Path
    stranger_root: Path

    def client(self, name: str = HIS, *, stranger: bool = False) -> tuple[Path, Path]:
        """(certificate, key) of a client of the agent's CA, or of the stranger's CA."""
        folder = agent_dir(self.stranger_root if stranger else self.root, name)
        return folder / "client.pem", folder / "client.key"

    def settings(self, *allowed: str) -> AuthSettings:
        """[auth] mode mtls with this PKI."""
        return AuthSettings(mode="mtls", cert=self.server_cert, key=self.server_key, client_ca=self.ca,
                            allowed_clients=allowed)  # fmt: skip


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """`fundguard-central dev-certs` twice: the agent's PKI and a stranger's."""
    root = tmp_path_factory.mktemp("pki")
    stranger = tmp_path_factory.mktemp("stranger-pki")
    write_dev_certs(root, [HIS, LAB])
    write_dev_certs(stranger, [HIS])
    return Pki(root / "ca.pem", root / "server.pem", root / "server.key", root, stranger)


@dataclass(frozen=True)
class Tokens:
    """A tokens file holding one client, and that client's token."""

    path: Path
    token: str

    def settings(self, **extra: object) -> AuthSettings:
        """[auth] mode token with this file."""
        return AuthSettings(mode="token", tokens_file=self.path, **extra)  # type: ignore[arg-type]


@pytest.fixture
def tokens(tmp_path: Path) -> Tokens:
    """A fresh CSV tokens file with the client `his-main`."""
    path = tmp_path / "clients.csv"
    return Tokens(path, add_client(path, HIS))


@pytest.fixture(scope="session")
def store() -> KbStore:
    """The embedded default KB, loaded."""
    kb = KbStore()
    kb.load(default_bundle_path())
    return kb


@pytest.fixture
def metrics() -> AgentMetrics:
    """A fresh registry with the agent's instruments."""
    return AgentMetrics()


def refused(metrics: AgentMetrics, transport: str) -> float:
    """`fundguard_unauthenticated_total{transport}` now."""
    value = metrics.registry.get_sample_value("fundguard_unauthenticated_total", {"transport": transport})
    return value if value is not None else 0.0
