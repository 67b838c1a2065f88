"""The one pydantic-settings model (`ConfigModel`): every section, key, default and validator of the sources."""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, InitSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from fundguard.agent.engine.history_model import HistoryPolicy, InstitutionState
from fundguard.agent.engine.trace_model import TracePolicy

from .values import (
    DEFAULT_ALARM_RATIO,
    DEFAULT_CHECK_BUDGET_MS,
    DEFAULT_DATA_DIR,
    DEFAULT_GRACE_SECONDS,
    DEFAULT_GRPC_ADDRESS,
    DEFAULT_HEALTH_SECONDS,
    DEFAULT_HISTORY_POLICY,
    DEFAULT_HISTORY_RETENTION_DAYS,
    DEFAULT_LOG_LEVEL,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_MAX_QUEUE_MB,
    DEFAULT_MAX_RECEIVE_BYTES,
    DEFAULT_MAX_WORKERS,
    DEFAULT_MIN_FREE_MB,
    DEFAULT_STATUS_POLL_SECONDS,
    DEFAULT_TRACE_POLICY,
    DEFAULT_UPLINK_BATCH,
    DEFAULT_UPLOAD_TIMEOUT_SECONDS,
    ENV_PREFIX,
    LOOPBACK_HOSTS,
    MAX_GRPC_BYTES,
    AuthMode,
    LogLevel,
    PatientIdentity,
)

# ---- the one pydantic-settings model ---------------------------------------------------------------------------


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _host_port(value: str, example: str, unix: bool = False) -> str:
    value = value.strip()
    if unix and value.startswith("unix:"):
        return value
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"must be HOST:PORT (e.g. {example})" + (" or unix:PATH" if unix else ""))
    return value


class _Grpc(_Section):
    address: str = DEFAULT_GRPC_ADDRESS
    max_workers: int = Field(default=DEFAULT_MAX_WORKERS, gt=0, le=1024)
    max_receive_bytes: int = Field(default=DEFAULT_MAX_RECEIVE_BYTES, gt=0, le=MAX_GRPC_BYTES)
    grace_seconds: float = Field(default=DEFAULT_GRACE_SECONDS, ge=0, le=600)
    check_budget_ms: int = Field(default=DEFAULT_CHECK_BUDGET_MS, ge=0, le=60_000)

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        return _host_port(value, "127.0.0.1:50051, [::]:50051", unix=True)


class _Http(_Section):
    address: str | None = None
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, gt=0)

    @field_validator("address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        return None if value is None or not value.strip() else _host_port(value, "127.0.0.1:8080")


class _Mllp(_Section):
    address: str | None = None
    max_message_bytes: int = Field(default=DEFAULT_MAX_MESSAGE_BYTES, gt=0)

    @field_validator("address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        return None if value is None or not value.strip() else _host_port(value, "127.0.0.1:2575")


class _Drop(_Section):
    dir: Path | None = None
    poll_seconds: float = Field(default=1.0, gt=0, le=3600)


class _Codes(_Section):
    map_file: Path | None = None


class _Data(_Section):
    dir: Path = DEFAULT_DATA_DIR


class _Trace(_Section):
    enabled: bool = True
    ledger: Path | None = None
    required_prefixes: list[str] = Field(default_factory=lambda: list(DEFAULT_TRACE_POLICY.required_prefixes))
    required_from: date = DEFAULT_TRACE_POLICY.required_from
    exempt_codes: list[str] = Field(default_factory=list)
    exempt_prefixes: list[str] = Field(default_factory=list)
    exempt_inpatient_split: bool = DEFAULT_TRACE_POLICY.exempt_inpatient_split

    def policy(self) -> TracePolicy:
        return TracePolicy(
            required_prefixes=tuple(p.strip() for p in self.required_prefixes if p.strip()),
            required_from=self.required_from,
            exempt_codes=frozenset(c.strip() for c in self.exempt_codes if c.strip()),
            exempt_prefixes=tuple(p.strip() for p in self.exempt_prefixes if p.strip()),
            exempt_inpatient_split=self.exempt_inpatient_split,
        )


class _Practitioners(_Section):
    check_codes: bool = True


class _Metrics(_Section):
    address: str | None = None

    @field_validator("address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        return None if value is None or not value.strip() else _host_port(value, "127.0.0.1:9464")


class _Health(_Section):
    interval_seconds: float = Field(default=DEFAULT_HEALTH_SECONDS, gt=0, le=3600)
    min_free_mb: int = Field(default=DEFAULT_MIN_FREE_MB, ge=0)


class HistorySection(_Section):
    enabled: bool = True
    path: Path | None = None
    retention_days: int = Field(default=DEFAULT_HISTORY_RETENTION_DAYS, ge=366, le=36_500)
    cache_patients: int = Field(default=20_000, ge=1, le=10_000_000)
    cache_ttl_seconds: float = Field(default=8 * 3600.0, gt=0)
    lookback_days: int = Field(default=365, ge=31, le=36_500)
    split_days: int = Field(default=15, ge=1, le=366)
    readmission_days: int = Field(default=31, ge=1, le=366)
    split_exempt_diagnoses: list[str] = Field(
        default_factory=lambda: list(DEFAULT_HISTORY_POLICY.split_exempt_diagnoses)
    )
    duplicate_overlap_days: int = Field(default=7, ge=0, le=366)
    frequent_visits: int = Field(default=10, ge=1)
    frequent_window_days: int = Field(default=30, ge=1, le=366)

    def policy(self) -> HistoryPolicy:
        return HistoryPolicy(
            split_days=self.split_days,
            readmission_days=self.readmission_days,
            split_exempt_diagnoses=tuple(c.strip().upper() for c in self.split_exempt_diagnoses if c.strip()),
            duplicate_overlap_days=self.duplicate_overlap_days,
            frequent_visits=self.frequent_visits,
            frequent_window_days=self.frequent_window_days,
        )


class _Institution(_Section):
    agreement_start: date | None = None
    guidance_months: int = Field(default=6, ge=0, le=120)
    nonlocal_out_setl_flags: list[str] = Field(default_factory=lambda: ["3", "4"])
    level: str = ""
    type: str = ""

    def state(self) -> InstitutionState:
        return InstitutionState(
            agreement_start=self.agreement_start,
            guidance_months=self.guidance_months,
            nonlocal_out_setl_flags=frozenset(f.strip() for f in self.nonlocal_out_setl_flags if f.strip()),
            level=self.level.strip(),
            type=self.type.strip(),
        )


class UplinkSection(_Section):
    central: str | None = None
    agent_id: str = ""
    institution_code: str = ""
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    insecure: bool = False
    identity: Annotated[PatientIdentity, BeforeValidator(lambda v: str(v).strip().lower())] = "pseudonymised"
    identity_secret_file: Path | None = None
    outbox: Path | None = None
    batch_size: int = Field(default=DEFAULT_UPLINK_BATCH, gt=0, le=10_000)
    max_queue_mb: int = Field(default=DEFAULT_MAX_QUEUE_MB, gt=0, le=1024 * 1024)
    alarm_ratio: float = Field(default=DEFAULT_ALARM_RATIO, gt=0, le=1)
    status_poll_seconds: float = Field(default=DEFAULT_STATUS_POLL_SECONDS, ge=1, le=600)
    upload_timeout_seconds: float = Field(default=DEFAULT_UPLOAD_TIMEOUT_SECONDS, gt=0, le=600)

    @field_validator("central")
    @classmethod
    def _central(cls, value: str | None) -> str | None:
        return None if value is None or not value.strip() else _host_port(value, "central.example.gov.cn:8443")

    @field_validator("agent_id")
    @classmethod
    def _agent_id(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9._-]{0,64}", value):
            raise ValueError("must be at most 64 letters, digits, '.', '_' or '-'")
        return value

    @field_validator("institution_code")
    @classmethod
    def _institution(cls, value: str) -> str:
        value = value.strip().upper()
        if value and not re.fullmatch(r"H\d{11}", value):
            raise ValueError("must be H followed by 11 digits (定点医疗机构编号)")
        return value

    @model_validator(mode="after")
    def _complete(self) -> UplinkSection:
        if self.central is None:
            return self
        missing = [name for name in ("agent_id", "institution_code") if not getattr(self, name)]
        if self.insecure:
            host = self.central.rpartition(":")[0].strip("[]")
            if host not in LOOPBACK_HOSTS:
                raise ValueError(f"insecure = true is only allowed for a central on 127.0.0.1/localhost, not {host}")
        else:
            missing += [name for name in ("ca", "cert", "key") if getattr(self, name) is None]
        if self.identity == "pseudonymised" and self.identity_secret_file is None:
            missing.append("identity_secret_file")
        if missing:
            raise ValueError(f"required when central is set: {', '.join(missing)}")
        return self


class AuthSection(_Section):
    mode: Annotated[AuthMode, BeforeValidator(lambda v: str(v).strip().lower())] = "none"
    tokens_file: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    client_ca: Path | None = None
    allowed_clients: list[str] = Field(default_factory=list)
    page_secret_file: Path | None = None

    @model_validator(mode="after")
    def _complete(self) -> AuthSection:
        if (self.cert is None) != (self.key is None):
            raise ValueError("cert and key go together (the listeners' certificate and its private key)")
        needed = {"token": ("tokens_file",), "mtls": ("cert", "key", "client_ca"), "none": ()}[self.mode]
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"required when mode = {self.mode!r}: {', '.join(missing)}")
        return self


Rank = Annotated[int, Field(ge=0, le=3)]


class _KbParameters(_Section):
    """Overrides of the bundle's `parameters` (knowledge_base/README.md): a mapping merges key by key into the
    bundle's (e.g. re-rank one HOSP_LV code), a list or scalar replaces the bundle's value."""

    child_below_years: int | None = Field(default=None, gt=0)
    working_age_min_years: int | None = Field(default=None, ge=0)
    working_age_below_years: int | None = Field(default=None, gt=0)
    hosp_lv_rank: dict[str, Rank] | None = None
    visit_class_by_med_type: dict[str, str] | None = None
    visit_class_by_med_mdtrt_type: dict[str, str] | None = None
    work_injury_insutypes: list[str] | None = None
    maternity_insutypes: list[str] | None = None
    maternity_med_types: list[str] | None = None
    internet_med_types: list[str] | None = None
    surgery_discount_ratio: Decimal | None = Field(default=None, ge=0, le=1)
    herbal_list_types: list[str] | None = None


class _Kb(_Section):
    path: Path | None = None
    parameters: _KbParameters = _KbParameters()  # frozen, so a shared default is safe
    inbox: Path | None = None
    poll_url: str | None = None
    poll_seconds: float = Field(default=300.0, ge=1, le=86_400)
    trusted_keys: Path | None = None

    @field_validator("poll_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @model_validator(mode="after")
    def _keys(self) -> _Kb:
        if (self.inbox is not None or self.poll_url is not None) and self.trusted_keys is None:
            raise ValueError("trusted_keys (a folder of *.pub keys) is required to take bundles from inbox or poll_url")
        return self


class _Log(_Section):
    level: Annotated[LogLevel, BeforeValidator(lambda v: str(v).strip().lower())] = DEFAULT_LOG_LEVEL
    json_lines: bool = Field(default=True, alias="json")  # `json` would shadow BaseModel.json


TOML_DATA: ContextVar[Mapping[str, Any]] = ContextVar("fundguard_toml_data", default=MappingProxyType({}))


class ConfigModel(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", case_sensitive=False, extra="forbid", frozen=True
    )

    grpc: _Grpc = _Grpc()  # sections are frozen, so shared defaults are safe
    kb: _Kb = _Kb()
    log: _Log = _Log()
    http: _Http = _Http()
    mllp: _Mllp = _Mllp()
    drop: _Drop = _Drop()
    codes: _Codes = _Codes()
    data: _Data = _Data()
    trace: _Trace = _Trace()
    uplink: UplinkSection = UplinkSection()
    practitioners: _Practitioners = _Practitioners()
    metrics: _Metrics = _Metrics()
    health: _Health = _Health()
    history: HistorySection = HistorySection()
    institution: _Institution = _Institution()
    auth: AuthSection = AuthSection()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Command line (init kwargs) over environment over the TOML file; no dotenv, no secrets dir."""
        return init_settings, env_settings, InitSettingsSource(settings_cls, dict(TOML_DATA.get()))
