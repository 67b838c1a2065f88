"""`[auth]` end to end: the settings (validated, keys named), a built agent whose every listener is guarded and
whose refusals show in its metrics, a bad file stopping the start, `fundguard doctor`'s line and the `fundguard auth`
commands."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import pytest

from fundguard.agent.app import StartupError, build_agent
from fundguard.agent.auth.doctor import auth_findings
from fundguard.agent.auth.page_keys import PageKeys, load_page_secret
from fundguard.agent.cli import main
from fundguard.agent.config import AuthSettings, ConfigError, load_settings
from fundguard.agent.ops.findings import Level
from fundguard.v1 import compliance_pb2 as pb
from fundguard.v1 import compliance_pb2_grpc as pb_grpc
from tests.samples import male_iud_3101

from .auth_samples import Pki, Tokens

WAIT = 10.0


def test_auth_is_off_by_default_and_validated_by_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No [auth]: mode none. Token mode needs tokens_file, mtls cert/key/client_ca, cert and key go together; the
    errors name the section; the environment sets it like any key."""
    assert AuthSettings() == load_settings().auth
    cases = [
        ({"auth.mode": "token"}, "auth: required when mode = 'token': tokens_file"),
        ({"auth.mode": "MTLS", "auth.cert": "c.pem", "auth.key": "k.pem"}, "required when mode = 'mtls': client_ca"),
        ({"auth.cert": "c.pem"}, "auth: cert and key go together"),
        ({"auth.mode": "password"}, "auth.mode: Input should be 'none', 'token' or 'mtls'"),
    ]
    for overrides, problem in cases:
        with pytest.raises(ConfigError) as err:
            load_settings(None, overrides)
        assert any(problem in p for p in err.value.problems), err.value.problems
    settings = load_settings(None, {"auth": {"mode": "mtls", "cert": "c", "key": "k", "client_ca": "ca",
                                             "allowed_clients": [" his-main ", ""]}})  # fmt: skip
    assert ("mtls", ("his-main",), True) == (settings.auth.mode, settings.auth.allowed_clients, settings.auth.tls)
    monkeypatch.setenv("FUNDGUARD_AUTH__MODE", "token")
    monkeypatch.setenv("FUNDGUARD_AUTH__TOKENS_FILE", str(tmp_path / "c.csv"))
    assert ("token", tmp_path / "c.csv") == (load_settings().auth.mode, load_settings().auth.tokens_file)


def agent_settings(tmp_path: Path, auth: dict[str, Any]) -> Any:
    """Settings with gRPC, HTTP and MLLP on free ports, the data dir in tmp_path and `auth`."""
    listeners = {f"{name}.address": "127.0.0.1:0" for name in ("grpc", "http", "mllp")}
    return load_settings(None, {**listeners, "data.dir": tmp_path / "data", "auth": auth})


def post(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> int:
    """The HTTP status of a JSON POST."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers or {}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=WAIT) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        with err:
            return err.status


def test_a_built_agent_guards_grpc_and_http_and_counts_refusals(tmp_path: Path, tokens: Tokens) -> None:
    """With [auth] mode token the agent refuses gRPC and HTTP calls without the token, counts them in its own
    registry, serves those with it, and its pop-up page key comes from the secret it created in the data dir."""
    agent = build_agent(agent_settings(tmp_path, {"mode": "token", "tokens_file": tokens.path}))
    agent.start()
    try:
        http = next(listener for listener in agent.listeners if listener.name == "http")
        with grpc.insecure_channel(agent.address) as channel:
            stub = pb_grpc.ComplianceAgentStub(channel)
            with pytest.raises(grpc.RpcError) as err:
                stub.GetStatus(pb.StatusRequest(), timeout=WAIT)
            assert grpc.StatusCode.UNAUTHENTICATED == err.value.code()
            good = (("authorization", f"Bearer {tokens.token}"),)
            assert stub.GetStatus(pb.StatusRequest(), metadata=good, timeout=WAIT).kb.revision
        assert 401 == post(f"http://{http.address}/3101", male_iud_3101())
        assert 200 == post(f"http://{http.address}/3101", male_iud_3101(), {"Authorization": f"Bearer {tokens.token}"})
        assert agent.metrics is not None
        sample = agent.metrics.registry.get_sample_value
        assert (1.0, 1.0) == (sample("fundguard_unauthenticated_total", {"transport": "grpc"}),
                              sample("fundguard_unauthenticated_total", {"transport": "national"}))  # fmt: skip
        assert agent.auth is not None and agent.auth.page_keys is not None
        secret = load_page_secret(tmp_path / "data" / "auth" / "page.secret", create=False)
        assert PageKeys(secret).key("WS-1") == agent.auth.page_keys.key("WS-1")
    finally:
        agent.stop(grace=1)


def test_a_bad_tokens_file_stops_the_start_naming_it(tmp_path: Path) -> None:
    """A tokens file holding a plaintext token (not a hash) is a StartupError naming the entry; a missing
    certificate names its key."""
    path = tmp_path / "clients.csv"
    path.write_text("client,sha256\nhis-main,my-secret-token\n", encoding="utf-8")
    with pytest.raises(StartupError, match="line 2: his-main: not a SHA-256"):
        build_agent(agent_settings(tmp_path, {"mode": "token", "tokens_file": path}))
    auth = {"mode": "mtls", "cert": tmp_path / "none.pem", "key": tmp_path / "none.key", "client_ca": path}
    with pytest.raises(StartupError, match=r"auth\.key: cannot read"):
        build_agent(agent_settings(tmp_path, auth))


def test_doctor_warns_when_clients_are_not_authenticated(tmp_path: Path, tokens: Tokens, pki: Pki) -> None:
    """mode none: one WARN; token mode: OK with the client count, saying that tokens cross the network in the clear
    without TLS; mtls with the dev PKI: OK naming who is let in; a broken tokens file: FAIL."""
    none = auth_findings(load_settings(None, {"data.dir": tmp_path}))
    assert [Level.WARN] == [f.level for f in none]
    assert "mode = none" in none[0].message
    token_settings = load_settings(None, {"data.dir": tmp_path, "auth.mode": "token", "auth.tokens_file": tokens.path})
    token = auth_findings(token_settings)
    assert [Level.OK] == [f.level for f in token]
    assert token[0].message.startswith("mode token: 1 client(s)")
    assert "in the clear" in token[0].message
    auth = {"mode": "mtls", "cert": pki.server_cert, "key": pki.server_key, "client_ca": pki.ca,
            "allowed_clients": ["his-main"]}  # fmt: skip
    mtls = load_settings(None, {"data.dir": tmp_path, "auth": auth})
    assert [(Level.OK, "mode mtls: his-main")] == [(f.level, f.message) for f in auth_findings(mtls)]
    tokens.path.write_text("nonsense", encoding="utf-8")
    assert Level.FAIL == auth_findings(token_settings)[0].level


def test_cli_issues_a_client_token_once_and_prints_page_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`auth add-client` prints a token whose hash (only) is stored; a second time for the name fails (exit 2);
    `auth page-key` prints the key the agent would derive, or the page URL with it."""
    path = tmp_path / "clients.toml"
    assert 0 == main(["auth", "add-client", "his-main", "--tokens-file", str(path)])
    token = capsys.readouterr().out.strip()
    assert token.startswith("fgt_") and token not in path.read_text("utf-8")
    assert 2 == main(["auth", "add-client", "his-main", "--tokens-file", str(path)])
    assert "already" in capsys.readouterr().err
    assert 2 == main(["auth", "page-key", "WS-1", "--data-dir", str(tmp_path)])  # no secret yet: not created here
    capsys.readouterr()
    secret = load_page_secret(tmp_path / "auth" / "page.secret")
    assert 0 == main(["auth", "page-key", "WS-1", "--data-dir", str(tmp_path)])
    assert PageKeys(secret).key("WS-1") == capsys.readouterr().out.strip()
    assert 0 == main(["auth", "page-key", "WS 1", "--data-dir", str(tmp_path), "--url", "http://h:8080/"])
    url = f"http://h:8080/alerts?workstation=WS+1&key={PageKeys(secret).key('WS 1')}"
    assert url == capsys.readouterr().out.strip()
