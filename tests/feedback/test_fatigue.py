"""Alert-fatigue control keeps a bounded memory: at most `max_keys` decided alerts, the least recently decided or
matched dropped first, and at start the most recent decisions from the store (an agent running for years does not
grow with every decision ever taken)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from fundguard.agent.feedback import Decision, DecisionStore, IssuedAlerts
from fundguard.agent.feedback.fatigue import DecidedAlerts, fingerprint

from .test_issued import LINE, PARSED, result


def alert_on(mdtrt_id: str, jr_id: str = "J"):  # type: ignore[no-untyped-def]
    """The register test's alert, on encounter `mdtrt_id`."""
    return replace(result(jr_id).alerts[0], mdtrt_id=mdtrt_id)


def key(mdtrt_id: str) -> tuple[str, str, str]:
    a = alert_on(mdtrt_id)
    return (mdtrt_id, a.rule_id, fingerprint(a, {"6374": LINE}))


def kept(decided: DecidedAlerts, *encounters: str) -> list[str]:
    """Which of `encounters`' alerts `decided` still suppresses."""
    out = []
    for mdtrt_id in encounters:
        checked = replace(result("J"), alerts=(alert_on(mdtrt_id),))
        if not decided.suppress(PARSED, checked).alerts:
            out.append(mdtrt_id)
    return out


def test_the_oldest_key_goes_first_and_a_match_keeps_a_key() -> None:
    """With room for 3: a 4th decision drops the 1st; a re-check matching E-2 refreshes it, so the 5th drops E-3."""
    decided = DecidedAlerts(max_keys=3)
    for mdtrt_id in ("E-1", "E-2", "E-3", "E-4"):
        decided.add(*key(mdtrt_id))
    assert (3, ["E-2", "E-3", "E-4"]) == (len(decided), kept(decided, "E-1", "E-2", "E-3", "E-4"))
    assert ["E-2"] == kept(decided, "E-2")  # matched: now the most recent
    decided.add(*key("E-5"))
    assert ["E-2", "E-4", "E-5"] == kept(decided, "E-1", "E-2", "E-3", "E-4", "E-5")


def test_at_start_the_most_recent_decisions_are_loaded(tmp_path: Path) -> None:
    """Four decided alerts in the store; a fatigue memory of 2 reopened on it holds the two decided last."""
    path = tmp_path / "agent.sqlite3"
    issued = IssuedAlerts(path)
    for n in range(4):
        checked = replace(result(f"J-{n}"), alerts=(alert_on(f"E-{n}", f"J-{n}"),))
        issued.record(PARSED, checked)
    store = DecisionStore(path, issued)
    store.record([Decision(f"J-{n}", "1", "临床必需", "1", "t", f"2026-11-23T10:0{n}:00") for n in (2, 0, 3, 1)])
    store.close()
    issued.close()
    issued = IssuedAlerts(path)
    decided = DecidedAlerts(max_keys=2)
    DecisionStore(path, issued, decided).close()
    issued.close()
    assert ["E-2", "E-3"] == kept(decided, "E-0", "E-1", "E-2", "E-3")
