"""The recorder: the observers the composition root hands out, turning what the agent does into outbox events.

`check` and `unavailable` fit `CheckService(observers=…, on_unavailable=…)`; `decisions` takes what
`DecisionStore.record` was given and answered (only decisions stored now become events: a repeat is not a new
decision; the alert's `workflow_impact` comes from the checks this recorder saw, the last 200k alerts);
`dispense` and `returned` take the trace ledger's calls and outcomes. Each builds an event (`events`) and records
it in the outbox before returning, on the caller's thread. They never raise — a check must not fail
because the uplink cannot record — but nothing goes missing unseen: the outbox counts what it refuses, and an
event that cannot even be built is counted here (`failures`) and logged by kind, never by content.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial

import structlog
from cachetools import LRUCache

from fundguard.agent.config import UplinkSettings
from fundguard.agent.engine.model import CheckResult
from fundguard.agent.feedback.issued import IssuedAlert
from fundguard.agent.feedback.store import Decision, StoreResult
from fundguard.agent.intake import ParsedRequest
from fundguard.agent.trace.settle import DispenseOutcome, ReturnOutcome, Sale

from . import events
from .events import EventDraft, IdentityMode
from .outbox import Outbox

__all__ = ["UplinkRecorder", "load_identity"]

IMPACTS_KEPT = 200_000  # recent alerts whose workflow_impact a decision event can name (as the issued register)

_log = structlog.get_logger("fundguard.agent.uplink")


def load_identity(settings: UplinkSettings) -> IdentityMode:
    """The identity mode of `[uplink]`, reading the pseudonymisation secret (surrounding whitespace dropped);
    ValueError naming `uplink.identity_secret_file` when it is missing, unreadable or empty."""
    if settings.identity == "full":
        return IdentityMode("full")
    path = settings.identity_secret_file
    if path is None:
        raise ValueError("uplink.identity_secret_file: required for pseudonymised identity")
    try:
        secret = path.read_bytes().strip()
    except OSError as exc:
        raise ValueError(f"uplink.identity_secret_file: cannot read {path} ({exc.strerror or exc})") from None
    if not secret:
        raise ValueError(f"uplink.identity_secret_file: {path} is empty")
    return IdentityMode("pseudonymised", secret)


class UplinkRecorder:
    """Records events in `outbox`; `issued` (the register's `get`) lets decision events name encounter, rule and
    practitioner."""

    def __init__(
        self,
        outbox: Outbox,
        identity: IdentityMode,
        issued: Callable[[str], IssuedAlert | None] | None = None,
    ) -> None:
        self._outbox = outbox
        self._identity = identity
        self._issued = issued
        self._impacts: LRUCache[str, str] = LRUCache(IMPACTS_KEPT)  # jr_id → workflow_impact, for decisions
        self._impacts_lock = threading.Lock()
        self.failures = 0

    def _put(self, kind: str, build: Callable[[], EventDraft | None]) -> None:
        try:
            draft = build()
            if draft is not None:
                self._outbox.record(draft.kind, draft.mdtrt_id, draft.practitioner_code, draft.payload, draft.at)
        except Exception as exc:  # an observer must not raise into the check; count and log (no content)
            self.failures += 1
            _log.error("uplink.event_not_recorded", kind=kind, error=type(exc).__name__)

    def check(self, parsed: ParsedRequest, result: CheckResult) -> None:
        """A check and its alerts (a `CheckService` observer)."""
        if result.alerts:
            with self._impacts_lock:
                for alert in result.alerts:
                    self._impacts[alert.jr_id] = str(alert.workflow_impact)
        self._put(events.CHECK, lambda: events.check_event(parsed, result, self._identity))

    def unavailable(self, parsed: ParsedRequest, reason: str, kb_revision: str) -> None:
        """A check answered CHECK_UNAVAILABLE (a `CheckService` on_unavailable callback)."""
        self._put(events.UNAVAILABLE, lambda: events.unavailable_event(parsed, reason, kb_revision))

    def decisions(self, decisions: Sequence[Decision], results: Sequence[StoreResult]) -> None:
        """The decisions `DecisionStore.record` stored now (results STORED)."""
        for decision, result in zip(decisions, results, strict=True):
            if result is StoreResult.STORED:
                self._put(events.DECISION, partial(self._decision, decision))

    def _decision(self, decision: Decision) -> EventDraft:
        issued = self._issued(decision.jr_id) if self._issued is not None else None
        with self._impacts_lock:
            impact = self._impacts.get(decision.jr_id, "")
        return events.decision_event(decision, issued, impact)

    def dispense(self, sale: Sale, outcome: DispenseOutcome) -> None:
        """A 3505 sale line the ledger accepted (refusals and repeats record nothing)."""
        self._put(events.DISPENSE, lambda: events.dispense_event(sale, outcome))

    def returned(self, mdtrt_id: str, rx_id: str, at: datetime, outcome: ReturnOutcome) -> None:
        """A 3506 return the ledger recorded."""
        self._put(events.RETURN, lambda: events.return_event(mdtrt_id, rx_id, at, outcome))
