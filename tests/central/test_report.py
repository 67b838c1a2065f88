"""The report's figures on a small dataset: events by kind, alerts, overrides, points and status per institution
and practitioner; the institution filter; JSON."""

from __future__ import annotations

import json

from fundguard.central.report import build_report, render_json, render_text
from fundguard.central.store import Store

from .dataset import AS_OF, THIRD_DOCTOR, fill
from .events import DOCTOR, INSTITUTION, OTHER_DOCTOR, OTHER_INSTITUTION


def test_figures_per_institution_and_practitioner(store: Store) -> None:
    """Counts per (institution, practitioner), an alert for the doctor of its line; a doctor sanctioned at one
    institution shows the same status at the other (cross-institution); a sanctioned doctor without events is
    listed where sanctioned."""
    fill(store)
    reports = {r.code: r for r in build_report(store, AS_OF)}
    first, second = reports[INSTITUTION], reports[OTHER_INSTITUTION]
    doctor, other, nobody = first.practitioners[DOCTOR], first.practitioners[OTHER_DOCTOR], first.practitioners[""]
    assert [INSTITUTION, OTHER_INSTITUTION] == list(reports)
    assert ({"check": 2, "decision": 2}, 2, 1, 9, "suspended") == (
        dict(doctor.events),
        doctor.alerts,
        doctor.overrides,
        doctor.points,
        doctor.status,
    )
    assert ({"check": 1, "dispense": 1}, 1, 0, "normal") == (
        dict(other.events),
        other.alerts,
        other.overrides,
        other.status,
    )
    assert ({"unavailable": 1}, "") == (dict(nobody.events), nobody.status)
    assert ("suspended", 1) == (second.practitioners[DOCTOR].status, second.practitioners[DOCTOR].alerts)
    assert ({}, 2, "warned") == (
        dict(second.practitioners[THIRD_DOCTOR].events), second.practitioners[THIRD_DOCTOR].points,
        second.practitioners[THIRD_DOCTOR].status,
    )  # fmt: skip
    assert {"check": 3, "decision": 2, "dispense": 1, "unavailable": 1} == dict(first.events)


def test_institution_filter(store: Store) -> None:
    """Only the institutions asked for (their events and their sanctions)."""
    fill(store)
    reports = build_report(store, AS_OF, [OTHER_INSTITUTION])
    assert [(OTHER_INSTITUTION, [DOCTOR, THIRD_DOCTOR])] == [(r.code, sorted(r.practitioners)) for r in reports]


def test_empty_store(store: Store) -> None:
    """No data: no institutions, and the text says so."""
    assert [] == build_report(store, AS_OF)
    assert render_text([], AS_OF).endswith("no events or sanctions stored\n")


def test_json_carries_the_same_figures(store: Store) -> None:
    """The JSON document lists institutions and practitioners with events, alerts, overrides, points, status."""
    fill(store)
    doc = json.loads(render_json(build_report(store, AS_OF, [INSTITUTION]), AS_OF))
    doctor = next(p for p in doc["institutions"][0]["practitioners"] if p["practitioner_code"] == DOCTOR)
    expected = {
        "practitioner_code": DOCTOR,
        "events": {"check": 2, "decision": 2},
        "alerts": 2,
        "overrides": 1,
        "year": 2026,
        "points": 9,
        "status": "suspended",
        "until": "2026-06-10",
    }
    assert ("2026-03-15", expected) == (doc["as_of"], doctor)
