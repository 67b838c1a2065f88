"""`[history]` and `[institution]` in the settings: defaults, TOML and environment values, errors naming the key."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from fundguard.agent.config import ConfigError, load_settings
from fundguard.agent.engine.history_model import HistoryPolicy, InstitutionState


def test_defaults_keep_history_on_and_no_guidance_period() -> None:
    """History on, 5 years and a quarter kept, the common local thresholds; no agreement start, so no 政策辅导期."""
    settings = load_settings()
    assert (True, None, 1915) == (settings.history.enabled, settings.history.path, settings.history.retention_days)
    assert HistoryPolicy() == settings.history.policy
    assert InstitutionState() == settings.institution
    assert settings.institution.guidance_until is None


def test_toml_and_environment_set_thresholds_and_institution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The file sets the thresholds and the institution; the environment overrides one key."""
    config = tmp_path / "fundguard.toml"
    config.write_text(
        '[history]\nsplit_days = 7\nsplit_exempt_diagnoses = ["z51.1", "Z49.1"]\nfrequent_visits = 20\n'
        '[institution]\nagreement_start = 2026-05-31\nlevel = "05"\nnonlocal_out_setl_flags = ["4"]\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("FUNDGUARD_HISTORY__READMISSION_DAYS", "30")
    settings = load_settings(config)
    policy = settings.history.policy
    assert (7, 30, ("Z51.1", "Z49.1"), 20) == (policy.split_days, policy.readmission_days,
                                              policy.split_exempt_diagnoses, policy.frequent_visits)  # fmt: skip
    inst = settings.institution
    assert (date(2026, 5, 31), "05", frozenset({"4"})) == (inst.agreement_start, inst.level,
                                                          inst.nonlocal_out_setl_flags)  # fmt: skip
    assert date(2026, 11, 30) == inst.guidance_until


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"history.split_days": 0}, "history.split_days"),
        ({"history.retention_days": 30}, "history.retention_days"),
        ({"history.colour": "red"}, "history.colour"),
        ({"institution.agreement_start": "last spring"}, "institution.agreement_start"),
        ({"institution.guidance_months": -1}, "institution.guidance_months"),
    ],
)
def test_bad_values_are_refused_naming_the_key(overrides: dict[str, object], key: str) -> None:
    """Each bad value is a ConfigError whose problem line starts with the key."""
    with pytest.raises(ConfigError) as err:
        load_settings(None, overrides)
    assert any(p.startswith(f"{key}:") for p in err.value.problems), err.value.problems
