"""The one error of the signed-bundle tools: a bundle file (or an input to the tools) that is refused, and why.

Every check that fails raises `BundleRejected` with one sentence naming what is wrong ("bundle.json: sha256
mismatch", "no signature", "unknown key id 'x'" …): the agent logs it and counts it, the CLI prints it.
"""

from __future__ import annotations

__all__ = ["BundleRejected"]


class BundleRejected(Exception):
    """A bundle was refused; `reason` is one sentence naming what is wrong."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason
