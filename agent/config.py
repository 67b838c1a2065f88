"""The agent's settings: declared once (pydantic), read from TOML < environment < command line, then frozen plain.

Sources, lowest priority first: a TOML file (`--config FILE`), environment variables `FUNDGUARD_<SECTION>__<KEY>`
(e.g. `FUNDGUARD_GRPC__MAX_WORKERS=16`, `FUNDGUARD_KB__PARAMETERS__HOSP_LV_RANK='{"11": 1}'`), then the overrides the
CLI passes (`{"grpc": {"address": ...}}` or dotted keys `{"grpc.address": ...}`). Unknown keys and bad values are
refused with a `ConfigError` naming each key (`grpc.max_workers: Input should be greater than 0`). Components get
frozen dataclasses, never the pydantic model. This is the only module that reads the environment.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, InitSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from fundguard.agent.engine.history_model import HistoryPolicy, InstitutionState
from fundguard.agent.engine.trace_model import TracePolicy
from fundguard.knowledge_base import default_bundle_path

__all__ = [
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

ENV_PREFIX = "FUNDGUARD_"
DEFAULT_GRPC_ADDRESS = "127.0.0.1:50051"
DEFAULT_MAX_WORKERS = 8
DEFAULT_MAX_RECEIVE_BYTES = 16 * 1024 * 1024
DEFAULT_GRACE_SECONDS = 5.0
DEFAULT_CHECK_BUDGET_MS = 300
LogLevel = Literal["debug", "info", "warning", "error"]
DEFAULT_LOG_LEVEL: LogLevel = "info"
_MAX_GRPC_BYTES = 2**31 - 1  # gRPC channel arguments are C ints
DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024  # a 3101 with long history is a few MB
DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024  # one HL7 v2 message
DEFAULT_DATA_DIR = Path("fundguard-data")
DEFAULT_HISTORY_RETENTION_DAYS = 5 * 365 + 90  # 5 years of history for the cross-visit rules, plus a quarter
DEFAULT_HISTORY_POLICY = HistoryPolicy()
DEFAULT_INSTITUTION = InstitutionState()
DEFAULT_TRACE_POLICY = TracePolicy()
PatientIdentity = Literal["full", "pseudonymised"]  # how patient ids go up: as sent, or HMAC-SHA256
DEFAULT_UPLINK_BATCH = 500
DEFAULT_MAX_QUEUE_MB = 1024
DEFAULT_ALARM_RATIO = 0.8
DEFAULT_STATUS_POLL_SECONDS = 30.0
DEFAULT_UPLOAD_TIMEOUT_SECONDS = 30.0
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})
DEFAULT_HEALTH_SECONDS = 5.0
DEFAULT_MIN_FREE_MB = 64
AuthMode = Literal["none", "token", "mtls"]  # how HIS clients authenticate ([auth]; agent.auth)


class ConfigError(Exception):
    """The configuration is unreadable or invalid; the message has one `key: problem` line per defect."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = tuple(problems)


# ---- frozen plain values handed to components ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GrpcSettings:
    """[grpc]: where and how the gRPC agent listens; `check_budget_ms`: past it (or the caller's deadline, if
    sooner) a Check answers CHECK_UNAVAILABLE instead of waiting. The budget runs each check on a worker thread
    (measured: ~140 µs more per call than inline on this 2-vCPU VM); 0 runs checks inline, without a budget."""

    address: str = DEFAULT_GRPC_ADDRESS
    max_workers: int = DEFAULT_MAX_WORKERS
    max_receive_bytes: int = DEFAULT_MAX_RECEIVE_BYTES
    grace_seconds: float = DEFAULT_GRACE_SECONDS
    check_budget_ms: int = DEFAULT_CHECK_BUDGET_MS


@dataclass(frozen=True, slots=True)
class KbSettings:
    """[kb]: the bundle file to load and overrides of its global parameters (e.g. `hosp_lv_rank`). `path` is the
    embedded default unless the operator named a bundle (`explicit`): then that file is loaded as it is. Otherwise the
    agent starts on its last-good bundle (under the data dir) when newer, and takes signed bundles (`*.fgkb`) from
    the `inbox` folder and/or by polling `poll_url`, verified with the public keys in `trusted_keys`."""

    path: Path
    parameters: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    explicit: bool = False
    inbox: Path | None = None
    poll_url: str | None = None
    poll_seconds: float = 300.0
    trusted_keys: Path | None = None


@dataclass(frozen=True, slots=True)
class LogSettings:
    """[log]: level and renderer (JSON lines, or console text for people)."""

    level: str = DEFAULT_LOG_LEVEL
    json: bool = True


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """[http]: the HTTP listener (national 3101/3102/3103 gateway and CDS Hooks); off when `address` is None."""

    address: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES


@dataclass(frozen=True, slots=True)
class MllpSettings:
    """[mllp]: the HL7 v2 MLLP listener; off when `address` is None."""

    address: str | None = None
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES


@dataclass(frozen=True, slots=True)
class DropSettings:
    """[drop]: the drop folder (inbox/, outbox/, done/, rejected/ under `dir`); off when `dir` is None."""

    dir: Path | None = None
    poll_seconds: float = 1.0


@dataclass(frozen=True, slots=True)
class CodesSettings:
    """[codes]: the hospital code → national code map (CSV); none when `map_file` is None."""

    map_file: Path | None = None


@dataclass(frozen=True, slots=True)
class DataSettings:
    """[data]: where the agent keeps its durable state (clinician decisions …)."""

    dir: Path = DEFAULT_DATA_DIR


@dataclass(frozen=True, slots=True)
class TraceSettings:
    """[trace]: the drug traceability-code ledger and the 无码不付 policy. On by default: the ledger is
    `<data.dir>/trace.sqlite3` unless `ledger` says otherwise; `enabled = false` turns the trace checks off."""

    enabled: bool = True
    ledger: Path | None = None
    policy: TracePolicy = DEFAULT_TRACE_POLICY


@dataclass(frozen=True, slots=True)
class UplinkSettings:
    """[uplink]: the link to the bureau's central platform; off (nothing recorded, nothing sent) when `central` is
    None. Events go to the outbox (`<data.dir>/outbox.sqlite3` unless `outbox` says otherwise, at most
    `max_queue_mb`, alarm from `alarm_ratio` of it) and up in batches of `batch_size`, over mutual TLS with `ca`,
    `cert`, `key` (PEM files) unless `insecure` (loopback only, for tests). Patient ids go up as sent (`identity`
    "full") or as HMAC-SHA256 with the secret in `identity_secret_file` ("pseudonymised"). `status_poll_seconds`:
    the long poll for practitioner statuses."""

    central: str | None = None
    agent_id: str = ""
    institution_code: str = ""
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    insecure: bool = False
    identity: PatientIdentity = "pseudonymised"
    identity_secret_file: Path | None = None
    outbox: Path | None = None
    batch_size: int = DEFAULT_UPLINK_BATCH
    max_queue_mb: int = DEFAULT_MAX_QUEUE_MB
    alarm_ratio: float = DEFAULT_ALARM_RATIO
    status_poll_seconds: float = DEFAULT_STATUS_POLL_SECONDS
    upload_timeout_seconds: float = DEFAULT_UPLOAD_TIMEOUT_SECONDS

    @property
    def enabled(self) -> bool:
        """Whether the agent talks to a central platform at all."""
        return self.central is not None

    @property
    def max_queue_bytes(self) -> int:
        """The outbox bound in bytes."""
        return self.max_queue_mb * 1024 * 1024


@dataclass(frozen=True, slots=True)
class PractitionerSettings:
    """[practitioners]: `check_codes` raises an info alert for a doctor code that is not the national 13-character
    医保医师代码 (D or N + 12 digits), once per code and encounter (on by default; `false` while a HIS still sends
    its own staff numbers). Orders by a suspended or terminated practitioner are always blocked, from the statuses
    the central platform pushes."""

    check_codes: bool = True


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    """[metrics]: Prometheus `/metrics` on its own small HTTP port (`address`, e.g. 127.0.0.1:9464); off when None.
    The agent's HTTP listener ([http]) serves `/metrics` too, whatever this says."""

    address: str | None = None


@dataclass(frozen=True, slots=True)
class HealthSettings:
    """[health]: gRPC health is SERVING only while a KB is loaded, the stores are writable and the data dir's disk
    has at least `min_free_mb` free; re-evaluated every `interval_seconds`."""

    interval_seconds: float = DEFAULT_HEALTH_SECONDS
    min_free_mb: int = DEFAULT_MIN_FREE_MB


@dataclass(frozen=True, slots=True)
class HistorySettings:
    """[history]: the patient-history store and the cross-visit rules. On by default: the store is
    `<data.dir>/history.sqlite3` unless `path` says otherwise; encounters older than `retention_days` (5 years and a
    quarter by default) are purged at start; `cache_patients` patients are kept warm for `cache_ttl_seconds`, with
    what lies within `lookback_days` of today (what the rules judge against); `policy` holds the rules' thresholds.
    `enabled = false`: no store (the cross-visit rules see only the history a request carries, and only when an
    `[institution]` is configured)."""

    enabled: bool = True
    path: Path | None = None
    retention_days: int = DEFAULT_HISTORY_RETENTION_DAYS
    cache_patients: int = 20_000
    cache_ttl_seconds: float = 8 * 3600.0
    policy: HistoryPolicy = DEFAULT_HISTORY_POLICY
    lookback_days: int = 365


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """[auth]: how HIS clients authenticate on gRPC, HTTP and MLLP (`agent.auth`). "none" (the default: anyone who
    reaches a port is served), "token" (a per-client bearer token whose SHA-256 is in `tokens_file`) or "mtls" (a
    client certificate signed by `client_ca`, its CN or a SAN in `allowed_clients` when that is not empty).
    `cert`/`key`: the listeners' own certificate (TLS; required for mtls, optional with tokens). Unless the mode is
    "none", the pop-up page needs the key of its workstation, an HMAC under the secret in `page_secret_file`
    (default `<data.dir>/auth/page.secret`, created on first start)."""

    mode: AuthMode = "none"
    tokens_file: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    client_ca: Path | None = None
    allowed_clients: tuple[str, ...] = ()
    page_secret_file: Path | None = None

    @property
    def tls(self) -> bool:
        """Whether the listeners serve TLS (their certificate is configured)."""
        return self.cert is not None and self.key is not None


@dataclass(frozen=True, slots=True)
class Settings:
    """All validated settings."""

    grpc: GrpcSettings
    kb: KbSettings
    log: LogSettings
    http: HttpSettings = HttpSettings()
    mllp: MllpSettings = MllpSettings()
    drop: DropSettings = DropSettings()
    codes: CodesSettings = CodesSettings()
    data: DataSettings = DataSettings()
    trace: TraceSettings = TraceSettings()
    uplink: UplinkSettings = UplinkSettings()
    practitioners: PractitionerSettings = PractitionerSettings()
    metrics: MetricsSettings = MetricsSettings()
    health: HealthSettings = HealthSettings()
    history: HistorySettings = HistorySettings()
    institution: InstitutionState = DEFAULT_INSTITUTION  # [institution]: agreement start (政策辅导期), level, type
    auth: AuthSettings = AuthSettings()  # [auth]: HIS client authentication (agent.auth)


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
    max_receive_bytes: int = Field(default=DEFAULT_MAX_RECEIVE_BYTES, gt=0, le=_MAX_GRPC_BYTES)
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


class _History(_Section):
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


class _Uplink(_Section):
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
    def _complete(self) -> _Uplink:
        if self.central is None:
            return self
        missing = [name for name in ("agent_id", "institution_code") if not getattr(self, name)]
        if self.insecure:
            host = self.central.rpartition(":")[0].strip("[]")
            if host not in _LOOPBACK_HOSTS:
                raise ValueError(f"insecure = true is only allowed for a central on 127.0.0.1/localhost, not {host}")
        else:
            missing += [name for name in ("ca", "cert", "key") if getattr(self, name) is None]
        if self.identity == "pseudonymised" and self.identity_secret_file is None:
            missing.append("identity_secret_file")
        if missing:
            raise ValueError(f"required when central is set: {', '.join(missing)}")
        return self


class _Auth(_Section):
    mode: Annotated[AuthMode, BeforeValidator(lambda v: str(v).strip().lower())] = "none"
    tokens_file: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    client_ca: Path | None = None
    allowed_clients: list[str] = Field(default_factory=list)
    page_secret_file: Path | None = None

    @model_validator(mode="after")
    def _complete(self) -> _Auth:
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


_TOML_DATA: ContextVar[Mapping[str, Any]] = ContextVar("fundguard_toml_data", default=MappingProxyType({}))


class _Model(BaseSettings):
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
    uplink: _Uplink = _Uplink()
    practitioners: _Practitioners = _Practitioners()
    metrics: _Metrics = _Metrics()
    health: _Health = _Health()
    history: _History = _History()
    institution: _Institution = _Institution()
    auth: _Auth = _Auth()

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
        return init_settings, env_settings, InitSettingsSource(settings_cls, dict(_TOML_DATA.get()))


# ---- loading ---------------------------------------------------------------------------------------------------


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read config file ({exc.strerror or exc})"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML ({exc})"]) from None


def _nest(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """`{"grpc.address": x}` and `{"grpc": {"address": x}}` both become nested dicts; None values are dropped."""
    out: dict[str, Any] = {}
    for key, value in overrides.items():
        if value is None:
            continue
        *parents, leaf = key.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        if isinstance(value, Mapping):
            node.setdefault(leaf, {}).update(_nest(value))
        else:
            node[leaf] = value
    return out


def _problems(exc: ValidationError) -> list[str]:
    lines = []
    for err in exc.errors(include_url=False):
        key = ".".join(str(part) for part in err["loc"]) or "(top level)"
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
        lines.append(f"{key}: {msg}")
    return lines


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _plain(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_plain(v) for v in value)
    return value


def _freeze(model: _Model) -> Settings:
    g, kb, log = model.grpc, model.kb, model.log
    return Settings(
        grpc=GrpcSettings(g.address, g.max_workers, g.max_receive_bytes, g.grace_seconds, g.check_budget_ms),
        kb=KbSettings(
            path=kb.path if kb.path is not None else default_bundle_path(),
            parameters=_plain(kb.parameters.model_dump(exclude_none=True)),
            explicit=kb.path is not None,
            inbox=kb.inbox,
            poll_url=kb.poll_url,
            poll_seconds=kb.poll_seconds,
            trusted_keys=kb.trusted_keys,
        ),
        log=LogSettings(level=log.level, json=log.json_lines),
        http=HttpSettings(model.http.address, model.http.max_body_bytes),
        mllp=MllpSettings(model.mllp.address, model.mllp.max_message_bytes),
        drop=DropSettings(model.drop.dir, model.drop.poll_seconds),
        codes=CodesSettings(model.codes.map_file),
        data=DataSettings(model.data.dir),
        trace=TraceSettings(model.trace.enabled, model.trace.ledger, model.trace.policy()),
        uplink=_freeze_uplink(model.uplink),
        practitioners=PractitionerSettings(model.practitioners.check_codes),
        metrics=MetricsSettings(model.metrics.address),
        health=HealthSettings(model.health.interval_seconds, model.health.min_free_mb),
        history=_freeze_history(model.history),
        institution=model.institution.state(),
        auth=_freeze_auth(model.auth),
    )


def _freeze_auth(a: _Auth) -> AuthSettings:
    allowed = tuple(name.strip() for name in a.allowed_clients if name.strip())
    return AuthSettings(a.mode, a.tokens_file, a.cert, a.key, a.client_ca, allowed, a.page_secret_file)


def _freeze_history(h: _History) -> HistorySettings:
    return HistorySettings(h.enabled, h.path, h.retention_days, h.cache_patients, h.cache_ttl_seconds, h.policy(),
                           h.lookback_days)  # fmt: skip


def _freeze_uplink(u: _Uplink) -> UplinkSettings:
    return UplinkSettings(
        central=u.central,
        agent_id=u.agent_id,
        institution_code=u.institution_code,
        ca=u.ca,
        cert=u.cert,
        key=u.key,
        insecure=u.insecure,
        identity=u.identity,
        identity_secret_file=u.identity_secret_file,
        outbox=u.outbox,
        batch_size=u.batch_size,
        max_queue_mb=u.max_queue_mb,
        alarm_ratio=u.alarm_ratio,
        status_poll_seconds=u.status_poll_seconds,
        upload_timeout_seconds=u.upload_timeout_seconds,
    )


@contextmanager
def _toml_source(data: Mapping[str, Any]) -> Iterator[None]:
    token = _TOML_DATA.set(data)
    try:
        yield
    finally:
        _TOML_DATA.reset(token)


def load_settings(config_file: Path | None = None, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Read, merge and validate every source; raises `ConfigError` naming each bad key."""
    data = _read_toml(config_file) if config_file is not None else {}
    try:
        with _toml_source(data):
            model = _Model(**_nest(overrides or {}))
    except ValidationError as exc:
        raise ConfigError(_problems(exc)) from None
    return _freeze(model)
