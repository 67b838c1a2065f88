"""The KB shelf: the newest signed bundle of the folder with its ETag, 304 for a matching If-None-Match, a damaged
file skipped; and an agent's poller against it activates the newest revision (the central pushing KB bundles)."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from fundguard.agent.kb import KbStore
from fundguard.agent.kb.activation import KbActivator
from fundguard.agent.kb.poller import KbPoller
from fundguard.central.bundles import BUNDLE_PATH, BundleShelf, serve_bundles
from fundguard.knowledge_base import default_bundle_path
from fundguard.knowledge_base.bundle import load_trusted_keys
from tests.kb.bundles import Keys, default_doc, make_keys, signed, tagged

EMBEDDED = int(default_doc()["revision"])


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    return make_keys(tmp_path / "keys")


@pytest.fixture
def shelf(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    folder = tmp_path / "bundles"
    folder.mkdir()
    server, port = serve_bundles("127.0.0.1:0", BundleShelf(folder))
    yield folder, f"http://127.0.0.1:{port}{BUNDLE_PATH}"
    server.shutdown()
    server.server_close()


def get(url: str, etag: str = "") -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, headers={"If-None-Match": etag} if etag else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get("ETag", ""), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("ETag", ""), b""


def test_the_newest_bundle_with_its_etag_and_304(keys: Keys, shelf: tuple[Path, str]) -> None:
    folder, url = shelf
    assert 404 == get(url)[0]
    r3, r2 = signed(tagged(EMBEDDED + 2), keys), signed(tagged(EMBEDDED + 1), keys)
    (folder / "a-r3.fgkb").write_bytes(r3)
    (folder / "b-r2.fgkb").write_bytes(r2)
    (folder / "c-broken.fgkb").write_bytes(b"not a zip")
    status, etag, body = get(url)
    assert (200, r3, True) == (status, body, etag.startswith('"'))
    assert (304, b"") == get(url, etag)[::2]


def test_an_agent_polling_the_shelf_activates_the_newest(keys: Keys, shelf: tuple[Path, str], tmp_path: Path) -> None:
    folder, url = shelf
    store = KbStore()
    activator = KbActivator(store, load_trusted_keys(keys.trusted_dir), tmp_path / "state")
    activator.start(default_bundle_path())
    poller = KbPoller(url, activator, interval=3600)
    (folder / "r2.fgkb").write_bytes(signed(tagged(EMBEDDED + 1), keys))
    poller.poll_once()
    poller.poll_once()
    assert (str(EMBEDDED + 1), 1, 1) == (store.current.revision, poller.fetched, poller.not_modified)
