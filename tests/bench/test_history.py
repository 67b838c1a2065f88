"""The history bench runs end to end on a few iterations (figures are printed, never asserted as timings)."""

from __future__ import annotations

import json

import pytest

from bench.history import measure, print_figures


def test_history_bench_builds_five_years_and_prints_the_figures(capsys: pytest.CaptureFixture[str]) -> None:
    """The store holds 5 years of monthly visits (60) plus the request's own earlier visit, 5 lines each; the warm
    snapshot keeps the last year of them; every series has its samples; the JSON line carries the same figures."""
    figures = measure(iterations=50, warmup=5)
    history = figures["history"]
    assert (61, 60 * 5 + 2) == (history["encounters"], history["lines"])
    assert history["warm_encounters"] < history["all_encounters"] == 61
    for key in ("engine_no_history", "engine_warm_history", "engine_all_5_years", "cache_lookup"):
        assert 50 == figures[key]["n"]
    print_figures(figures)
    line = capsys.readouterr().out.splitlines()[-1]
    assert figures == json.loads(line)["history_bench"]
