"""The next revisions of a bundle, as the bureau publishes them, signed: what a reload activates in the bench.

A bureau revision changes a share of the points and leaves the rest as they were: the 2026-01 revision superseded
397 of the 3,899 points (~10 %). `revise(doc, seed)` does the same to any bundle: `CHANGED` of the points get a
validity end (superseded) or a revised text, some lose a code or gain one, `WITHDRAWN` are withdrawn, `ADDED` new
ones (copies of others under new ids) appear. `signed_revisions` signs a chain of such revisions as full bundle
files, and the last step also as a delta, with a throwaway Ed25519 key.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fundguard.knowledge_base.bundle import build_delta, build_full, sign
from fundguard.knowledge_base.importer import bundle_bytes

__all__ = ["ADDED", "CHANGED", "WITHDRAWN", "SignedRevisions", "revise", "signed_revisions"]

CHANGED = 0.10
WITHDRAWN = 0.01
ADDED = 0.01
KEY_ID = "bench"


def revise(doc: dict[str, Any], seed: int) -> dict[str, Any]:
    """The next revision of `doc` (a new object; `doc` is left as it was): see the module doc."""
    rng = random.Random(seed)
    new = {**doc, "revision": int(doc["revision"]) + 1, "points": list(doc["points"])}
    points: list[dict[str, Any]] = new["points"]
    n = len(points)
    for index in rng.sample(range(n), int(n * CHANGED)):
        point = copy.deepcopy(points[index])
        roll = rng.random()
        if roll < 0.4:
            point["valid_to"] = "2026-01-01"  # superseded from the revision's date
        elif roll < 0.7 and len(point["codes"]) > 1:
            point["codes"] = point["codes"][:-1]
        elif roll < 0.85:
            point["codes"] = [*point["codes"], points[rng.randrange(n)]["codes"][0]]
        else:
            point["constraint"] = f"{point.get('constraint') or ''}（{new['revision']} 修订）"
        points[index] = point
    for index in sorted(rng.sample(range(n), int(n * WITHDRAWN)), reverse=True):
        del points[index]
    for k in range(int(n * ADDED)):
        point = copy.deepcopy(points[rng.randrange(len(points))])
        point["kp_id"] = f"KP-R{new['revision']}-{k:06d}"
        point["valid_from"] = "2026-01-01"
        points.append(point)
    return new


@dataclass(frozen=True, slots=True)
class SignedRevisions:
    """A trusted key set and the signed files: `base` the bundle as given, `full[i]` its revision base+i+1; `delta`
    goes from the next to last revision to the last."""

    trusted: dict[str, Ed25519PublicKey]
    base: bytes
    full: tuple[bytes, ...]
    delta: bytes


def signed_revisions(doc: dict[str, Any], count: int, seed: int = 0) -> SignedRevisions:
    """`doc` and `count` (>= 2) successive revisions of it, each signed as a full bundle, the last one also as a
    delta."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    raws: list[bytes] = []
    current = doc
    for step in range(count):
        current = revise(current, seed + step)
        raws.append(bundle_bytes(current))
    full = tuple(sign(build_full(raw), pem, KEY_ID) for raw in raws)
    delta = sign(build_delta(raws[-2], raws[-1]), pem, KEY_ID)
    base = sign(build_full(bundle_bytes(doc)), pem, KEY_ID)
    return SignedRevisions({KEY_ID: key.public_key()}, base, full, delta)
