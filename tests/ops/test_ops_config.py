"""The [metrics] and [health] settings: defaults (no metrics port of its own; health every 5 s, 64 MB floor) and
bad values refused naming the key."""

from __future__ import annotations

import pytest

from fundguard.agent.config import ConfigError, HealthSettings, MetricsSettings, load_settings


def test_defaults() -> None:
    """Without a [metrics] address no port of its own is opened; health looks every 5 s and wants 64 MB free."""
    settings = load_settings(None, {})
    assert (MetricsSettings(None), HealthSettings(5.0, 64)) == (settings.metrics, settings.health)


def test_values_are_read() -> None:
    """A metrics address and health values given are taken."""
    settings = load_settings(None, {"metrics.address": "127.0.0.1:9464", "health": {"interval_seconds": 1,
                                                                                    "min_free_mb": 0}})  # fmt: skip
    assert ("127.0.0.1:9464", 1.0, 0) == (
        settings.metrics.address,
        settings.health.interval_seconds,
        settings.health.min_free_mb,
    )


@pytest.mark.parametrize(
    ("overrides", "key"),
    [({"metrics.address": "9464"}, "metrics.address"), ({"health.interval_seconds": 0}, "health.interval_seconds"),
     ({"health.min_free_mb": -1}, "health.min_free_mb"), ({"metrics.port": 1}, "metrics.port")],
)  # fmt: skip
def test_bad_values_name_the_key(overrides: dict[str, object], key: str) -> None:
    """Each bad value is refused with its dotted key."""
    with pytest.raises(ConfigError) as refused:
        load_settings(None, overrides)
    assert [key] == [problem.split(":")[0] for problem in refused.value.problems]
