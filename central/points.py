"""The points table: which act gives how many points, how long a suspension lasts, and which agent-reported
behaviours (events) give points of their own. Defaults follow the bands of the reference note; a TOML or JSON file
edits them.

Default acts (`rules-and-policy.md` §5, bands 1–3 / 4–6 / 7–9 / 10–12; the exact table is each province's 细则):

| act | points | why this number |
|---|---|---|
| `charging_error` | 1 | one-off charging error: bottom of the 1–3 band |
| `agreement_breach` | 2 | agreement breach that caused a fund loss or needs correction: middle of 1–3 |
| `art38_general` | 5 | Art. 38 act (over-treatment, duplicate/over-standard charging, 串换), 一般 responsibility: 4–6 |
| `art38_important` | 6 | the same with 重要 responsibility: top of 4–6 |
| `art38_main` | 8 | the same with 主要 responsibility: 7–9, below the suspension line on its own |
| `art38_repeat` | 9 | Art. 38, large amounts or repeated after a warning: top of 7–9, suspends on its own |
| `art40_fraud` | 12 | Art. 40 fraud (虚构服务, 伪造文书, 诱导虚假就医): 12 at once, terminates |
| `licence_revoked` | 12 | 执业证书 revoked or criminal liability: 12 at once |

`suspend_months` (1–6, default 3): the suspension a sanction carries when it takes the year's total to 9 or more.

Behaviours found in uploaded events (`central.payloads.behaviour_of`), 0 points by default — the bureau assigns
points after review, not the agent; a province that scores them directly sets a number:
`continued_past_block` (a clinician's "continue" decision, 3103 `dspo_way` 1, on a block alert),
`continued_past_alert` (the same on any other alert), `block_alert` (a check raised a block alert).

File shape (TOML; JSON is the same object)::

    suspend_months = 3
    [acts]            # merged over the defaults: change a number or add an act
    art38_general = 4
    [events]
    continued_past_block = 1
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .standing import TERMINATE_POINTS

__all__ = [
    "BEHAVIOURS",
    "DEFAULT_ACTS",
    "DEFAULT_SUSPEND_MONTHS",
    "DEFAULT_TABLE",
    "SUSPEND_MONTHS_RANGE",
    "PointsFileError",
    "PointsTable",
    "load_points_table",
    "table_from",
]

DEFAULT_ACTS: Mapping[str, int] = MappingProxyType({
    "charging_error": 1,
    "agreement_breach": 2,
    "art38_general": 5,
    "art38_important": 6,
    "art38_main": 8,
    "art38_repeat": 9,
    "art40_fraud": 12,
    "licence_revoked": 12,
})  # fmt: skip
BEHAVIOURS: Mapping[str, str] = MappingProxyType({
    "continued_past_block": "a clinician continued (dspo_way 1) past a block alert",
    "continued_past_alert": "a clinician continued (dspo_way 1) past a non-block alert",
    "block_alert": "a check raised a block alert for the practitioner",
})  # fmt: skip
DEFAULT_SUSPEND_MONTHS = 3
SUSPEND_MONTHS_RANGE = (1, 6)
_KEYS = ("suspend_months", "acts", "events")


class PointsFileError(ValueError):
    """A points file that cannot be used; `field` names the offending key."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True, slots=True)
class PointsTable:
    """Act → points, behaviour → points (0: not scored) and the suspension length."""

    acts: Mapping[str, int] = field(default_factory=lambda: DEFAULT_ACTS)
    events: Mapping[str, int] = field(default_factory=lambda: MappingProxyType(dict.fromkeys(BEHAVIOURS, 0)))
    suspend_months: int = DEFAULT_SUSPEND_MONTHS

    @property
    def scores_events(self) -> bool:
        """True when some behaviour gives points (then uploads are scored)."""
        return any(self.events.values())


DEFAULT_TABLE = PointsTable()


def _points(value: object, key: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= TERMINATE_POINTS:
        raise PointsFileError(key, f"must be a whole number of points from {low} to {TERMINATE_POINTS}")
    return value


def _section(doc: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    section = doc.get(name, {})
    if not isinstance(section, Mapping):
        raise PointsFileError(name, "must be a table of name = points")
    return section


def table_from(doc: Mapping[str, Any]) -> PointsTable:
    """A points table from a parsed file (defaults for what it leaves out); PointsFileError naming the key."""
    for key in doc:
        if key not in _KEYS:
            raise PointsFileError(key, f"unknown key (expected {', '.join(_KEYS)})")
    months = doc.get("suspend_months", DEFAULT_SUSPEND_MONTHS)
    low, high = SUSPEND_MONTHS_RANGE
    if isinstance(months, bool) or not isinstance(months, int) or not low <= months <= high:
        raise PointsFileError("suspend_months", f"must be a whole number of months from {low} to {high}")
    acts = dict(DEFAULT_ACTS)
    for act, value in _section(doc, "acts").items():
        if not act or not act.replace("_", "").isalnum():
            raise PointsFileError(f"acts.{act}", "an act name is letters, digits and _")
        acts[act] = _points(value, f"acts.{act}", 1)
    events = dict.fromkeys(BEHAVIOURS, 0)
    for behaviour, value in _section(doc, "events").items():
        if behaviour not in BEHAVIOURS:
            raise PointsFileError(f"events.{behaviour}", f"unknown behaviour (expected {', '.join(BEHAVIOURS)})")
        events[behaviour] = _points(value, f"events.{behaviour}", 0)
    return PointsTable(acts=MappingProxyType(acts), events=MappingProxyType(events), suspend_months=months)


def load_points_table(path: Path) -> PointsTable:
    """The table in a `.toml` or `.json` file; PointsFileError naming the key (or `points` for an unreadable file)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PointsFileError("points", f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        doc = json.loads(raw) if path.suffix.lower() == ".json" else tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise PointsFileError("points", f"{path} is not valid {path.suffix.lstrip('.') or 'TOML'}: {exc}") from None
    if not isinstance(doc, Mapping):
        raise PointsFileError("points", f"{path} must hold an object")
    return table_from(doc)
