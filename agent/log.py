"""Structured logging: structlog JSON lines (one per event, ISO UTC timestamp, level), identity masked before output.

`configure_logging(settings)` sets structlog up once at start (and routes the standard library's `logging`, used
by grpc and other libraries, through the same processors). `mask_identity` is the one processor that masks
identity fields (`IDENTITY_KEYS`) wherever they appear in an event — top level, nested mappings, lists, dataclasses
and protobuf messages — and records the masked paths under `masked`. It runs just before the renderer, so no
renderer ever sees a raw identity value. `mdtrt_id` (encounter id) is not identity and stays readable.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import structlog
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from structlog.typing import EventDict, Processor, WrappedLogger

from fundguard.agent.config import LogSettings

__all__ = ["IDENTITY_KEYS", "configure_logging", "ensure_logging", "mask_identity", "mask_value", "reset_logging"]

# national identity fields (参保人标识, 姓名, 人员编号, 证件号码, 联系电话, 地址) and the generic `name`
IDENTITY_KEYS = frozenset({"patn_id", "patn_name", "psn_no", "psn_name", "certno", "name", "tel", "addr"})
_KEEP = 2  # characters kept at each end of a long identity value
_KEEP_MIN_LEN = 8  # shorter values (names, short ids) are masked whole
_SCRUB_MIN_LEN = 4  # identity values at least this long are also scrubbed from the event's other strings

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def mask_value(value: object) -> str:
    """`P-12345601` → `P-******01`: first and last two characters kept when at least 8 long, else all stars."""
    raw = str(value)
    if len(raw) < _KEEP_MIN_LEN:
        return "*" * len(raw)
    return raw[:_KEEP] + "*" * (len(raw) - 2 * _KEEP) + raw[-_KEEP:]


def _walk(value: Any, path: str, masked: list[str]) -> Any:
    """A copy of `value` with identity keys masked at any depth; appends the masked paths."""
    if isinstance(value, Message):
        value = MessageToDict(value, preserving_proto_field_name=True)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            if key in IDENTITY_KEYS and item not in (None, ""):
                out[key] = mask_value(item)
                masked.append(sub)
            else:
                out[key] = _walk(item, sub, masked)
        return out
    if isinstance(value, list | tuple):
        return [_walk(item, f"{path}[{i}]", masked) for i, item in enumerate(value)]
    return value


def _needs_walk(value: object) -> bool:
    return isinstance(value, Mapping | list | tuple | Message) or (
        dataclasses.is_dataclass(value) and not isinstance(value, type)
    )


def mask_identity(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask every identity key in the event and list the masked paths in `masked`.

    A top-level identity value (e.g. the patn_id bound for the current check) is also replaced wherever it occurs
    inside the event's other top-level strings, such as a rendered traceback (values shorter than 4 are not).
    """
    masked: list[str] = []
    scrub: dict[str, str] = {}
    for key, value in list(event_dict.items()):
        if key in IDENTITY_KEYS and value not in (None, ""):
            event_dict[key] = mask_value(value)
            masked.append(key)
            if len(str(value)) >= _SCRUB_MIN_LEN:
                scrub[str(value)] = event_dict[key]
        elif _needs_walk(value):
            event_dict[key] = _walk(value, key, masked)
    if scrub:
        for key, value in event_dict.items():
            if isinstance(value, str) and key not in IDENTITY_KEYS:
                text = value
                for raw, replacement in scrub.items():
                    text = text.replace(raw, replacement)
                event_dict[key] = text
    if masked:
        event_dict["masked"] = masked
    return event_dict


def _shared() -> list[Processor]:
    return [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def _renderer(settings: LogSettings) -> Processor:
    if settings.json:
        return structlog.processors.JSONRenderer(ensure_ascii=False, sort_keys=False)
    return structlog.dev.ConsoleRenderer(colors=False)


class _Stderr:
    """sys.stderr looked up at every write, so a swapped stderr (pytest capture, daemonisers) is followed."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """The stdlib handler installed by configure_logging (found again and replaced on reconfiguration)."""


def _remove_handlers(root: logging.Logger) -> None:
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)


def _route_stdlib(settings: LogSettings, stream: TextIO) -> None:
    handler = _Handler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, structlog.stdlib.ExtraAdder(), *_shared()],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                mask_identity,
                _renderer(settings),
            ],
        )
    )
    root = logging.getLogger()
    _remove_handlers(root)
    root.addHandler(handler)
    root.setLevel(_LEVELS[settings.level])


def configure_logging(settings: LogSettings, stream: TextIO | None = None) -> None:
    """Set up structlog (and stdlib logging) to write one masked line per event to `stream` (default stderr)."""
    out: Any = stream if stream is not None else _Stderr()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            *_shared(),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            mask_identity,
            _renderer(settings),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[settings.level]),
        logger_factory=structlog.WriteLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    _route_stdlib(settings, out)



def ensure_logging() -> None:
    """Configure the default (info, JSON, stderr, masked) unless logging was configured already.

    Components that log identity-bearing events call this when they are built, so that even an agent embedded
    without `configure_logging` never renders through structlog's unmasked development defaults.
    """
    if not structlog.is_configured():
        configure_logging(LogSettings())


def reset_logging() -> None:
    """Undo `configure_logging`: structlog defaults, our stdlib handler removed (tests, embedding)."""
    structlog.reset_defaults()
    _remove_handlers(logging.getLogger())
