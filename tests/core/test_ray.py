"""The executor on a real local Ray cluster (2 CPUs, one cluster for the module): a training run
equals the local path's, a transfer comparison, Stop and resume, and a worker killed mid-job."""
import os
import signal
import time

import pytest

ray = pytest.importorskip("ray", reason="Ray is the optional workshop extra (requirements-workshop.txt)")

from core import jobs, runs  # noqa: E402
from core import executor as ex_mod  # noqa: E402
from core.executor import CORE, Executor, RayBackend, spec_for  # noqa: E402
from tests.core.job_samples import SAMPLES  # noqa: E402
from tests.core.test_trainer import tiny_trainer  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


@pytest.fixture(scope="module")
def cluster():
    os.environ["CNNLAB_RAY_CPUS"] = "1"  # two jobs at once on the 2-CPU cluster
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"py_modules": [str(CORE)]})
    before = ex_mod._executor
    ex_mod._executor = Executor(RayBackend(None))
    yield ex_mod._executor
    ex_mod._executor = before
    ray.shutdown()
    del os.environ["CNNLAB_RAY_CPUS"]


def _wait(cond, timeout=600.0):  # a wait, not a timing assertion: the machine may be busy
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def test_a_training_run_on_ray_equals_the_local_one(cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_RUNS_DIR", str(tmp_path))
    local = tiny_trainer(epochs=3)
    local.run()
    run = runs.TrainingRun("ray", tiny_trainer(epochs=3), "tiny", key={"data": "tiny-ray"})
    run.start()
    assert run.join(600) and not run.error, run.error
    assert run.viewer.worker.startswith("Ray worker pid") and run.viewer.worker != f"Ray worker pid {os.getpid()}"
    t = run.trainer
    assert t.status == "finished" and t.batch_losses == local.batch_losses
    assert [(s.val_loss, s.val_acc) for s in t.snapshots] == [(s.val_loss, s.val_acc) for s in local.snapshots]
    assert all((a == b).all() for a, b in zip(t.model.state_dict().values(), local.model.state_dict().values()))
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run.log_dir)).Reload()  # the loggers ran here, fed by the mirror
    assert len(events.Scalars("lr")) == 3


def test_a_transfer_comparison_runs_on_ray(cluster):
    settings = SAMPLES["transfer"](1)
    here = jobs.run("transfer", settings, lambda *a: None, lambda: False)
    view = cluster.submit(spec_for("transfer", settings))
    assert view.join(600) and not view.error, view.error
    (shots, outcomes), = view.result.items()
    assert set(outcomes) == {"feature extractor", "fine-tune", "from scratch"}
    assert {s: o.test_acc for s, o in outcomes.items()} == {s: o.test_acc for s, o in here[shots].items()}


def test_stop_reaches_the_worker_and_the_run_resumes(cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_RUNS_DIR", str(tmp_path))
    run = runs.TrainingRun("long", tiny_trainer(epochs=10_000), "tiny", key={"data": "tiny-stop"}, tensorboard=False)
    run.start()
    _wait(lambda: len(run.trainer.batch_losses) >= 3)
    run.stop()
    assert run.join(60)
    t = run.trainer
    assert t.status == "stopped" and "Resume continues" in t.message and run.viewer.state == "stopped"
    where = t.batches_done
    assert where >= 3 and len(t.batch_losses) == where  # the final state came back from the worker
    run.start()  # resume on the cluster from that position
    _wait(lambda: run.trainer.batches_done > where + 2)
    run.stop()
    assert run.join(60) and run.trainer.status == "stopped"


def test_a_killed_worker_ends_its_job_with_a_message_and_nothing_else(cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_RUNS_DIR", str(tmp_path))
    doomed = runs.TrainingRun("doomed", tiny_trainer(epochs=10_000), "tiny", key={"data": "doomed"}, tensorboard=False)
    other = runs.TrainingRun("other", tiny_trainer(epochs=4), "tiny", key={"data": "survivor"}, tensorboard=False)
    doomed.start()
    other.start()
    _wait(lambda: doomed.viewer.worker.startswith("Ray worker pid") and doomed.trainer.batch_losses)
    os.kill(int(doomed.viewer.worker.rsplit(" ", 1)[1]), signal.SIGKILL)
    assert doomed.join(300)
    assert doomed.viewer.state == "failed" and "Ray worker running this job stopped" in doomed.error
    assert doomed.trainer.status == "stopped" and doomed.trainer.batch_losses  # the curves so far are kept
    assert other.join(600) and not other.error and other.trainer.status == "finished"
    again = runs.TrainingRun("again", tiny_trainer(epochs=1), "tiny", key={"data": "after"}, tensorboard=False)
    again.start()
    assert again.join(600) and again.trainer.status == "finished"
