"""The reload figures run end to end on a small synthetic KB (figures are printed, never asserted as timings)."""

from __future__ import annotations

import json

import pytest

from bench.kb_reload import current_rss_mib, measure, print_figures


def test_current_rss_is_read() -> None:
    """The current resident set size of this process is known on Linux (and well above zero)."""
    assert current_rss_mib() > 10


def test_measure_activates_exercises_and_reloads(capsys: pytest.CaptureFixture[str]) -> None:
    """A 4,500-point KB is compiled and swapped in, the 10-, 50- and 200-line encounters alert on it, revisions
    activate through the activator as full bundles and as a delta, the reload under load swaps one in with no failed
    check, and the printed figures come back as JSON-ready data (with the offer-to-swap time of each activation)."""
    figures = measure(4_500, iterations=200, iterations_50=50, iterations_200=20, warmup=10)
    assert 4_500 == figures.points
    assert [(9, True), (40, True), (67, True)] == [(run.current_lines, run.alerts > 0) for run in figures.engine]
    load = figures.under_load
    assert (0, 200) == (load.failed, load.steady.n)
    assert load.during.n == load.on_old + load.on_new
    assert load.on_old > 0
    assert (load.reload_ms > 0, load.times.to_swap_ms > 0, figures.agent_full.compile_ms > 0) == (True, True, True)
    out = print_figures(figures)
    expected = {"activate_ms", "agent_cold", "agent_reload_full", "agent_reload_delta", "swap_ms", "engine"}
    assert expected | {"rss_after_mib", "under_load"} <= set(out)
    assert out == json.loads(json.dumps(out))
    assert figures.agent_full.to_swap_ms == pytest.approx(out["agent_reload_full"]["to_swap_ms"], abs=0.05)  # type: ignore[index]
    assert "4,500 points" in capsys.readouterr().out
