"""The KB inbox (air-gapped import): a newer signed bundle dropped in the folder is running within 2 s with no
restart; a half-copied bundle is left alone until complete; a refused one moves to rejected/ with its reason."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fundguard.agent.kb import KbStore
from fundguard.agent.kb.activation import KbActivator
from fundguard.agent.kb.inbox import KbInbox
from fundguard.knowledge_base import default_bundle_path
from fundguard.knowledge_base.bundle import load_trusted_keys

from .bundles import Keys, default_doc, make_keys, signed, tagged

EMBEDDED = int(default_doc()["revision"])


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture
def inbox(keys: Keys, tmp_path: Path) -> Iterator[tuple[KbInbox, KbStore, Path]]:
    store = KbStore()
    activator = KbActivator(store, load_trusted_keys(keys.trusted_dir), tmp_path / "state")
    activator.start(default_bundle_path())
    folder = tmp_path / "inbox"
    running = KbInbox(folder, activator, poll=0.5, settle=0.3)
    running.start()
    yield running, store, folder
    running.stop()


def wait_for(condition: Callable[[], bool], seconds: float) -> float:
    """Seconds until `condition()` held (fails after `seconds`)."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, "not within the time allowed"
        time.sleep(0.02)
    return time.monotonic() - started


def test_a_dropped_newer_bundle_runs_within_2_s(keys: Keys, inbox: tuple[KbInbox, KbStore, Path]) -> None:
    running, store, folder = inbox
    data = signed(tagged(EMBEDDED + 1), keys)
    (folder / ".r2.fgkb.part").write_bytes(data)  # the copy, renamed when done
    (folder / ".r2.fgkb.part").rename(folder / "r2.fgkb")
    took = wait_for(lambda: store.current.revision == str(EMBEDDED + 1), 2.0)
    print(f"activated {took * 1000:.0f} ms after the drop")
    wait_for((folder / "activated" / "r2.fgkb").exists, 1.0)
    assert (1, 0) == (running.activated, running.rejected)


def test_a_half_copied_bundle_waits_for_the_rest(keys: Keys, inbox: tuple[KbInbox, KbStore, Path]) -> None:
    running, store, folder = inbox
    data = signed(tagged(EMBEDDED + 2), keys)
    target = folder / "slow-usb.fgkb"
    target.write_bytes(data[: len(data) // 3])  # the copy pauses for longer than the settle time
    time.sleep(1.2)
    assert (str(EMBEDDED), 0, True) == (store.current.revision, running.rejected, target.exists())
    with target.open("ab") as rest:
        rest.write(data[len(data) // 3 :])
    wait_for(lambda: store.current.revision == str(EMBEDDED + 2), 2.0)
    wait_for(lambda: running.activated == 1, 1.0)  # counted once the file has moved
    assert (0, True) == (running.rejected, (folder / "activated" / "slow-usb.fgkb").exists())


def test_a_refused_bundle_moves_to_rejected_with_why(keys: Keys, inbox: tuple[KbInbox, KbStore, Path]) -> None:
    running, store, folder = inbox
    stranger = make_keys(folder.parent / "stranger", key_id="stranger")
    (folder / "forged.fgkb").write_bytes(signed(tagged(EMBEDDED + 5), stranger, key_id="stranger"))
    wait_for((folder / "rejected" / "forged.fgkb.error").exists, 2.0)
    reason = (folder / "rejected" / "forged.fgkb.error").read_text(encoding="utf-8")
    assert (str(EMBEDDED), 1, True) == (store.current.revision, running.rejected, "stranger" in reason)
