"""The Training Monitor's loop: learning, schedules, early stopping, NaN, stop/resume, checkpoints."""
import math
import threading
import time

import pytest
import torch

from core import checkpoints, runs
from core.executor import executor
from core.data import load_digits, make_shapes
from core.errors import CNNLabError
from core.nets import build_net
from core.training import Split, TrainConfig, Trainer, split_dataset


def tiny_task(n=60, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, size, size, generator=g)
    y = torch.arange(n) % 3
    x[y == 1, 0] += 0.5  # a learnable cue
    return Split(x.clamp(0, 1), y)


def tiny_trainer(observers=(), **cfg) -> Trainer:
    cfg = TrainConfig(**{"arch": "vgg", "width": 4, "depth": 1, "epochs": 3, "batch_size": 16, **cfg})
    train, val = tiny_task(), tiny_task(30, seed=1)
    model = build_net(cfg.arch, 3, 3, width=cfg.width, depth=cfg.depth, dropout=cfg.dropout, seed=cfg.seed)
    return Trainer(cfg, model, train, val, ("a", "b", "c"), torch.full((3,), 0.5), torch.full((3,), 0.25), observers)


@pytest.mark.slow
def test_simplecnn_reaches_90_percent_on_shapes_within_budget():
    """Budget: 8,000 synthetic shapes (64 px drawn, 32 px trained), 80/20 split, 10 epochs of Adam
    with OneCycle (max LR 0.01), batch 32, random flips, seed 0; about 15 s on 2 cores. Seeded: 96.8%."""
    ds = make_shapes(8000, seed=1)
    train, val, mean, std, _ = split_dataset(ds, size=32, val_fraction=0.2, limit=None, seed=0)
    cfg = TrainConfig(arch="simplecnn", optimizer="adam", lr=1e-2, schedule="onecycle", batch_size=32, epochs=10,
                      flip=True, seed=0)
    t = Trainer(cfg, build_net("simplecnn", 5, 3, seed=0), train, val, ds.class_names, mean, std)
    assert t.run() == "finished"
    assert t.snapshots[0].val_acc < 0.35 and t.snapshots[-1].val_acc >= 0.90


@pytest.mark.slow
def test_small_resnet_learns_digits():
    ds = load_digits()
    train, val, mean, std, _ = split_dataset(ds, size=32, val_fraction=0.2, limit=None, seed=0)
    cfg = TrainConfig(arch="resnet", width=8, depth=1, lr=1e-2, schedule="onecycle", epochs=5, batch_size=32)
    t = Trainer(cfg, build_net("resnet", 10, 1, width=8, depth=1, seed=0), train, val, ds.class_names, mean, std)
    t.run()
    assert t.snapshots[-1].val_acc >= 0.9 and train.x.shape[1] == 1  # grey digits through a grey first conv


def _lrs(schedule, epochs=6, **kw):
    t = tiny_trainer(schedule=schedule, epochs=epochs, lr=0.1, optimizer="sgd", **kw)
    t.run()
    return [s.lr for s in t.snapshots[1:]], t


def test_constant_schedule():
    lrs, t = _lrs("none")
    assert lrs == [0.1] * 6 and set(t.batch_lrs) == {0.1}


def test_step_lr_drops_tenfold_every_third_of_the_run():
    lrs, _ = _lrs("step")
    assert lrs == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001, 0.001])


def test_cosine_follows_the_closed_form_per_epoch():
    lrs, _ = _lrs("cosine")
    eta_min = 0.001
    expected = [eta_min + (0.1 - eta_min) * (1 + math.cos(math.pi * e / 6)) / 2 for e in range(6)]
    assert lrs == pytest.approx(expected)


def test_onecycle_warms_up_then_anneals_per_batch():
    _, t = _lrs("onecycle")
    lrs = t.batch_lrs
    peak = max(range(len(lrs)), key=lrs.__getitem__)
    assert len(lrs) == 6 * 4  # 60 images, batch 16
    # Documented defaults: start at max_lr / 25, peak after 30% of the steps, end at start / 1e4.
    assert lrs[0] == pytest.approx(0.1 / 25) and max(lrs) == pytest.approx(0.1, rel=0.02)
    assert 0.2 < peak / len(lrs) < 0.4 and lrs[-1] == pytest.approx(0.1 / 25 / 1e4)


def test_plateau_halves_after_two_epochs_without_improvement():
    # An LR of 1e-7 barely moves the weights, so the validation loss plateaus at once.
    # (SimpleCNN has no batch norm, whose running statistics would still move.)
    t = tiny_trainer(arch="simplecnn", schedule="plateau", epochs=6, lr=1e-7, optimizer="sgd")
    t.run()
    lrs = [s.lr for s in t.snapshots[1:]]
    assert lrs == pytest.approx([1e-7, 1e-7, 1e-7, 1e-7, 5e-8, 5e-8])


def test_early_stopping_triggers_on_a_plateau():
    t = tiny_trainer(arch="simplecnn", epochs=20, lr=1e-7, optimizer="sgd", patience=3)
    assert t.run() == "early-stopped"
    assert t.pos.epoch == 4 and t.best_epoch == 1
    assert "has not improved for 3 epochs" in t.message


def test_diverging_lr_stops_with_a_message_and_keeps_the_curves():
    t = tiny_trainer(arch="simplecnn", epochs=5, lr=10.0, optimizer="sgd")
    assert t.run() == "diverged"
    assert "diverged" in t.message and "learning rate" in t.message
    assert len(t.snapshots) >= 1 and all(math.isfinite(v) for v in t.batch_losses)


def test_stop_and_resume_continue_exactly():
    whole = tiny_trainer(epochs=3, flip=True, crop_padding=2, jitter=0.2)
    whole.run()
    paused = tiny_trainer(epochs=3, flip=True, crop_padding=2, jitter=0.2)
    assert paused.run(lambda: paused.batches_done == 6) == "stopped"
    assert paused.batches_done == 6 and "Resume continues" in paused.message
    assert paused.run() == "finished"
    assert paused.batch_losses == whole.batch_losses
    for a, b in zip(paused.model.state_dict().values(), whole.model.state_dict().values()):
        assert torch.equal(a, b)


def test_batch_size_larger_than_the_data_means_one_batch_per_epoch():
    t = tiny_trainer(batch_size=512, epochs=2)
    t.run()
    assert t.batch_size == 60 and t.batches_per_epoch == 1 and len(t.batch_losses) == 2


def test_snapshots_hold_filters_confusion_and_mistakes():
    t = tiny_trainer(epochs=2)
    t.run()
    assert [s.epoch for s in t.snapshots] == [0, 1, 2]
    first, last = t.snapshots[0], t.snapshots[-1]
    assert not torch.equal(first.filters, last.filters)  # the filters evolved
    assert last.confusion.sum() == 30 and last.confusion.shape == (3, 3)
    assert last.val_acc == pytest.approx(last.confusion.trace() / 30)
    assert last.sample_probs.shape == (8, 3)
    for i, pred, prob in last.worst:
        assert pred != int(t.val.y[i]) and 0 < prob <= 1
    assert [p for _, _, p in last.worst] == sorted((p for _, _, p in last.worst), reverse=True)


def test_bad_config_is_refused():
    with pytest.raises(CNNLabError, match="learning rate"):
        tiny_trainer(lr=float("nan"))
    with pytest.raises(CNNLabError, match="Unknown optimizer"):
        tiny_trainer(optimizer="lion")


def test_split_is_stratified_seeded_and_normalisable():
    ds = make_shapes(200, seed=3)
    train, val, mean, std, notes = split_dataset(ds, size=32, val_fraction=0.25, limit=None, seed=4)
    again = split_dataset(ds, size=32, val_fraction=0.25, limit=None, seed=4)
    assert len(train) == 150 and len(val) == 50 and notes == []
    assert torch.bincount(val.y).tolist() == [10] * 5
    assert torch.equal(train.x, again[0].x) and train.x.shape[1:] == (3, 32, 32)
    assert float(train.x.min()) >= 0 and float(train.x.max()) <= 1
    assert torch.allclose(((train.x - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)).mean((0, 2, 3)),
                          torch.zeros(3), atol=1e-4)


def test_split_needs_images_for_both_sides():
    with pytest.raises(CNNLabError, match="cannot make both"):
        split_dataset(make_shapes(1, seed=0), size=32, val_fraction=0.2, limit=None, seed=0)


# ---------------------------------------------------------------- checkpoints
def test_checkpoint_reloads_to_identical_outputs():
    t = tiny_trainer(epochs=2, dropout=0.3)
    t.run()
    ckpt = checkpoints.load_checkpoint(checkpoints.checkpoint_bytes(t, "tiny"))
    x = t.normalise(t.val.x)
    with torch.no_grad():
        assert torch.equal(ckpt.model(x), t.model.eval()(x))
    assert ckpt.config == t.cfg and ckpt.class_names == ("a", "b", "c") and ckpt.input_size == 32
    assert ckpt.history["val_acc"] == [s.val_acc for s in t.snapshots]
    assert checkpoints.accuracy_on(ckpt, t.val) == pytest.approx(t.snapshots[-1].val_acc)


class Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


@pytest.mark.parametrize("make,message", [
    (lambda: b"garbage bytes", "it is not a PyTorch file"),
    (lambda: _saved(Payload()), "it asks to run code, which is refused"),
    (lambda: _saved({"weights": torch.zeros(3)}), "not a CNN Lab training checkpoint"),
    (lambda: _saved({"format": checkpoints.FORMAT, "config": {"arch": "vgg"}}), "incomplete or does not match"),
])
def test_bad_checkpoints_are_refused(make, message, capsys):
    with pytest.raises(CNNLabError, match="Accepted: a .pt checkpoint") as err:
        checkpoints.load_checkpoint(make())
    assert message in str(err.value)
    assert "never run" not in capsys.readouterr().out


def test_checkpoint_for_another_architecture_is_refused():
    t = tiny_trainer(epochs=1)
    blob = torch.load(__import__("io").BytesIO(checkpoints.checkpoint_bytes(t, "x")), weights_only=True)
    blob["config"]["width"] = 8  # the weights no longer fit the architecture it describes
    with pytest.raises(CNNLabError, match="does not match its architecture"):
        checkpoints.load_checkpoint(_saved(blob))


def _saved(obj) -> bytes:
    import io

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


# ---------------------------------------------------------------- background runs and loggers
def test_stop_ends_the_thread_promptly(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_RUNS_DIR", str(tmp_path))
    run = runs.TrainingRun("long", tiny_trainer(epochs=10_000), "tiny")
    run.start()
    while not run.trainer.batch_losses:
        time.sleep(0.01)
    run.stop()
    assert run.join(timeout=30)  # a wait (the machine may be busy): 10,000 epochs would take hours
    assert run.trainer.status == "stopped" and run.trainer.pos.epoch < 10_000
    run.start()  # resume
    while run.trainer.status != "running":
        time.sleep(0.01)
    run.stop()
    assert run.join(timeout=30)


def test_a_closed_session_ends_its_thread(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_RUNS_DIR", str(tmp_path))
    connected = threading.Event()
    connected.set()
    run = runs.TrainingRun("orphan", tiny_trainer(epochs=10_000), "tiny", keep_going=connected.is_set)
    run.start()
    while not run.trainer.batch_losses:
        time.sleep(0.01)
    connected.clear()  # the browser tab closed
    assert run.join(timeout=30) and run.trainer.status == "stopped"


def test_runs_beyond_the_slot_limit_wait_their_turn(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_RUNS_DIR", str(tmp_path))
    monkeypatch.setattr(executor(), "_slots", 1)
    first = runs.TrainingRun("first", tiny_trainer(epochs=10_000), "tiny", tensorboard=False)
    second = runs.TrainingRun("second", tiny_trainer(epochs=1), "tiny", tensorboard=False)
    first.start()
    second.start()
    time.sleep(0.5)
    assert second.queued and not second.trainer.batch_losses
    first.stop()
    assert second.join(timeout=120) and second.trainer.status == "finished"


def test_tensorboard_logs_are_written(tmp_path, monkeypatch):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.setenv("CNNLAB_RUNS_DIR", str(tmp_path))
    run = runs.TrainingRun("tb", tiny_trainer(epochs=5), "tiny")
    run.start()
    assert run.join(timeout=300)
    assert run.log_dir.parent == tmp_path
    events = EventAccumulator(str(run.log_dir), size_guidance={"images": 0}).Reload()  # 0 = keep every event
    batch = events.Scalars("batch/loss")  # 20 batches, logged as the mean of each 10
    assert [e.step for e in batch] == [10, 20]
    assert batch[0].value == pytest.approx(sum(run.trainer.batch_losses[:10]) / 10, rel=1e-6)
    assert len(events.Scalars("lr")) == 5
    assert len(events.Images("first_layer_filters")) == 5


def test_wandb_logger_logs_each_epoch(monkeypatch):
    import sys
    import types

    logged, finished = [], []
    fake_run = types.SimpleNamespace(log=lambda d, step: logged.append((step, d)), finish=lambda: finished.append(1))
    monkeypatch.setitem(sys.modules, "wandb", types.SimpleNamespace(init=lambda **kw: fake_run))
    t = tiny_trainer(epochs=2)
    t.observers.append(runs.WandbLogger(t, "run"))
    t.run()
    assert [s for s, _ in logged] == [1, 2] and set(logged[0][1]) == {"train/loss", "train/acc", "val/loss",
                                                                       "val/acc", "lr"}
    assert finished == [1]
