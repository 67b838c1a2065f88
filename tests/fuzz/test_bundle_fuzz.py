"""The KB bundle reader and verifier on 10,000 mutated signed bundles.

A small signed bundle (the test samples' one-point KB) is damaged the ways files get damaged and attackers try: bytes
flipped, a run overwritten, bytes inserted or cut, truncated, junk appended. `verify` must either reject it with
`BundleRejected` (a sentence saying why) or — when the damage touched nothing that matters (a zip comment, a
timestamp) — return exactly the signed payload. Nothing else: no other exception, never a different payload.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given
from hypothesis import strategies as st

from fundguard.knowledge_base.bundle import BundleRejected, load_trusted_keys, verify

from ..kb.bundles import KEY_ID, make_keys, signed
from ..samples import tiny_bundle
from . import FUZZ


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, dict[str, Ed25519PublicKey], object]:
    """The signed tiny bundle, the trusted keys, and its verified payload."""
    keys = make_keys(Path(tmp_path_factory.mktemp("keys")))
    raw = signed(tiny_bundle(), keys, KEY_ID)
    trusted = load_trusted_keys(keys.trusted_dir)
    return raw, trusted, verify(raw, trusted).payload


@st.composite
def mutations(draw: st.DrawFn, size: int) -> tuple[str, int, bytes]:
    """What to do, where, with which bytes."""
    kind = draw(st.sampled_from(("flip", "overwrite", "insert", "cut", "truncate", "append")))
    at = draw(st.integers(0, size - 1))
    return kind, at, draw(st.binary(min_size=1, max_size=16))


def mutate(raw: bytes, kind: str, at: int, data: bytes) -> bytes:
    """`raw` damaged one way."""
    if kind == "flip":
        return raw[:at] + bytes([raw[at] ^ (data[0] or 1)]) + raw[at + 1 :]
    if kind == "overwrite":
        return raw[:at] + data + raw[at + len(data) :]
    if kind == "insert":
        return raw[:at] + data + raw[at:]
    if kind == "cut":
        return raw[:at] + raw[at + len(data) :]
    if kind == "truncate":
        return raw[:at]
    return raw + data


def test_a_mutated_bundle_is_rejected_with_a_reason_or_verifies_to_the_signed_payload(
    bundle: tuple[bytes, dict[str, Ed25519PublicKey], object],
) -> None:
    """10,000 damaged copies: BundleRejected with a reason, or the very payload that was signed."""
    raw, trusted, payload = bundle

    @FUZZ
    @given(mutations(len(raw)))
    def prop(mutation: tuple[str, int, bytes]) -> None:
        damaged = mutate(raw, *mutation)
        try:
            verified = verify(damaged, trusted)
        except BundleRejected as exc:
            assert str(exc)
            return
        assert payload == verified.payload

    prop()
