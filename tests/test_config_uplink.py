"""[uplink] settings: off by default; when a central is set, what it needs is required and named; the institution
code and agent id are checked; plaintext only towards a loopback central; frozen plain values."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fundguard.agent.config import ConfigError, UplinkSettings, load_settings

FULL = {
    "uplink.central": "central.ybj.gov.cn:8443",
    "uplink.agent_id": "agent-07",
    "uplink.institution_code": "H43070200001",
    "uplink.ca": "/etc/fundguard/ca.pem",
    "uplink.cert": "/etc/fundguard/client.pem",
    "uplink.key": "/etc/fundguard/client.key",
    "uplink.identity_secret_file": "/etc/fundguard/identity.key",
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No FUNDGUARD_* variable of the developer's shell leaks into these tests."""
    for name in list(os.environ):
        if name.upper().startswith("FUNDGUARD_"):
            monkeypatch.delenv(name)


def problems(overrides: dict[str, object]) -> list[str]:
    """The `key: problem` lines of the ConfigError."""
    with pytest.raises(ConfigError) as err:
        load_settings(None, overrides)
    return list(err.value.problems)


def test_off_by_default() -> None:
    """Without [uplink] nothing is recorded or sent; the documented defaults hold."""
    uplink = load_settings().uplink
    assert UplinkSettings() == uplink
    assert (False, "pseudonymised", 500, 1024, 0.8, 30.0) == (
        uplink.enabled, uplink.identity, uplink.batch_size, uplink.max_queue_mb, uplink.alarm_ratio,
        uplink.status_poll_seconds,
    )  # fmt: skip


def test_a_complete_section_from_toml(tmp_path: Path) -> None:
    """Every key is read from the file; paths become Paths; the queue bound is in bytes."""
    config = tmp_path / "f.toml"
    config.write_text(
        '[uplink]\ncentral = "central.ybj.gov.cn:8443"\nagent_id = "agent-07"\ninstitution_code = "h43070200001"\n'
        'ca = "ca.pem"\ncert = "client.pem"\nkey = "client.key"\nidentity = "FULL"\noutbox = "/var/q.sqlite3"\n'
        "batch_size = 200\nmax_queue_mb = 64\nalarm_ratio = 0.5\nstatus_poll_seconds = 10\n",
        encoding="utf-8",
    )
    u = load_settings(config).uplink
    assert (True, "H43070200001", "full", Path("ca.pem"), Path("/var/q.sqlite3")) == (
        u.enabled, u.institution_code, u.identity, u.ca, u.outbox,
    )  # fmt: skip
    assert (200, 64 * 1024 * 1024, 0.5, 10.0) == (u.batch_size, u.max_queue_bytes, u.alarm_ratio, u.status_poll_seconds)


def test_a_central_needs_identity_certificates_and_secret() -> None:
    """Set a central and forget the rest: every missing key is named in one line."""
    assert [
        "uplink: required when central is set: agent_id, institution_code, ca, cert, key, identity_secret_file"
    ] == problems({"uplink.central": "central.ybj.gov.cn:8443"})
    assert load_settings(None, FULL).uplink.enabled
    full_identity = {k: v for k, v in FULL.items() if k != "uplink.identity_secret_file"}
    assert "full" == load_settings(None, {**full_identity, "uplink.identity": "full"}).uplink.identity


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("institution_code", "H4307", "must be H followed by 11 digits (定点医疗机构编号)"),
        ("institution_code", "430702000001", "must be H followed by 11 digits (定点医疗机构编号)"),
        ("agent_id", "agent:07", "must be at most 64 letters, digits, '.', '_' or '-'"),
        ("central", "central.ybj.gov.cn", "must be HOST:PORT (e.g. central.example.gov.cn:8443)"),
        ("identity", "hashed", "Input should be 'full' or 'pseudonymised'"),
        ("batch_size", 0, "Input should be greater than 0"),
        ("alarm_ratio", 1.5, "Input should be less than or equal to 1"),
        ("status_poll_seconds", 0, "Input should be greater than or equal to 1"),
    ],
)
def test_bad_values_are_named(key: str, value: object, problem: str) -> None:
    """Each bad value is refused naming its key."""
    assert [f"uplink.{key}: {problem}"] == problems({**FULL, f"uplink.{key}": value})


def test_insecure_only_towards_loopback() -> None:
    """Plaintext is for tests against a central on this machine; then no certificates are needed."""
    plain = {"uplink.central": "127.0.0.1:7000", "uplink.agent_id": "a1", "uplink.institution_code": "H43070200001",
             "uplink.identity": "full", "uplink.insecure": True}  # fmt: skip
    assert (True, None) == (load_settings(None, plain).uplink.insecure, load_settings(None, plain).uplink.ca)
    assert load_settings(None, {**plain, "uplink.central": "localhost:7000"}).uplink.insecure
    assert ["uplink: insecure = true is only allowed for a central on 127.0.0.1/localhost, not 10.1.2.3"] == problems(
        {**plain, "uplink.central": "10.1.2.3:7000"}
    )


def test_environment_sets_uplink_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """FUNDGUARD_UPLINK__<KEY> works like the other sections."""
    for key, value in FULL.items():
        monkeypatch.setenv(f"FUNDGUARD_{key.replace('.', '__').upper()}", value)
    monkeypatch.setenv("FUNDGUARD_UPLINK__MAX_QUEUE_MB", "16")
    uplink = load_settings().uplink
    assert ("agent-07", 16) == (uplink.agent_id, uplink.max_queue_mb)
