"""Polling a bundle server for new knowledge-base bundles: `GET URL` with `If-None-Match`, at jittered intervals.

The reference central platform serves the current signed bundle at a URL with an `ETag`. Every `interval` seconds
(± `jitter`, so a province's agents do not all ask at once) the poller sends the last ETag it saw; `304 Not
Modified` costs nothing, `200` hands the body to the activator (verify → newer revision → compile aside → swap). A
network error or a refused bundle is logged and counted, and the next poll comes at the usual time: the running KB
keeps serving. A refused bundle's ETag is remembered too, so the same bad file is not fetched over and over.
"""

from __future__ import annotations

import random
import threading
import urllib.error
import urllib.request
from collections.abc import Callable

import structlog

from fundguard.knowledge_base.bundle import BundleRejected

from .activation import KbActivator

__all__ = ["KbPoller"]

MAX_BUNDLE_BYTES = 512 * 1024 * 1024
USER_AGENT = "fundguard-agent"

_log = structlog.get_logger("fundguard.agent.kb")


class KbPoller:
    """Polls `url` on its own thread; counters `polls`, `not_modified`, `fetched`, `failures`."""

    name = "kb-poller"

    def __init__(
        self,
        url: str,
        activator: KbActivator,
        *,
        interval: float = 300.0,
        jitter: float = 0.2,
        timeout: float = 30.0,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._url = url
        self._activator = activator
        self._interval = interval
        self._jitter = jitter
        self._timeout = timeout
        self._rand = rand
        self._etag = ""
        self._stopping = threading.Event()
        self._worker: threading.Thread | None = None
        self.polls = self.not_modified = self.fetched = self.failures = 0

    @property
    def address(self) -> str:
        """The URL polled."""
        return self._url

    def start(self) -> None:
        """Poll once now, then every interval (jittered), on a daemon thread."""
        self._stopping.clear()
        self._worker = threading.Thread(target=self._run, name="fundguard-kb-poller", daemon=True)
        self._worker.start()
        _log.info("kb.poller_started", url=self._url, interval_s=self._interval)

    def stop(self) -> None:
        """Stop polling (a download in progress is abandoned at its timeout)."""
        self._stopping.set()
        if self._worker is not None:
            self._worker.join(self._timeout + 1)
        self._worker = None

    def next_wait(self) -> float:
        """Seconds to the next poll: the interval ± jitter × interval."""
        return max(self._interval * (1 + self._jitter * (2 * self._rand() - 1)), 0.0)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self.poll_once()
            self._stopping.wait(self.next_wait())

    def poll_once(self) -> None:
        """One conditional GET; activates a new bundle when the server has one."""
        self.polls += 1
        request = urllib.request.Request(self._url, headers={"User-Agent": USER_AGENT})
        if self._etag:
            request.add_header("If-None-Match", self._etag)
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                body = response.read(MAX_BUNDLE_BYTES + 1)
                etag = response.headers.get("ETag", "")
        except urllib.error.HTTPError as exc:
            if exc.code == 304:
                self.not_modified += 1
                return
            self._failed(f"HTTP {exc.code} {exc.reason}")
            return
        except (urllib.error.URLError, OSError) as exc:
            self._failed(str(getattr(exc, "reason", exc)))
            return
        if len(body) > MAX_BUNDLE_BYTES:
            self._failed(f"bundle larger than {MAX_BUNDLE_BYTES} bytes")
            return
        self.fetched += 1
        self._etag = etag
        try:
            revision = self._activator.offer(body, f"poll:{self._url}")
        except BundleRejected:
            return  # logged and counted by the activator; this ETag is not fetched again
        _log.info("kb.poller_activated", revision=revision, etag=etag)

    def _failed(self, reason: str) -> None:
        self.failures += 1
        _log.warning("kb.poll_failed", url=self._url, reason=reason)
