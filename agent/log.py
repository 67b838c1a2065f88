"""Structured logging: structlog JSON lines (one per event, ISO UTC timestamp, level), identity masked before output.

`configure_logging(settings)` sets structlog up once at start (and routes the standard library's `logging`, used
by grpc and other libraries, through the same processors, with the same bound context). `mask_identity` is the one
processor that masks identity:
- identity fields (`IDENTITY_KEYS`) wherever they appear in an event — top level, nested mappings, lists,
  dataclasses and protobuf messages — with the masked paths listed under `masked`;
- the raw values of those fields, of the patient whose check is running (`enter_identity`, set around every check)
  and of the patients whose check failed (`remember_identity`) wherever else they occur in the event's strings: the
  event text, exception messages, rendered tracebacks, a library's message;
- anything shaped like a resident ID number (居民身份证号, 18 characters with a valid birth date) or a mainland
  mobile number (11 digits, 1[3-9]…), in any string, known or not.
It runs just before the renderer, so no renderer ever sees a raw identity value. `mdtrt_id` (encounter id) is not
identity and stays readable.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from contextvars import ContextVar, Token
from typing import Any, TextIO

import structlog
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from structlog.typing import EventDict, Processor, WrappedLogger

from fundguard.agent.config import LogSettings

__all__ = [
    "IDENTITY_KEYS",
    "add_check_context",
    "bind_check",
    "clear_check",
    "configure_logging",
    "ensure_logging",
    "enter_identity",
    "leave_identity",
    "mask_identity",
    "mask_text",
    "mask_value",
    "remember_identity",
    "reset_logging",
]

# national identity fields (参保人标识, 姓名, 人员编号, 证件号码, 联系电话/手机, 地址) and the generic `name`
IDENTITY_KEYS = frozenset(
    {"patn_id", "patn_name", "psn_no", "psn_name", "certno", "name", "tel", "mob", "mobile", "phone", "addr"}
)
_NAME_KEYS = frozenset({"patn_name", "psn_name", "name"})  # person names: scrubbed from other strings from 2 chars
_KEEP = 2  # characters kept at each end of a long identity value
_KEEP_MIN_LEN = 8  # shorter values (names, short ids) are masked whole
_SCRUB_MIN_LEN = 4  # other identity values at least this long are also scrubbed from the event's other strings
_NAME_SCRUB_MIN_LEN = 2
_REMEMBERED = 256  # identity values of failed checks kept for scrubbing
_EDGE = r"(?<![0-9A-Za-z])", r"(?![0-9A-Za-z])"  # not inside a longer code (a 20-digit trace code, an H… code)
_ID_NUMBER = re.compile(  # 6-digit area, yyyyMMdd birth date, 3-digit sequence, check digit (or X)
    _EDGE[0] + r"[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]" + _EDGE[1]
)
_MOBILE = re.compile(_EDGE[0] + r"1[3-9]\d{9}" + _EDGE[1])

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def mask_value(value: object) -> str:
    """`P-12345601` → `P-******01`: first and last two characters kept when at least 8 long, else all stars."""
    raw = str(value)
    if len(raw) < _KEEP_MIN_LEN:
        return "*" * len(raw)
    return raw[:_KEEP] + "*" * (len(raw) - 2 * _KEEP) + raw[-_KEEP:]


def _mask_match(match: re.Match[str]) -> str:
    return mask_value(match.group(0))


def mask_text(text: str) -> str:
    """`text` with every ID-number-shaped and mobile-number-shaped run masked (`mask_value` of each)."""
    return _MOBILE.sub(_mask_match, _ID_NUMBER.sub(_mask_match, text))


class _Remembered:
    """The raw identity values of the latest failed checks (bounded), so the error logs that follow — in whatever
    thread or context — mask them too, even inside a traceback."""

    def __init__(self) -> None:
        self._values: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self.snapshot: tuple[str, ...] = ()

    def add(self, values: tuple[str, ...]) -> None:
        with self._lock:
            for value in values:
                self._values[value] = None
                self._values.move_to_end(value)
            while len(self._values) > _REMEMBERED:
                self._values.popitem(last=False)
            self.snapshot = tuple(self._values)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self.snapshot = ()


_REMEMBER = _Remembered()


def remember_identity(patn_id: str, patn_name: str = "") -> None:
    """Mask these raw values in every later event's strings (called when a check fails: its error log and
    traceback may quote them). Values too short to be told from ordinary text are ignored."""
    values = tuple(v for v, floor in ((patn_id, _SCRUB_MIN_LEN), (patn_name, _NAME_SCRUB_MIN_LEN)) if len(v) >= floor)
    if values:
        _REMEMBER.add(values)


_IN_SCOPE: ContextVar[tuple[str, str] | None] = ContextVar("fundguard_identity_in_scope", default=None)


def enter_identity(patn_id: str, patn_name: str = "") -> Token[tuple[str, str] | None]:
    """The patient whose request is being handled in this context: every event logged meanwhile (structlog or a
    library's stdlib logging) masks these raw values wherever they occur. Cheap (one ContextVar set); pass the
    token to `leave_identity` when done."""
    return _IN_SCOPE.set((patn_id, patn_name))


def leave_identity(token: Token[tuple[str, str] | None]) -> None:
    """End the scope `enter_identity` opened."""
    _IN_SCOPE.reset(token)


_CHECK: ContextVar[tuple[str, str] | None] = ContextVar("fundguard_check", default=None)


def bind_check(mdtrt_id: str, patn_id: str) -> None:
    """The encounter and patient this context is checking (a transport calls it once the request is decoded): every
    later event logged in this context carries `mdtrt_id` and `patn_id` (`add_check_context`; `mask_identity` masks
    the latter). One ContextVar set: structlog's `bind_contextvars` with the same two keys cost ~6x as much on the
    Check hot path. A transport whose task serves request after request calls `clear_check` before each one."""
    _CHECK.set((mdtrt_id, patn_id))


def clear_check() -> None:
    """No check bound in this context any more (the next request on the same task starts clean)."""
    _CHECK.set(None)


def add_check_context(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """Processor: the bound check's `mdtrt_id` and `patn_id` (`bind_check`), unless the event gives its own."""
    bound = _CHECK.get()
    if bound is not None:
        event_dict.setdefault("mdtrt_id", bound[0])
        event_dict.setdefault("patn_id", bound[1])
    return event_dict


def _known(key: object, value: object, known: dict[str, str]) -> None:
    raw = str(value)
    if len(raw) >= (_NAME_SCRUB_MIN_LEN if key in _NAME_KEYS else _SCRUB_MIN_LEN):
        known[raw] = mask_value(raw)


def _walk(value: Any, path: str, masked: list[str], known: dict[str, str]) -> Any:
    """A copy of `value` with identity keys masked at any depth; appends the masked paths, collects raw values."""
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
                _known(key, item, known)
            else:
                out[key] = _walk(item, sub, masked, known)
        return out
    if isinstance(value, list | tuple):
        return [_walk(item, f"{path}[{i}]", masked, known) for i, item in enumerate(value)]
    return value


def _needs_walk(value: object) -> bool:
    return isinstance(value, Mapping | list | tuple | Message) or (
        dataclasses.is_dataclass(value) and not isinstance(value, type)
    )


def _scrubber(known: Mapping[str, str]) -> Callable[[str], str]:
    """A function masking the known raw values (longest first) and the ID / mobile patterns in one string."""
    if not known:
        return mask_text
    pattern = re.compile("|".join(re.escape(raw) for raw in sorted(known, key=len, reverse=True)))

    def scrub(text: str) -> str:
        return mask_text(pattern.sub(lambda m: known.get(m.group(0), mask_value(m.group(0))), text))

    return scrub


def _scrub_all(value: Any, scrub: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {k: v if k in IDENTITY_KEYS else _scrub_all(v, scrub) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_all(item, scrub) for item in value]
    return value


def mask_identity(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask every identity key in the event and list the masked paths in `masked`; then mask
    their raw values, those of the patient in scope and of recently failed checks, ID numbers and mobile numbers
    in every other string."""
    masked: list[str] = []
    known = {raw: mask_value(raw) for raw in _REMEMBER.snapshot}
    scoped = _IN_SCOPE.get()
    if scoped is not None:
        _known("patn_id", scoped[0], known)
        _known("patn_name", scoped[1], known)
    for key, value in list(event_dict.items()):
        if key in IDENTITY_KEYS and value not in (None, ""):
            event_dict[key] = mask_value(value)
            masked.append(key)
            _known(key, value, known)
        elif _needs_walk(value):
            event_dict[key] = _walk(value, key, masked, known)
    scrub = _scrubber(known)
    for key, value in event_dict.items():
        if key not in IDENTITY_KEYS:
            event_dict[key] = _scrub_all(value, scrub)
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
            foreign_pre_chain=[
                structlog.contextvars.merge_contextvars,  # a library's line inside a check: same context
                add_check_context,
                structlog.stdlib.add_logger_name,
                structlog.stdlib.ExtraAdder(),
                *_shared(),
            ],
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
            add_check_context,
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
    """Undo `configure_logging`: structlog defaults, our stdlib handler removed, no identity remembered (tests,
    embedding)."""
    structlog.reset_defaults()
    _REMEMBER.clear()
    _remove_handlers(logging.getLogger())
