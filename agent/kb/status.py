"""What the agent reports about its knowledge base (gRPC `GetStatus`): the running revision, where it came from
and when, how many bundles were activated and refused, the last refusal, and the compiled points per rule class."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from .store import KbStore

__all__ = ["KbStatus", "store_status"]


@dataclass(frozen=True, slots=True)
class KbStatus:
    """The knowledge base's state, as GetStatus reports it."""

    revision: str
    source: str
    activated_at: str = ""
    activations: int = 0
    rejections: int = 0
    last_error: str = ""
    last_error_at: str = ""
    rule_classes: Mapping[str, int] = field(default_factory=dict)


def store_status(store: KbStore, **activity: object) -> KbStatus:
    """The status of what `store` runs, with the activation counters given by the caller (none: zeros)."""
    kb = store.current if store.loaded else None
    classes = Counter(point.rule.rule_class for point in kb.points.values()) if kb is not None else Counter()
    return KbStatus(
        revision=kb.revision if kb is not None else "",
        source=store.source,
        rule_classes=dict(sorted(classes.items())),
        **activity,  # type: ignore[arg-type]
    )
