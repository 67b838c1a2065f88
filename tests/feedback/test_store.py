"""The decision store: durable, one decision per jr_id, repeats and conflicts reported."""

from __future__ import annotations

from pathlib import Path

from fundguard.agent.feedback import Decision, DecisionStore, StoreResult


def decision(jr_id: str, way: str = "1", reason: str = "临床必需") -> Decision:
    return Decision(jr_id, way, reason, "1", "test", "2026-11-23T10:00:00")


def test_first_decision_stands_and_survives_reopening(tmp_path: Path) -> None:
    """A repeat is DUPLICATE, a different decision CONFLICT; after reopening the first one is still there."""
    path = tmp_path / "state" / "decisions.sqlite3"
    store = DecisionStore(path)
    first = store.record([decision("J-001"), decision("J-002", "2", "")])
    again = store.record([decision("J-001"), decision("J-002", "1", "改主意")])
    store.close()
    reopened = DecisionStore(path)
    expected = (
        [StoreResult.STORED, StoreResult.STORED],
        [StoreResult.DUPLICATE, StoreResult.CONFLICT],
        2,
        decision("J-002", "2", ""),
    )
    assert expected == (first, again, reopened.count(), reopened.get("J-002"))
    assert reopened.get("J-404") is None
    reopened.close()
