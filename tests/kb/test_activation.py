"""The activation path: a bundle with a flipped byte, a wrong key, no signature or a lower revision is refused with
its reason, counted, and the running KB keeps answering; a good one is activated and persisted as last-good; a new
activator on the same state starts on it; without it (or with it damaged) on the embedded default."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from fundguard.agent.kb import KbStore
from fundguard.agent.kb.activation import LAST_GOOD_FILE, KbActivator
from fundguard.knowledge_base import default_bundle_path
from fundguard.knowledge_base.bundle import BundleRejected, load_trusted_keys

from .bundles import Keys, default_doc, make_keys, signed, tagged

EMBEDDED = int(default_doc()["revision"])


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def r2(keys: Keys) -> bytes:
    return signed(tagged(EMBEDDED + 1), keys)


def started(keys: Keys, state: Path) -> tuple[KbStore, KbActivator]:
    store = KbStore()
    activator = KbActivator(store, load_trusted_keys(keys.trusted_dir), state)
    activator.start(default_bundle_path())
    return store, activator


def _flip(data: bytes, member: str) -> bytes:
    """The same zip with one byte of `member` flipped."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = bytearray(src.read(info))
            if info.filename == member:
                body[len(body) // 2] ^= 0x01
            dst.writestr(info, bytes(body))
    return out.getvalue()


def _without(data: bytes, member: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename != member:
                dst.writestr(info, src.read(info))
    return out.getvalue()


def test_starts_on_the_embedded_default_and_activates_a_newer_signed_bundle(
    keys: Keys, r2: bytes, tmp_path: Path
) -> None:
    store, activator = started(keys, tmp_path)
    assert (str(EMBEDDED), True) == (store.current.revision, store.source.startswith("embedded:"))
    assert str(EMBEDDED + 1) == activator.offer(r2, "test")
    status = activator.status()
    assert (str(EMBEDDED + 1), "test", 2, 0) == (status.revision, status.source, status.activations, status.rejections)
    assert (tmp_path / LAST_GOOD_FILE).exists()


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        (lambda good, other: _flip(good, "bundle.json"), "sha256"),
        (lambda good, other: _flip(good, "manifest.json"), "signature"),
        (lambda good, other: other, "key"),
        (lambda good, other: _without(good, "signature.json"), "signature"),
        (lambda good, other: good[: len(good) // 2], "zip"),
    ],
    ids=["flipped-bundle-byte", "flipped-manifest-byte", "untrusted-key", "no-signature", "truncated"],
)
def test_a_bad_bundle_is_refused_with_its_reason_and_the_kb_keeps_serving(
    keys: Keys, r2: bytes, tmp_path: Path, spoil: object, reason: str
) -> None:
    stranger = make_keys(tmp_path / "stranger", key_id="someone-else")
    other = signed(tagged(EMBEDDED + 1), stranger, key_id="someone-else")
    store, activator = started(keys, tmp_path / "state")
    before = store.current
    with pytest.raises(BundleRejected) as refused:
        activator.offer(spoil(r2, other), "test")  # type: ignore[operator]
    status = activator.status()
    assert (before, 1, refused.value.reason) == (store.current, status.rejections, status.last_error)
    assert reason in refused.value.reason.lower(), refused.value.reason
    assert not (tmp_path / "state" / LAST_GOOD_FILE).exists()


def test_a_lower_or_equal_revision_is_refused(keys: Keys, r2: bytes, tmp_path: Path) -> None:
    store, activator = started(keys, tmp_path)
    activator.offer(r2, "test")
    for revision in (EMBEDDED + 1, EMBEDDED):
        with pytest.raises(BundleRejected, match="never downgraded"):
            activator.offer(signed(tagged(revision), keys), "test")
    assert (str(EMBEDDED + 1), 2) == (store.current.revision, activator.status().rejections)


def test_a_restart_runs_the_last_good_and_without_it_the_embedded_default(
    keys: Keys, r2: bytes, tmp_path: Path
) -> None:
    _, first = started(keys, tmp_path)
    first.offer(r2, "test")
    store, _ = started(keys, tmp_path)
    assert (str(EMBEDDED + 1), True) == (store.current.revision, store.source.startswith("last-good:"))
    (tmp_path / LAST_GOOD_FILE).write_bytes(b"{}")  # damaged: its sha256 no longer matches
    store, activator = started(keys, tmp_path)
    assert (str(EMBEDDED), 1) == (store.current.revision, activator.status().rejections)
    (tmp_path / LAST_GOOD_FILE).unlink()
    store, _ = started(keys, tmp_path)
    assert str(EMBEDDED) == store.current.revision


def test_a_signed_delta_applies_on_its_base_only(keys: Keys, tmp_path: Path) -> None:
    """A delta from the running (embedded) bundle to the next revision activates; the same delta offered again,
    now on the wrong base, is refused."""
    import json

    from fundguard.knowledge_base.bundle import build_delta, sign

    base = default_bundle_path().read_bytes()
    new = json.dumps(tagged(EMBEDDED + 1), ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    delta = sign(build_delta(base, new), keys.private_pem, "bureau-test-2026")
    store, activator = started(keys, tmp_path)
    assert str(EMBEDDED + 1) == activator.offer(delta, "delta")
    assert store.current.rules["药品区分性别使用"].rule_name.endswith(f" r{EMBEDDED + 1}")
    with pytest.raises(BundleRejected, match="base"):
        activator.offer(delta, "delta again")


def test_a_bundle_that_cannot_be_saved_still_runs_and_says_so(keys: Keys, r2: bytes, tmp_path: Path) -> None:
    """The state folder is unusable (a file stands in its place): the new revision is activated all the same, and
    the status says it was not saved as last-good."""
    blocked = tmp_path / "state"
    blocked.write_text("not a folder", encoding="utf-8")
    store, activator = started(keys, blocked)
    assert str(EMBEDDED + 1) == activator.offer(r2, "test")
    status = activator.status()
    assert (str(EMBEDDED + 1), 0, True) == (store.current.revision, status.rejections, "not saved" in status.last_error)
