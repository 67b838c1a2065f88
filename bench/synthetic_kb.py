"""Synthetic knowledge-base bundles (format v1) of 100,000+ points, scaled up from the real default KB, for load and
reload measurements (issue 7 "Generator", issue 11). `python -m bench.synthetic_kb N OUT.json [--seed S]`.

`synthetic_bundle(n_points, seed)` keeps every real point unchanged (so real encounters still get their alerts) and
adds `n_points - len(real points)` synthetic ones, deterministic for a seed:

- per rule class in the real bundle's proportions (largest remainder), so every rule class and family is present;
- each a copy of a real point of its rule class (params, texts, number of codes, validity), so `build_index` accepts
  it and its rule really fires on its codes;
- with new national codes of the real shapes: drugs keep the template's `X`/`Z` + 5-character class (ATC for `X`,
  what second-line evidence reads) and get a new generic segment `code[6:10]` (letter + 3 digits) with the
  template's dosage form / spec / package / maker tail (23 chars `X`, 20 chars `Z`); services `00` + 13 digits;
  herbal slices `T` + 9 digits; consumables `C` + 26 digits (class 6, generic 5, material 3, spec 5, maker 7: the
  split is unverified). Never a real code, nor a code the bench uses as a line no point lists;
- validity as the template's: a template of the 2026-01 revision yields a superseded / superseding pair on the
  same new codes (the old one's `valid_to` = the new one's `valid_from`, the new one `supersedes` the old), any
  other dated template a point dated alike;
- about a fifth of drug and service points list the codes of an earlier synthetic point of another rule class (a
  real drug sits in several rule classes: 920 of the 3,898 real points share a code so), and a share of the
  重复收费 pairs bill a consumable with a service (rule 30 of the 2025 catalogue).
"""

from __future__ import annotations

import argparse
import json
import random
import string
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from fundguard.knowledge_base import default_bundle_path
from fundguard.knowledge_base.importer import write_bundle

from .encounters import CONSULTATION, OTHER_HERB, VITAMIN_B1, VITAMIN_C

__all__ = ["synthetic_bundle"]

CO_LIST = 0.2  # share of synthetic drug / service points listing another rule class's codes
CONSUMABLE_PAIRS = 0.15  # share of synthetic 重复收费 pairs whose item B is a consumable
CONSUMABLE_NAME = "一次性使用医用耗材"
RESERVED = frozenset(code for code, _ in (VITAMIN_B1, VITAMIN_C, CONSULTATION, OTHER_HERB))
_GENERIC = slice(6, 10)  # generic-name segment of a 医保药品代码 (X 23 chars, Z 20 chars)
_TRIES = 10_000

Point = dict[str, Any]


def _kind(code: str) -> str:
    """drug, service, herbal, consumable or other: which generator makes a code of this shape."""
    if code[:1] in ("X", "Z") and len(code) >= _GENERIC.stop:
        return "drug"
    if code.isdigit():
        return "service"
    if code[:1] == "T":
        return "herbal"
    if code[:1] == "C":
        return "consumable"
    return "other"


def _copy(value: Any) -> Any:
    """A copy of JSON data (dicts, lists, scalars): much faster than deepcopy at 100k points."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


class _Codes:
    """Makes new unique national codes shaped like a template's; remembers every code and drug stem taken."""

    def __init__(self, rng: random.Random, taken: set[str]) -> None:
        self._rng = rng
        self._taken = taken | RESERVED
        self._stems = {c[: _GENERIC.stop] for c in self._taken if _kind(c) == "drug"}

    def _fresh(self, make: Callable[[], str], pool: set[str], what: str) -> str:
        for _ in range(_TRIES):
            new = make()
            if new not in pool:
                pool.add(new)
                return new
        raise RuntimeError(f"no free {what} code left near the template (after {_TRIES} tries)")

    def _digits(self, n: int) -> str:
        return "".join(self._rng.choices(string.digits, k=n))

    def stem(self, stem: str) -> str:
        """A new drug stem: the template's letter + class, a new generic segment (letter + 3 digits)."""
        rng = self._rng
        return self._fresh(
            lambda: stem[: _GENERIC.start] + rng.choice(string.ascii_uppercase) + self._digits(3), self._stems, "drug"
        )

    def service(self, code: str) -> str:
        """A new 15-digit service code in the template's category, with its extension tail."""
        return self._fresh(lambda: code[:6] + self._digits(5) + code[11:], self._taken, "service")

    def herbal(self, code: str) -> str:
        """A new herbal-slice code `T` + 9 digits near the template's."""
        return self._fresh(lambda: code[:4] + self._digits(len(code) - 4), self._taken, "herbal")

    def consumable(self) -> str:
        """A new 27-character consumable code `C` + 26 digits."""
        rng = self._rng
        return self._fresh(
            lambda: f"C{rng.randint(1, 14):02d}{rng.randint(1, 12):02d}{rng.randint(1, 9):02d}" + self._digits(20),
            self._taken,
            "consumable",
        )

    def other(self, code: str) -> str:
        """Any other shape: the first character kept, each letter / digit after it redrawn."""
        rng = self._rng

        def make() -> str:
            return code[0] + "".join(
                rng.choice(string.digits if ch.isdigit() else string.ascii_uppercase) if ch.isalnum() else ch
                for ch in code[1:]
            )

        return self._fresh(make, self._taken, "other")

    def remap(self, codes: Sequence[str], stems: dict[str, str], done: dict[str, str]) -> list[str]:
        """New codes for `codes`: drug codes sharing a stem keep sharing a (new) one; `stems` and `done` carry the
        mapping across the two points of a superseded pair."""
        out: list[str] = []
        for code in codes:
            new = done.get(code)
            if new is None:
                kind = _kind(code)
                if kind == "drug":
                    stem = code[: _GENERIC.stop]
                    if stem not in stems:
                        stems[stem] = self.stem(stem)
                    new = stems[stem] + code[_GENERIC.stop :]
                elif kind == "service":
                    new = self.service(code)
                elif kind == "herbal":
                    new = self.herbal(code)
                elif kind == "consumable":
                    new = self.consumable()
                else:
                    new = self.other(code)
                done[code] = new
            out.append(new)
        return out


def _quotas(counts: Mapping[str, int], total: int) -> dict[str, int]:
    """`total` split over the rule classes in proportion to `counts` (largest remainder; ties by name)."""
    whole = sum(counts.values())
    exact = {rc: n * total / whole for rc, n in counts.items()}
    out = {rc: int(x) for rc, x in exact.items()}
    by_remainder = sorted(exact, key=lambda rc: (out[rc] - exact[rc], rc))
    for rc in by_remainder[: total - sum(out.values())]:
        out[rc] += 1
    return out


class _Generator:
    """Appends synthetic points, each modelled on a real one, to (a copy of) the real points."""

    def __init__(self, real: list[Point], rng: random.Random) -> None:
        self.rng = rng
        self.points = real
        self.ids = {p["kp_id"] for p in real}
        self.codes = _Codes(rng, {c for p in real for c in p["codes"]})
        self.by_id = {p["kp_id"]: p for p in real}
        self.successor = {p["supersedes"]: p for p in real if p.get("supersedes")}
        self.pool: dict[str, list[tuple[str, list[str]]]] = {"drug": [], "service": []}

    def kp_id(self) -> str:
        """A new unique kp_id shaped like the importer's (`KP-` + 16 hex digits)."""
        while True:
            kp = f"KP-{self.rng.getrandbits(64):016x}"
            if kp not in self.ids:
                self.ids.add(kp)
                return kp

    def _point(self, tmpl: Point, codes: list[str], supersedes: str | None = None) -> Point:
        point = {**tmpl, "kp_id": self.kp_id(), "codes": codes, "supersedes": supersedes}
        point["params"] = _copy(tmpl.get("params") or {})
        if tmpl["family"] == "pair":
            point["params"].update(a=codes[0], b=codes[1])
            if _kind(codes[1]) == "consumable":
                point["item_name"] = f"{str(tmpl['item_name']).partition('×')[0]}×{CONSUMABLE_NAME}"
        return point

    def _codes(self, tmpl: Point) -> list[str]:
        """New codes for a single point: fresh ones of the template's shapes, or (CO_LIST) another rule class's."""
        codes: list[str] = tmpl["codes"]
        rng = self.rng
        if tmpl["family"] == "pair":
            services = self.pool["service"]
            a = rng.choice(services)[1][0] if services and rng.random() < CO_LIST else self.codes.service(codes[0])
            b = self.codes.consumable() if rng.random() < CONSUMABLE_PAIRS else self.codes.service(codes[1])
            return [a, b]  # b is fresh, so never a
        kind = _kind(codes[0])
        pool = self.pool.get(kind)
        if pool is not None:
            if pool and rng.random() < CO_LIST:
                rule_class, shared = rng.choice(pool)
                if rule_class != tmpl["rule_class"]:
                    return list(shared)
            new = self.codes.remap(codes, {}, {})
            pool.append((tmpl["rule_class"], new))
            return new
        return self.codes.remap(codes, {}, {})

    def add(self, tmpl: Point, room: int) -> int:
        """Add one point modelled on `tmpl`, or a superseded / superseding pair when `tmpl` is one side of a
        revision and there is `room` for two; returns how many points were added."""
        old = self.by_id.get(tmpl["supersedes"]) if tmpl.get("supersedes") else None
        new = self.successor.get(tmpl["kp_id"])
        revision = (old, tmpl) if old is not None else (tmpl, new) if new is not None else None
        if room >= 2 and revision is not None:
            old_t, new_t = revision
            stems: dict[str, str] = {}
            done: dict[str, str] = {}
            first = self._point(old_t, self.codes.remap(old_t["codes"], stems, done))
            second = self._point(new_t, self.codes.remap(new_t["codes"], stems, done), supersedes=first["kp_id"])
            self.points += (first, second)
            return 2
        self.points.append(self._point(tmpl, self._codes(tmpl)))
        return 1


def synthetic_bundle(n_points: int, seed: int = 0, *, base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A format-v1 bundle of exactly `n_points` points: the real ones of `base` (default: the embedded default KB)
    plus synthetic ones scaled from them (see the module docstring). Raises ValueError naming `n_points` when it is
    below the real point count."""
    real_bundle: Mapping[str, Any] = base or json.loads(default_bundle_path().read_text(encoding="utf-8"))
    real: list[Point] = _copy(list(real_bundle["points"]))
    if n_points < len(real):
        raise ValueError(f"n_points: {n_points} is below the {len(real)} real points the synthetic KB keeps")
    by_class: dict[str, list[Point]] = {}
    for p in real:
        by_class.setdefault(p["rule_class"], []).append(p)
    total = _quotas({rc: len(ps) for rc, ps in by_class.items()}, n_points)
    room = {rc: total[rc] - len(ps) for rc, ps in by_class.items()}
    rng = random.Random(seed)
    schedule = [rc for rc in sorted(room) for _ in range(room[rc])]
    rng.shuffle(schedule)
    gen = _Generator(real, rng)
    for rc in schedule:
        if room[rc] > 0:
            room[rc] -= gen.add(rng.choice(by_class[rc]), room[rc])
    source = dict(real_bundle.get("source") or {})
    return {
        **{k: _copy(v) for k, v in real_bundle.items() if k not in ("points", "source")},
        "issuer": f"bench.synthetic_kb (seed {seed}) scaled from: {real_bundle.get('issuer', '')}",
        "source": {**source, "generator": "bench.synthetic_kb", "seed": seed},
        "points": gen.points,
    }


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.synthetic_kb N OUT.json [--seed S]`: write an N-point synthetic bundle (canonical bytes)."""
    parser = argparse.ArgumentParser(prog="python -m bench.synthetic_kb", description=main.__doc__)
    parser.add_argument("n_points", type=int, help="points in the bundle (at least the real KB's)")
    parser.add_argument("out", type=Path, help="bundle file to write (replaced atomically)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same bundle)")
    args = parser.parse_args(argv)
    try:
        bundle = synthetic_bundle(args.n_points, args.seed)
    except ValueError as exc:
        parser.error(str(exc))
    write_bundle(bundle, args.out)
    codes = len({c for p in bundle["points"] for c in p["codes"]})
    print(f"{args.out}: {len(bundle['points'])} points, {codes} codes, seed {args.seed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
