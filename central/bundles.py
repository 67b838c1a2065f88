"""The platform's KB shelf: it serves the newest signed bundle (`*.fgkb`) of a folder to the agents' pollers.

`GET /kb/current.fgkb` answers the bundle with the highest manifest revision in the folder, with an `ETag` (its
SHA-256); a request whose `If-None-Match` names that ETag gets `304 Not Modified`, so an agent polling every few
minutes costs a header exchange. The bundle is signed by the bureau: the agents verify it themselves, so the shelf
needs no TLS for integrity (the content is public rules, not patient data). A file is read once per change of its
size and mtime; one that is not a readable bundle is skipped and logged.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import structlog

from fundguard.knowledge_base.bundle import BundleRejected
from fundguard.knowledge_base.bundle.verification import open_unverified

__all__ = ["BUNDLE_PATH", "BundleShelf", "serve_bundles"]

BUNDLE_PATH = "/kb/current.fgkb"

_log = structlog.get_logger("fundguard.central.bundles")


@dataclass(frozen=True, slots=True)
class _Shelved:
    signature: tuple[int, int]  # size, mtime (ns)
    revision: int
    etag: str
    data: bytes


class BundleShelf:
    """The bundles in `folder`; `current()` is the newest by revision (None when there is none)."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._lock = threading.Lock()
        self._seen: dict[str, _Shelved] = {}
        self._bad: dict[str, tuple[int, int]] = {}  # unreadable files, as last seen: not read again until changed

    def current(self) -> _Shelved | None:
        """Re-read what changed, then the bundle with the highest revision."""
        with self._lock:
            present = {p.name: p for p in self._folder.glob("*.fgkb") if p.is_file()}
            for gone in set(self._seen) - set(present):
                del self._seen[gone]
            for name, path in present.items():
                stat = path.stat()
                signature = (stat.st_size, stat.st_mtime_ns)
                known = self._seen.get(name)
                if (known is not None and known.signature == signature) or self._bad.get(name) == signature:
                    continue
                self._seen.pop(name, None)
                shelved = self._read(path, signature)
                if shelved is not None:
                    self._seen[name] = shelved
            return max(self._seen.values(), key=lambda s: s.revision, default=None)

    def _read(self, path: Path, signature: tuple[int, int]) -> _Shelved | None:
        data = path.read_bytes()
        try:
            revision = open_unverified(data).manifest.revision
        except BundleRejected as exc:
            _log.warning("central.bundle_skipped", file=path.name, reason=exc.reason)
            self._bad[path.name] = signature
            return None
        self._bad.pop(path.name, None)
        return _Shelved(signature, revision, f'"{hashlib.sha256(data).hexdigest()}"', data)


def serve_bundles(address: str, shelf: BundleShelf) -> tuple[ThreadingHTTPServer, int]:
    """A started HTTP server (its own daemon thread) answering `GET /kb/current.fgkb`; it and its bound port."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != BUNDLE_PATH:
                self.send_error(404, f"only {BUNDLE_PATH} is served here")
                return
            bundle = shelf.current()
            if bundle is None:
                self.send_error(404, "no bundle on the shelf")
                return
            if self.headers.get("If-None-Match", "") == bundle.etag:
                self.send_response(304)
                self.send_header("ETag", bundle.etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("ETag", bundle.etag)
            self.send_header("Content-Length", str(len(bundle.data)))
            self.end_headers()
            self.wfile.write(bundle.data)

        def log_message(self, *_args: object) -> None:  # requests are not logged one by one
            pass

    host, _, port = address.rpartition(":")
    server = ThreadingHTTPServer((host.strip("[]"), int(port)), Handler)
    threading.Thread(target=server.serve_forever, name="fundguard-central-bundles", daemon=True).start()
    return server, int(server.server_address[1])
