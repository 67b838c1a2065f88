"""Latency summaries: nearest-rank percentiles up to p99.9 and the quantile curve the plot draws."""

from __future__ import annotations

from bench.stats import CURVE, summarize


def test_summary_gives_nearest_rank_percentiles_in_microseconds() -> None:
    """1..1000 µs: p50 is the 500th sample, p99 the 990th, p99.9 the 999th; the curve has one value per quantile
    of CURVE, rising, and its 0.5 point is the p50."""
    t = summarize([n * 1000 for n in range(1000, 0, -1)])
    assert (1000, 500.0, 990.0, 999.0, 1.0, 1000.0) == (t.n, t.p50, t.p99, t.p999, t.min, t.max)
    assert len(CURVE) == len(t.curve)
    assert sorted(t.curve) == list(t.curve)
    assert t.p50 == t.curve[CURVE.index(0.5)]


def test_with_curve_adds_the_curve_to_the_rounded_figures() -> None:
    """`with_curve` is `as_dict` plus `curve_us`, rounded to 0.1 µs; `as_dict` carries p99.9."""
    t = summarize([1234, 5678, 9012])
    doc = t.with_curve()
    assert {**t.as_dict(), "curve_us": [round(v, 1) for v in t.curve]} == doc
    assert 9.0 == doc["p999_us"]
