"""The alert bus: cursors, filters, resume after a disconnect, gaps, cursors of an earlier run."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from fundguard.agent.engine.model import Alert, CheckRequest, CheckResult, Encounter, Patient, WorkflowImpact
from fundguard.agent.intake import ParsedRequest
from fundguard.agent.stream import AlertBus, AlertFilter


def publish(bus: AlertBus, workstation: str, *jr_ids: str, doctor: str = "D1", dept: str = "K1") -> None:
    request = CheckRequest("1", Patient("P", "1", date(1960, 1, 1)), Encounter("E", dr_codg="D0"))
    alerts = tuple(Alert(j, "R", "r", "c", "KP", "t", "2", WorkflowImpact.INFO, Decimal(0), (), (), "", "E", doctor)
                   for j in jr_ids)  # fmt: skip
    bus.publish(ParsedRequest(request, None, workstation, dept), CheckResult("J", "1", date(2026, 1, 1), alerts))


def ids(events: list) -> list[tuple[int, str, bool]]:  # type: ignore[type-arg]
    return [(e.cursor, e.alert.jr_id, e.gap_before) for e in events]


def test_filters_and_resume_from_a_cursor() -> None:
    """Each filter field narrows; resuming from a cursor gives exactly what came after it."""
    bus = AlertBus()
    publish(bus, "WS-1", "a1", "a2")
    publish(bus, "WS-2", "b1", doctor="D2", dept="K2")
    publish(bus, "WS-1", "a3")
    ws1, resume = bus.since(0, AlertFilter(workstation_id="WS-1"))
    assert ([(1, "a1", False), (2, "a2", False), (4, "a3", False)], 4) == (ids(ws1), resume)
    assert ["b1"] == [e.alert.jr_id for e in bus.since(0, AlertFilter(practitioner_code="D2"))[0]]
    assert ["b1"] == [e.alert.jr_id for e in bus.since(0, AlertFilter(dept_code="K2"))[0]]
    assert [(3, "b1", False), (4, "a3", False)] == ids(bus.since(2, AlertFilter())[0])
    assert ([], 4) == bus.since(4, AlertFilter())


def test_a_resume_past_what_is_kept_is_flagged_as_a_gap() -> None:
    """With capacity 2, resuming from cursor 1 after 4 events gives 3 and 4, the first flagged gap_before; a cursor
    from an earlier run (larger than any given) gives everything kept, flagged."""
    bus = AlertBus(capacity=2)
    publish(bus, "WS", "x1", "x2", "x3", "x4")
    assert [(3, "x3", True), (4, "x4", False)] == ids(bus.since(1, AlertFilter())[0])
    assert [(3, "x3", True), (4, "x4", False)] == ids(bus.since(99, AlertFilter())[0])


def test_watchers_are_woken_on_publish_until_unwatched() -> None:
    """A watcher runs after each publish with alerts, not after an empty result, and not after unwatching."""
    bus = AlertBus()
    calls: list[int] = []
    unwatch = bus.watch(lambda: calls.append(bus.last_cursor))
    publish(bus, "WS", "a")
    publish(bus, "WS")
    unwatch()
    publish(bus, "WS", "b")
    assert [1] == calls


def test_an_unavailable_check_is_an_event_for_its_workstation() -> None:
    """`publish_unavailable` adds an event without an alert, with the encounter and the reason, under the same
    filters as alerts."""
    bus = AlertBus()
    request = CheckRequest("1", Patient("P", "1", date(1960, 1, 1)), Encounter("E-9", dr_codg="D7"))
    bus.publish_unavailable(ParsedRequest(request, None, "WS-3", "K3"), "check unavailable: too slow", "rev-1")
    publish(bus, "WS-4", "z1")
    (event,), _ = bus.since(0, AlertFilter(workstation_id="WS-3"))
    got = (event.cursor, event.alert, event.mdtrt_id, event.unavailable, event.practitioner_code, event.kb_revision)
    assert (1, None, "E-9", "check unavailable: too slow", "D7", "rev-1") == got
    assert [None] == [e.alert for e in bus.since(0, AlertFilter(practitioner_code="D7"))[0]]
    assert ["z1"] == [e.alert.jr_id for e in bus.since(0, AlertFilter(workstation_id="WS-4"))[0]]
