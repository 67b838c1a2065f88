"""Alert-fatigue control: once a clinician decided an alert, the same rule on the same, unchanged order lines of the
same encounter is not raised again. A changed line (code, quantity, price, amount, dates) is a new question.

The key of an alert is (mdtrt_id, rule_id, fingerprint), the fingerprint a digest of the violating lines as they
were when the alert was raised (`fingerprint`). The register of issued alerts stores it; the decision store tells
`DecidedAlerts` each new decision, and at start it is loaded from both tables. `CheckService` drops alerts whose
key was decided before answering (their jr_ids are not issued again).

The keys kept in memory are bounded (`MEMORY_KEYS`, the most recently decided or matched ones; at start the most
recent decisions): an agent running for years must not grow with every decision ever taken. A key dropped from
memory only means that alert may be raised once more if its lines come back unchanged; the decision itself stays in
the store.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import replace

from fundguard.agent.engine.model import Alert, CheckResult, OrderLine
from fundguard.agent.intake import ParsedRequest

__all__ = ["MEMORY_KEYS", "DecidedAlerts", "fingerprint"]

Key = tuple[str, str, str]

MEMORY_KEYS = 200_000  # decided alerts kept in memory (as many as the issued register keeps)


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
    """The keys of decided alerts (thread-safe), at most `max_keys`, the least recently decided or matched dropped
    first; `suppress` is a CheckService filter."""

    def __init__(self, keys: Iterable[Key] = (), max_keys: int | None = None) -> None:
        self._max = max_keys if max_keys is not None else MEMORY_KEYS
        self._keys: OrderedDict[Key, None] = OrderedDict()
        self._lock = threading.Lock()
        for key in keys:
            self.add(*key)

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def capacity(self) -> int:
        """The most keys kept in memory."""
        return self._max

    def add(self, mdtrt_id: str, rule_id: str, printed: str) -> None:
        """Remember one decided alert (the oldest key goes when the bound is reached)."""
        with self._lock:
            key = (mdtrt_id, rule_id, printed)
            self._keys[key] = None
            self._keys.move_to_end(key)
            if len(self._keys) > self._max:
                self._keys.popitem(last=False)

    def suppress(self, parsed: ParsedRequest, result: CheckResult) -> CheckResult:
        """The result without the alerts already decided (the same result when none is)."""
        if not self._keys or not result.alerts:
            return result
        lines = {o.rx_id: o for o in parsed.request.encounter.orders}
        keyed = [((a.mdtrt_id, a.rule_id, fingerprint(a, lines)), a) for a in result.alerts]
        keep = []
        with self._lock:
            for key, a in keyed:
                if key in self._keys:
                    self._keys.move_to_end(key)  # still being re-checked: keep it longer
                else:
                    keep.append(a)
        return result if len(keep) == len(result.alerts) else replace(result, alerts=tuple(keep))
