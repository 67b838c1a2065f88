"""Wiring of the knowledge base for the composition root: the activator (start-up KB) and its sources.

`open_kb(settings, data_dir, store, clock)` loads the start-up KB through the activator (the operator's bundle file,
else last-good when newer than the embedded default, else the embedded default) and returns the activator with the
listeners that feed it: the inbox folder and the bundle-server poller, when configured.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fundguard.agent.config import KbSettings
from fundguard.agent.transport.listener import Listener
from fundguard.knowledge_base import default_bundle_path
from fundguard.knowledge_base.bundle import load_trusted_keys

from .activation import KbActivator
from .inbox import KbInbox
from .poller import KbPoller
from .store import KbStore

__all__ = ["KB_STATE_DIR", "OpenedKb", "open_kb"]

KB_STATE_DIR = "kb"  # under the data dir: last-good bundle and its meta


@dataclass(frozen=True, slots=True)
class OpenedKb:
    """The activator (start-up KB loaded) and the listeners feeding it bundles."""

    activator: KbActivator
    listeners: tuple[Listener, ...]


def open_kb(settings: KbSettings, data_dir: Path, store: KbStore, clock: Callable[[], datetime]) -> OpenedKb:
    """Load the start-up KB; raises KbInvalid / OSError when nothing can be loaded, ValueError on bad keys."""
    trusted = load_trusted_keys(settings.trusted_keys) if settings.trusted_keys is not None else {}
    activator = KbActivator(store, trusted, data_dir / KB_STATE_DIR, clock)
    activator.start(default_bundle_path(), settings.path if settings.explicit else None)
    listeners: list[Listener] = []
    if settings.inbox is not None:
        listeners.append(KbInbox(settings.inbox, activator))
    if settings.poll_url is not None:
        listeners.append(KbPoller(settings.poll_url, activator, interval=settings.poll_seconds))
    return OpenedKb(activator, tuple(listeners))
