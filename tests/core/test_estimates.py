"""Time estimates on the job buttons: a number only from runs measured here (per kind and variant,
scaled by how many jobs share the cores), and each kind's estimate against a real run within 2x."""
import time

import pytest
import sklearn.linear_model  # noqa: F401  (the probe imports it on first use: an import, not the job's work)

from core import estimates, jobs
from core import executor as ex_mod
from core.executor import Executor, spec_for
from tests.core.job_samples import SAMPLES, training_run

SIZED = sorted(k for k, kind in jobs.KINDS.items() if kind.size is not None)


@pytest.fixture
def fresh(monkeypatch):
    """No run measured yet, and an executor of its own (the one TrainingRun uses too)."""
    monkeypatch.setattr(estimates, "_rates", {})
    ex = Executor()
    monkeypatch.setattr(ex_mod, "_executor", ex)
    return ex


def test_every_kind_with_a_size_has_a_sample():
    assert set(SIZED) == set(SAMPLES) | {"training"}
    assert jobs.KINDS["int8_timing"].size is None  # compiling once per server: no past run predicts it


def test_no_number_before_a_run_here_then_the_last_runs_rate(fresh):
    small, big = SAMPLES["mixer"](1), SAMPLES["mixer"](2)
    assert estimates.estimate("mixer", small) is None
    estimates.observe("mixer", small, 10.0, share=2.0)  # 10 s while sharing the cores with one other job
    assert estimates.alone("mixer", small) == pytest.approx(5.0)
    ratio = estimates.size("mixer", big)[1] / estimates.size("mixer", small)[1]
    assert ratio > 1.2  # the units follow the budget
    assert estimates.estimate("mixer", big, share=2.0) == pytest.approx(10.0 * ratio)
    estimates.observe("mixer", big, 3.0, share=1.0)  # the last run counts, not an average
    assert estimates.alone("mixer", big) == pytest.approx(3.0)
    assert estimates.estimate("bias_lab", SAMPLES["bias_lab"](1)) is None  # another kind: still nothing
    assert estimates.estimate("int8_timing", {"batch": 64}) is None
    estimates.observe("int8_timing", {"batch": 64}, 12.0, share=1.0)
    assert estimates.estimate("int8_timing", {"batch": 64}) is None


def test_a_rate_is_used_only_for_its_variant(fresh):
    simple = training_run(1).settings
    resnet = simple | {"cfg": simple["cfg"] | {"arch": "resnet"}}
    bigger_batch = simple | {"cfg": simple["cfg"] | {"batch_size": 64}}
    estimates.observe("training", simple, 4.0, share=1.0)
    assert estimates.alone("training", simple | {"cfg": simple["cfg"] | {"epochs": 3}}) == pytest.approx(12.0)
    assert estimates.alone("training", resnet) is None and estimates.alone("training", bigger_batch) is None
    assert estimates.alone("training", {}) is None  # a run without the page's key has no size


def test_labels_say_where_the_number_comes_from():
    assert estimates.describe(None) == ""
    assert estimates.describe(42.4) == "about 42 s here, from the last run"
    assert estimates.describe(150, share=2.0) == ("about 2.5 min here, from the last run, sharing the cores "
                                                  "with 1 other job")


def test_the_executor_counts_the_jobs_that_shared_the_cores(fresh, monkeypatch):
    """Two 0.6 s jobs side by side each measure their time over 2 sharers; one alone over 1."""
    kinds = jobs.KINDS | {"nap": jobs.Kind(lambda p, stop, seconds, n: time.sleep(seconds), lambda s: ((), s["seconds"]))}
    monkeypatch.setattr(jobs, "KINDS", kinds)
    pair = [fresh.submit(spec_for("nap", {"seconds": 0.6, "n": i})) for i in range(2)]
    assert all(v.join(60) and v.state == "done" for v in pair)
    shared = estimates.alone("nap", {"seconds": 1.0})
    alone = fresh.submit(spec_for("nap", {"seconds": 0.6, "n": 2}))
    assert alone.join(60) and alone.state == "done"
    took = alone.finished - alone.started
    assert estimates.alone("nap", {"seconds": 1.0}) == pytest.approx(took / 0.6, rel=0.01)
    assert shared < 0.8 * took / 0.6  # the pair's rate was divided by (about) 2


def _finished(kind: str, scale: int, ex: Executor):
    """A real run of the sample at this scale through the executor, as a page starts it."""
    if kind == "training":
        run = training_run(epochs=2 * scale)
        run.start()
        view = run.viewer
    else:
        view = ex.submit(spec_for(kind, SAMPLES[kind](scale)))
    assert view.join(900) and view.state == "done", view.error
    return view


@pytest.mark.slow
@pytest.mark.parametrize("kind", SIZED)
def test_after_one_real_run_a_bigger_job_is_estimated_from_its_measured_rate(kind, fresh):
    """A real run of a small budget, as a page starts it; the label for twice the budget (a different
    job) is then that run's seconds per unit times the bigger job's units. How close such an estimate
    comes to the next real run depends on the machine's load: a figure for bench/, not a test."""
    small = training_run(epochs=2).settings if kind == "training" else SAMPLES[kind](1)
    bigger = training_run(epochs=4).settings if kind == "training" else SAMPLES[kind](2)
    assert estimates.estimate(kind, bigger, fresh.share()) is None  # nothing measured yet: no number
    first = _finished(kind, 1, fresh)
    (variant, units), (variant2, units2) = estimates.size(kind, small), estimates.size(kind, bigger)
    assert variant == variant2 and units2 > units
    predicted = estimates.estimate(kind, bigger, fresh.share())  # what the button would show now
    assert predicted == pytest.approx((first.finished - first.started) * units2 / units, rel=0.02)
