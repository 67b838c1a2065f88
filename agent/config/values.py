"""The settings as components get them: defaults, and one frozen plain dataclass per section plus `Settings`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from fundguard.agent.engine.history_model import HistoryPolicy, InstitutionState
from fundguard.agent.engine.trace_model import TracePolicy

ENV_PREFIX = "FUNDGUARD_"
DEFAULT_GRPC_ADDRESS = "127.0.0.1:50051"
DEFAULT_MAX_WORKERS = 8
DEFAULT_MAX_RECEIVE_BYTES = 16 * 1024 * 1024
DEFAULT_GRACE_SECONDS = 5.0
DEFAULT_CHECK_BUDGET_MS = 300
LogLevel = Literal["debug", "info", "warning", "error"]
DEFAULT_LOG_LEVEL: LogLevel = "info"
MAX_GRPC_BYTES = 2**31 - 1  # gRPC channel arguments are C ints
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
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})
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
