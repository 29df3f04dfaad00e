"""Time estimates: each job kind's estimate against a real short run of it here, within 2x."""
import time

import pytest

from core import estimates, jobs

KINDS = sorted(estimates.samples())


def test_every_kind_with_a_size_has_fitted_costs_and_a_sample():
    sized = {k for k, kind in jobs.KINDS.items() if kind.units is not None}
    assert sized == set(estimates.costs()["kinds"]) == set(KINDS)


def test_labels_read_as_measured_estimates():
    assert estimates.describe(None) == ""
    assert estimates.describe(42.4) == "about 42 s here"
    assert estimates.describe(150) == "about 2.5 min here"


def test_earlier_runs_here_correct_the_estimate(monkeypatch):
    monkeypatch.setattr(estimates, "_correction", {})
    settings, _ = estimates.samples()["mixer"](1)
    first = estimates.alone("mixer", settings)
    estimates.observe("mixer", settings, 4 * first, share=2.0)  # it took twice as long, alone
    assert estimates.alone("mixer", settings) == pytest.approx(2 * first, rel=0.05)
    assert estimates.estimate("mixer", settings, share=2.0) == pytest.approx(4 * first, rel=0.05)


def test_a_kind_without_costs_shows_its_last_time_here(monkeypatch):
    monkeypatch.setattr(estimates, "_last_seconds", {})
    assert estimates.alone("int8_timing", {"batch": 64}) is None
    estimates.observe("int8_timing", {"batch": 64}, 12.0, share=1.0)
    assert estimates.alone("int8_timing", {"batch": 1}) == 12.0


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_the_estimate_is_within_2x_of_a_real_short_run(kind, monkeypatch):
    monkeypatch.setattr(estimates, "_correction", {})
    monkeypatch.setattr(estimates, "_probe", None)  # this server's speed, measured now
    settings, run = estimates.samples()[kind](2)
    predicted = estimates.alone(kind, settings)
    start = time.perf_counter()
    run(lambda *a: None, lambda: False)
    took = time.perf_counter() - start
    assert predicted / 2 <= took <= 2 * predicted, f"{kind}: estimated {predicted:.1f} s, took {took:.1f} s"
