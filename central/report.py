"""`fundguard-central report`: per institution and practitioner — events by kind, alerts, overrides, points this
year and the 支付资格 status — as a text table or JSON.

Alerts count for the practitioner each alert concerns (its line's doctor), events and overrides for the event's.
A practitioner appears under every institution whose events or alerts name them or whose sanctions they received; their
points and status are the bureau's (every institution's sanctions count, `central.standing`), as of `today`.
Counts are grouped by the database; only check and decision payloads are read (for alerts and overrides).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson
import sqlalchemy as sa

from .payloads import alerts_by_practitioner, is_override
from .schema import events, sanctions
from .standing import SUSPENDED, Sanction, standing_of
from .store import Store

__all__ = ["InstitutionReport", "PractitionerReport", "build_report", "render_json", "render_text"]

KIND_ORDER = ("check", "decision", "dispense", "return", "unavailable")
NO_PRACTITIONER = "-"  # events that name no practitioner


@dataclass(slots=True)
class PractitionerReport:
    """One practitioner at one institution."""

    code: str
    events: Counter[str] = field(default_factory=Counter)
    alerts: int = 0
    overrides: int = 0
    year: int = 0
    points: int = 0
    status: str = ""
    until: date | None = None


@dataclass(slots=True)
class InstitutionReport:
    """One institution and its practitioners (sorted by code)."""

    code: str
    practitioners: dict[str, PractitionerReport] = field(default_factory=dict)

    def line(self, code: str) -> PractitionerReport:
        """The practitioner's line, created on first use."""
        return self.practitioners.setdefault(code, PractitionerReport(code or NO_PRACTITIONER))

    @property
    def events(self) -> Counter[str]:
        """Events by kind over all practitioners."""
        return sum((p.events for p in self.practitioners.values()), Counter())


def _filtered(query: sa.Select[Any], column: sa.ColumnElement[Any], institutions: Sequence[str]) -> sa.Select[Any]:
    return query.where(column.in_(institutions)) if institutions else query


def build_report(store: Store, today: date, institutions: Sequence[str] = ()) -> list[InstitutionReport]:
    """The report of the whole store (or of `institutions`), as of `today`."""
    found: dict[str, InstitutionReport] = {}

    def at(institution: str) -> InstitutionReport:
        return found.setdefault(institution, InstitutionReport(institution))

    e = events.c
    counts = sa.select(e.institution_code, e.practitioner_code, e.kind, sa.func.count()).group_by(
        e.institution_code, e.practitioner_code, e.kind
    )
    payloads = sa.select(e.institution_code, e.practitioner_code, e.kind, e.payload).where(
        e.kind.in_(("check", "decision"))
    )
    s = sanctions.c
    given = sa.select(s.practitioner_code, s.institution_code, s.at, s.points, s.act, s.suspend_months).order_by(s.id)
    history: dict[str, list[Sanction]] = {}
    with store.read() as conn:
        for institution, code, kind, n in conn.execute(_filtered(counts, e.institution_code, institutions)):
            at(institution).line(code).events[kind] += n
        for institution, code, kind, payload in conn.execute(_filtered(payloads, e.institution_code, institutions)):
            body = orjson.loads(payload)
            if not isinstance(body, dict):
                continue
            for concerned, n in alerts_by_practitioner(kind, body, code).items():
                at(institution).line(concerned).alerts += n
            at(institution).line(code).overrides += int(is_override(kind, body))
        for r in conn.execute(given):
            history.setdefault(r.practitioner_code, []).append(Sanction(r.at, r.points, r.act, r.suspend_months))
            if r.institution_code and (not institutions or r.institution_code in institutions):
                at(r.institution_code).line(r.practitioner_code)
    for report in found.values():
        for code, line in report.practitioners.items():
            if not code:
                continue
            standing = standing_of(history.get(code, ()), today)
            line.year, line.points = standing.year, standing.points
            line.status, line.until = standing.status, standing.until
    return [found[code] for code in sorted(found)]


def _kinds(counters: Iterable[Mapping[str, int]]) -> list[str]:
    seen = {kind for counter in counters for kind in counter}
    return [k for k in KIND_ORDER if k in seen] + sorted(seen - set(KIND_ORDER))


def _status_text(line: PractitionerReport) -> str:
    if line.status == SUSPENDED and line.until is not None:
        return f"{line.status} until {line.until.isoformat()}"
    return line.status


def render_text(reports: Sequence[InstitutionReport], today: date) -> str:
    """Aligned plain-text tables, one per institution."""
    out = [f"fundguard-central report as of {today.isoformat()} (points of {today.year})"]
    if not reports:
        out.append("no events or sanctions stored")
    for report in reports:
        lines = [report.practitioners[c] for c in sorted(report.practitioners)]
        total = report.events
        by_kind = ", ".join(f"{k} {total[k]}" for k in _kinds([total]))
        out += [
            "",
            f"{report.code}: events {sum(total.values())} ({by_kind or 'none'}), "
            f"alerts {sum(p.alerts for p in lines)}, overrides {sum(p.overrides for p in lines)}",
        ]
        kinds = _kinds(p.events for p in lines)
        header = ["practitioner", *kinds, "alerts", "overrides", "points", "status"]
        rows = [
            [
                p.code,
                *(str(p.events[k]) for k in kinds),
                str(p.alerts),
                str(p.overrides),
                str(p.points) if p.status else "",
                _status_text(p),
            ]
            for p in lines
        ]
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            cells = [row[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(row[1:-1], widths[1:-1], strict=True))]
            out.append("  " + "  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(out) + "\n"


def render_json(reports: Sequence[InstitutionReport], today: date) -> str:
    """The same as one JSON document (UTF-8, indented)."""
    doc = {
        "as_of": today.isoformat(),
        "institutions": [
            {
                "institution_code": report.code,
                "events": dict(report.events),
                "practitioners": [
                    {
                        "practitioner_code": p.code,
                        "events": dict(p.events),
                        "alerts": p.alerts,
                        "overrides": p.overrides,
                        "year": p.year,
                        "points": p.points,
                        "status": p.status,
                        "until": p.until.isoformat() if p.until is not None else "",
                    }
                    for p in (report.practitioners[c] for c in sorted(report.practitioners))
                ],
            }
            for report in reports
        ],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
