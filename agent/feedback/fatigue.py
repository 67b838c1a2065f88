"""Alert-fatigue control: once a clinician decided an alert, the same rule on the same, unchanged order lines of the
same encounter is not raised again. A changed line (code, quantity, price, amount, dates) is a new question.

The key of an alert is (mdtrt_id, rule_id, fingerprint), the fingerprint a digest of the violating lines as they
were when the alert was raised (`fingerprint`). The register of issued alerts stores it; the decision store tells
`DecidedAlerts` each new decision, and at start it is loaded from both tables. `CheckService` drops alerts whose
key was decided before answering (their jr_ids are not issued again).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Mapping
from dataclasses import replace

from fundguard.agent.engine.model import Alert, CheckResult, OrderLine
from fundguard.agent.intake import ParsedRequest

__all__ = ["DecidedAlerts", "fingerprint"]

Key = tuple[str, str, str]


def fingerprint(alert: Alert, lines: Mapping[str, OrderLine]) -> str:
    """A short digest of the violating lines (rx_id and what was ordered) of `alert`."""
    parts = []
    for line in alert.lines:
        if line.vola_item_type != "1":
            continue
        o = lines.get(line.rx_id)
        parts.append(line.rx_id if o is None else "|".join(
            map(str, (o.rx_id, o.hilist_code, o.hosplist_code, o.cnt, o.pric, o.sumamt, o.begn_date, o.stop_date))
        ))  # fmt: skip
    return hashlib.blake2b("\x1e".join(parts).encode("utf-8"), digest_size=12).hexdigest()


class DecidedAlerts:
    """The keys of decided alerts (thread-safe); `suppress` is a CheckService filter."""

    def __init__(self, keys: Iterable[Key] = ()) -> None:
        self._keys: set[Key] = set(keys)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, mdtrt_id: str, rule_id: str, printed: str) -> None:
        """Remember one decided alert."""
        with self._lock:
            self._keys.add((mdtrt_id, rule_id, printed))

    def suppress(self, parsed: ParsedRequest, result: CheckResult) -> CheckResult:
        """The result without the alerts already decided (the same result when none is)."""
        if not self._keys or not result.alerts:
            return result
        lines = {o.rx_id: o for o in parsed.request.encounter.orders}
        keep = tuple(a for a in result.alerts if (a.mdtrt_id, a.rule_id, fingerprint(a, lines)) not in self._keys)
        return result if len(keep) == len(result.alerts) else replace(result, alerts=keep)
