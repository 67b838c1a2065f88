"""Reading the sources (TOML file, environment, command line), validating them, and freezing the result."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from fundguard.knowledge_base import default_bundle_path

from .sections import TOML_DATA, AuthSection, ConfigModel, HistorySection, UplinkSection
from .values import (
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
    PractitionerSettings,
    Settings,
    TraceSettings,
    UplinkSettings,
)

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


def _freeze(model: ConfigModel) -> Settings:
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


def _freeze_auth(a: AuthSection) -> AuthSettings:
    allowed = tuple(name.strip() for name in a.allowed_clients if name.strip())
    return AuthSettings(a.mode, a.tokens_file, a.cert, a.key, a.client_ca, allowed, a.page_secret_file)


def _freeze_history(h: HistorySection) -> HistorySettings:
    return HistorySettings(h.enabled, h.path, h.retention_days, h.cache_patients, h.cache_ttl_seconds, h.policy(),
                           h.lookback_days)  # fmt: skip


def _freeze_uplink(u: UplinkSection) -> UplinkSettings:
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
    token = TOML_DATA.set(data)
    try:
        yield
    finally:
        TOML_DATA.reset(token)


def load_settings(config_file: Path | None = None, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Read, merge and validate every source; raises `ConfigError` naming each bad key."""
    data = _read_toml(config_file) if config_file is not None else {}
    try:
        with _toml_source(data):
            model = ConfigModel(**_nest(overrides or {}))
    except ValidationError as exc:
        raise ConfigError(_problems(exc)) from None
    return _freeze(model)
