"""Polling a bundle server: the first poll fetches and activates the bundle; the next sends If-None-Match with its
ETag and the server answers 304; a newer bundle on the server is picked up; a server error keeps the KB."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from fundguard.agent.kb import KbStore
from fundguard.agent.kb.activation import KbActivator
from fundguard.agent.kb.poller import KbPoller
from fundguard.knowledge_base import default_bundle_path
from fundguard.knowledge_base.bundle import load_trusted_keys

from .bundles import Keys, default_doc, make_keys, signed, tagged

EMBEDDED = int(default_doc()["revision"])


class BundleServer:
    """A test bundle server: serves `body` with its ETag, answers 304 to a matching If-None-Match; records requests."""

    def __init__(self) -> None:
        self.body = b""
        self.status = 200
        self.seen: list[tuple[int, str]] = []  # (status answered, If-None-Match received)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                etag = f'"{hashlib.sha256(server.body).hexdigest()[:16]}"'
                asked = self.headers.get("If-None-Match", "")
                status = server.status if server.status != 200 else (304 if asked == etag else 200)
                server.seen.append((status, asked))
                self.send_response(status)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(server.body) if status == 200 else 0))
                self.end_headers()
                if status == 200:
                    self.wfile.write(server.body)

            def log_message(self, *_args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/kb/current.fgkb"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[BundleServer]:
    running = BundleServer()
    yield running
    running.close()


def test_poll_fetches_then_sends_if_none_match_and_gets_304(server: BundleServer, tmp_path: Path) -> None:
    keys: Keys = make_keys(tmp_path / "keys")
    store = KbStore()
    activator = KbActivator(store, load_trusted_keys(keys.trusted_dir), tmp_path / "state")
    activator.start(default_bundle_path())
    poller = KbPoller(server.url, activator, interval=3600)
    server.body = signed(tagged(EMBEDDED + 1), keys)
    poller.poll_once()
    assert str(EMBEDDED + 1) == store.current.revision
    poller.poll_once()
    assert ([200, 304], True) == ([s for s, _ in server.seen], server.seen[1][1].startswith('"'))
    server.status = 503
    poller.poll_once()
    server.status = 200
    server.body = signed(tagged(EMBEDDED + 2), keys)
    poller.poll_once()
    assert (str(EMBEDDED + 2), 1, 1) == (store.current.revision, poller.failures, poller.not_modified)


def test_the_interval_is_jittered_both_ways(tmp_path: Path) -> None:
    activator = KbActivator(KbStore(), {}, tmp_path)
    low = KbPoller("http://x", activator, interval=100, jitter=0.2, rand=lambda: 0.0)
    high = KbPoller("http://x", activator, interval=100, jitter=0.2, rand=lambda: 0.999999)
    assert (80.0, 120.0) == (round(low.next_wait(), 3), round(high.next_wait(), 3))
