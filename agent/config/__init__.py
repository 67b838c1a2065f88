"""The agent's settings: declared once (pydantic), read from TOML < environment < command line, then frozen plain.

Sources, lowest priority first: a TOML file (`--config FILE`), environment variables `FUNDGUARD_<SECTION>__<KEY>`
(e.g. `FUNDGUARD_GRPC__MAX_WORKERS=16`, `FUNDGUARD_KB__PARAMETERS__HOSP_LV_RANK='{"11": 1}'`), then the overrides the
CLI passes (`{"grpc": {"address": ...}}` or dotted keys `{"grpc.address": ...}`). Unknown keys and bad values are
refused with a `ConfigError` naming each key (`grpc.max_workers: Input should be greater than 0`). Components get
frozen dataclasses, never the pydantic model. This is the only package that reads the environment:
`values` (the frozen settings), `sections` (the pydantic model), `loading` (sources → validated → frozen).
"""

from __future__ import annotations

from .loading import load_settings
from .values import (
    DEFAULT_CHECK_BUDGET_MS,
    AuthMode,
    AuthSettings,
    CodesSettings,
    ConfigError,
    DataSettings,
    DropSettings,
    GrpcSettings,
    HealthSettings,
    HistorySettings,
    HttpSettings,
    KbSettings,
    LogSettings,
    MetricsSettings,
    MllpSettings,
    PatientIdentity,
    PractitionerSettings,
    Settings,
    TraceSettings,
    UplinkSettings,
)

__all__ = [
    "DEFAULT_CHECK_BUDGET_MS",
    "AuthMode",
    "AuthSettings",
    "CodesSettings",
    "ConfigError",
    "DataSettings",
    "DropSettings",
    "GrpcSettings",
    "HealthSettings",
    "HistorySettings",
    "HttpSettings",
    "KbSettings",
    "LogSettings",
    "MetricsSettings",
    "MllpSettings",
    "PatientIdentity",
    "PractitionerSettings",
    "Settings",
    "TraceSettings",
    "UplinkSettings",
    "load_settings",
]
