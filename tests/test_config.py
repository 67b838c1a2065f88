"""Settings: defaults, TOML < environment < command line, key-named errors, frozen plain values."""

from __future__ import annotations

import dataclasses
import os
from decimal import Decimal
from pathlib import Path

import pytest

from fundguard.agent.config import ConfigError, GrpcSettings, LogSettings, load_settings
from fundguard.agent.kb import KbStore
from fundguard.knowledge_base import default_bundle_path

from .transport.agent_kb import write_small_bundle


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No FUNDGUARD_* variable of the developer's shell leaks into these tests."""
    for name in list(os.environ):
        if name.upper().startswith("FUNDGUARD_"):
            monkeypatch.delenv(name)


def toml(tmp_path: Path, text: str) -> Path:
    """Write a TOML config file."""
    path = tmp_path / "fundguard.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(config_file: Path | None = None, overrides: dict[str, object] | None = None) -> list[str]:
    """The `key: problem` lines of the ConfigError the sources raise."""
    with pytest.raises(ConfigError) as err:
        load_settings(config_file, overrides)
    assert list(err.value.problems) == str(err.value).splitlines()
    return list(err.value.problems)


def test_defaults() -> None:
    """Without any source: local address, 16 MiB receive limit, the embedded KB, info JSON logs."""
    settings = load_settings()
    assert GrpcSettings("127.0.0.1:50051", 8, 16 * 1024 * 1024, 5.0) == settings.grpc
    assert (default_bundle_path(), {}) == (settings.kb.path, dict(settings.kb.parameters))
    assert LogSettings("info", True) == settings.log


def test_toml_file(tmp_path: Path) -> None:
    """Every section is read from the TOML file."""
    config = toml(tmp_path, """
[grpc]
address = "0.0.0.0:6000"
max_workers = 16
max_receive_bytes = 1048576
grace_seconds = 2.5
[kb]
path = "/srv/kb/bundle.json"
[kb.parameters]
child_below_years = 14
surgery_discount_ratio = "0.6"
[kb.parameters.hosp_lv_rank]
"11" = 1
[log]
level = "DEBUG"
json = false
""")
    settings = load_settings(config)
    assert GrpcSettings("0.0.0.0:6000", 16, 1048576, 2.5) == settings.grpc
    assert Path("/srv/kb/bundle.json") == settings.kb.path
    expected_params = {"child_below_years": 14, "surgery_discount_ratio": Decimal("0.6"), "hosp_lv_rank": {"11": 1}}
    assert expected_params == {k: dict(v) if k == "hosp_lv_rank" else v for k, v in settings.kb.parameters.items()}
    assert LogSettings("debug", False) == settings.log


def test_environment_beats_toml_and_command_line_beats_both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TOML < FUNDGUARD_<SECTION>__<KEY> < CLI overrides, merged key by key."""
    config = toml(tmp_path, '[grpc]\naddress = "0.0.0.0:6000"\nmax_workers = 16\n[log]\nlevel = "warning"\n')
    monkeypatch.setenv("FUNDGUARD_GRPC__ADDRESS", "127.0.0.1:7000")
    monkeypatch.setenv("FUNDGUARD_GRPC__MAX_WORKERS", "4")
    settings = load_settings(config, {"grpc.address": "127.0.0.1:8000", "kb.path": None})
    assert ("127.0.0.1:8000", 4, "warning") == (settings.grpc.address, settings.grpc.max_workers, settings.log.level)
    assert default_bundle_path() == settings.kb.path


def test_nested_override_mapping_is_accepted() -> None:
    """Overrides may be nested mappings as well as dotted keys."""
    settings = load_settings(None, {"grpc": {"address": "[::]:50051"}, "log": {"json": False}})
    assert ("[::]:50051", False) == (settings.grpc.address, settings.log.json)


def test_hosp_lv_mapping_from_environment_reaches_the_compiled_kb(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FUNDGUARD_KB__PARAMETERS__HOSP_LV_RANK re-ranks one code; the other bundle codes keep their rank."""
    monkeypatch.setenv("FUNDGUARD_KB__PARAMETERS__HOSP_LV_RANK", '{"11": 1, "12": 2}')
    settings = load_settings()
    store = KbStore(settings.kb.parameters)
    kb = store.load(write_small_bundle(tmp_path))
    assert (1, 2, 3, 2) == tuple(kb.params.hosp_lv_rank[c] for c in ("11", "12", "01", "05"))


def test_each_bad_key_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every defect from every source is reported with its dotted key."""
    config = toml(tmp_path, '[grpc]\nmax_workers = 0\nadress = "x"\n[kb.parameters.hosp_lv_rank]\n"01" = 7\n')
    monkeypatch.setenv("FUNDGUARD_LOG__LEVEL", "loud")
    expected = [
        "grpc.max_workers: Input should be greater than 0",
        "grpc.adress: unknown key",
        "kb.parameters.hosp_lv_rank.01: Input should be less than or equal to 3",
        "log.level: Input should be 'debug', 'info', 'warning' or 'error'",
    ]
    assert expected == problems(config)


@pytest.mark.parametrize("address", ["localhost", ":50051", "host:port", "127.0.0.1:70000", ""])
def test_bad_address_is_named(address: str) -> None:
    """grpc.address must be HOST:PORT (or unix:PATH)."""
    assert ["grpc.address: must be HOST:PORT (e.g. 127.0.0.1:50051, [::]:50051) or unix:PATH"] == problems(
        None, {"grpc.address": address}
    )


def test_unknown_section_and_parameter_are_named(tmp_path: Path) -> None:
    """A misspelt section or KB parameter is refused, not ignored."""
    config = toml(tmp_path, '[upload]\nurl = "x"\n[kb.parameters]\nhosp_lvl_rank = {}\n')
    assert ["kb.parameters.hosp_lvl_rank: unknown key", "upload: unknown key"] == sorted(problems(config))


def test_bad_environment_value_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """An environment value is validated like any other source."""
    monkeypatch.setenv("FUNDGUARD_GRPC__GRACE_SECONDS", "soon")
    assert ["grpc.grace_seconds: Input should be a valid number, unable to parse string as a number"] == problems()


def test_missing_config_file(tmp_path: Path) -> None:
    """A --config file that does not exist is a ConfigError naming the file."""
    missing = tmp_path / "nope.toml"
    assert [f"{missing}: cannot read config file (No such file or directory)"] == problems(missing)


def test_invalid_toml(tmp_path: Path) -> None:
    """TOML syntax errors name the file and the line."""
    config = toml(tmp_path, "[grpc\n")
    (problem,) = problems(config)
    assert problem.startswith(f"{config}: not valid TOML (") and "line 1" in problem


def test_settings_are_frozen_plain_values(tmp_path: Path) -> None:
    """Components get frozen dataclasses and read-only mappings, not the pydantic model."""
    settings = load_settings(toml(tmp_path, '[kb.parameters]\nmaternity_insutypes = ["510", "520"]\n'))
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.grpc.max_workers = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.kb.parameters["child_below_years"] = 1  # type: ignore[index]
    assert ("510", "520") == settings.kb.parameters["maternity_insutypes"]


def test_listener_sections_are_off_by_default_and_validated(tmp_path: Path) -> None:
    """http/mllp/drop/codes are off unless set; addresses are checked and the key named; data dir has a default."""
    defaults = load_settings()
    expected_off = (None, None, None, None, Path("fundguard-data"))
    assert expected_off == (defaults.http.address, defaults.mllp.address, defaults.drop.dir,
                            defaults.codes.map_file, defaults.data.dir)  # fmt: skip
    config = tmp_path / "f.toml"
    config.write_text(
        '[http]\naddress = "0.0.0.0:8080"\n[mllp]\naddress = "127.0.0.1:2575"\n[drop]\ndir = "/srv/drop"\n'
        'poll_seconds = 0.5\n[codes]\nmap_file = "codes.csv"\n[data]\ndir = "/var/lib/fundguard"\n',
        encoding="utf-8",
    )
    s = load_settings(config)
    expected = ("0.0.0.0:8080", "127.0.0.1:2575", Path("/srv/drop"), 0.5, Path("codes.csv"), Path("/var/lib/fundguard"))
    assert expected == (s.http.address, s.mllp.address, s.drop.dir, s.drop.poll_seconds, s.codes.map_file, s.data.dir)
    with pytest.raises(ConfigError) as err:
        load_settings(None, {"http.address": "8080", "mllp.address": "host:99999", "drop.poll_seconds": 0})
    keys = [problem.split(":")[0] for problem in err.value.problems]
    assert ["http.address", "mllp.address", "drop.poll_seconds"] == keys
