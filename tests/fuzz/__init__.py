"""Fuzz tests: 10,000 generated cases per parser and for the engine, run by `make test`.

Every test here uses `FUZZ` (derandomized: the same cases in every run, so CI is reproducible and a failure is
replayed by running the test again; no example database). The cases are kept cheap — most are built with
`random.Random(seed)` from one drawn seed — so that all the 10,000-case tests of the suite together (these and the
adapters', transports' and trace codes') stay under three minutes on the 2-vCPU CI machine (about 140 s measured).
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

FUZZ_CASES = 10_000
FUZZ = settings(
    max_examples=FUZZ_CASES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
