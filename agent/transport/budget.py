"""The check budget of the asyncio transports (national JSON gateway, CDS Hooks, MLLP): silence is never "OK".

A transport hands its blocking answer (decode → check → encode) to `CheckBudget.run`: the work runs on a small
thread pool while the event loop waits at most the budget. Past it, `run` returns `OVER_BUDGET` and the transport
answers in its own protocol that the check is unavailable (national infcode -1, HL7 AE, a CDS card), and tells the
check service so the workstation's alert stream shows it too. The abandoned work finishes in the background; its
answer is dropped. A budget of 0 runs the work inline on the loop, with no limit (the gRPC transport has its own
budget, `grpc_behaviors.Budgeted`, because it also honours the caller's deadline).
"""

from __future__ import annotations

import asyncio
import contextvars
import enum
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Final, TypeVar

__all__ = ["OVER_BUDGET", "CheckBudget", "OverBudget"]

T = TypeVar("T")


class OverBudget(enum.Enum):
    """The marker `CheckBudget.run` returns when the work did not finish in time."""

    OVER_BUDGET = "over budget"


OVER_BUDGET: Final = OverBudget.OVER_BUDGET


class CheckBudget:
    """Runs a transport's blocking answers under `budget_ms` on `workers` threads named after the transport."""

    def __init__(self, budget_ms: int, name: str, workers: int = 4) -> None:
        self.budget_ms = budget_ms
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix=f"fundguard-{name}") if budget_ms > 0 else None

    @property
    def reason(self) -> str:
        """What the caller is told when the budget is exceeded."""
        return (
            f"check unavailable: not finished within the agent's check budget ({self.budget_ms} ms); "
            "the order is not known to comply"
        )

    async def run(self, work: Callable[..., T], *args: object) -> T | OverBudget:
        """`work(*args)`, or OVER_BUDGET when it has not finished within the budget (the work's log context, e.g.
        the encounter it binds, stays in its own copy of the caller's context)."""
        if self._pool is None:
            return work(*args)
        scope = contextvars.copy_context()
        future = asyncio.get_running_loop().run_in_executor(self._pool, scope.run, work, *args)
        try:
            return await asyncio.wait_for(future, self.budget_ms / 1000)
        except TimeoutError:
            return OVER_BUDGET

    def close(self) -> None:
        """Stop taking work; running work finishes on its own."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
