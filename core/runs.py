"""Training runs on the executor (core.executor), shared by the sessions that start the same run.

A training job owns a ``Trainer`` (its own model, never a shared cached one). The executor trains
it on a thread here, or ships a copy to a Ray worker and mirrors its progress back into the local
Trainer (batch losses, positions, every epoch's snapshot, then the final state), so the page and
the loggers read the same object either way. Runs with the same key (settings, data, seed, code)
are one job: every session that starts it gets a ``TrainingRun``, its own view, and watches the
same curves. Stop is checked between batches; it detaches this view, and stops the job when no
other session watches it (a closed tab detaches by itself). A stopped run resumes exactly.
"""
from __future__ import annotations

import copy
import functools
import importlib.util
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Callable

from core import estimates
from core.executor import Spec, Viewer, executor, job_key
from core.training import EpochSnapshot, Observer, ProgressObserver, Trainer
from core.viz import filter_grid


def runs_root() -> Path:
    """Where TensorBoard logs go: $CNNLAB_RUNS_DIR or ~/.cache/cnnlab/runs."""
    return Path(os.environ.get("CNNLAB_RUNS_DIR", Path.home() / ".cache" / "cnnlab" / "runs"))


class TensorBoardLogger(Observer):
    """Batch loss (mean of every BATCHES batches), per-epoch metrics and LR, and the first-layer
    filters as an image per epoch."""

    BATCHES = 10  # one event per batch cost ~10% of a small net's training speed

    def __init__(self, log_dir: Path):
        from torch.utils.tensorboard import SummaryWriter

        self.log_dir = log_dir
        self.writer = SummaryWriter(str(log_dir))

    def on_batch(self, trainer: Trainer) -> None:
        n = len(trainer.batch_losses)
        if n % self.BATCHES == 0:
            self.writer.add_scalar("batch/loss", sum(trainer.batch_losses[-self.BATCHES:]) / self.BATCHES, n)

    def on_epoch(self, trainer: Trainer, snap: EpochSnapshot) -> None:
        e = snap.epoch
        self.writer.add_scalars("loss", {"train": snap.train_loss, "val": snap.val_loss}, e)
        self.writer.add_scalars("accuracy", {"train": snap.train_acc, "val": snap.val_acc}, e)
        self.writer.add_scalar("lr", snap.lr, e)
        self.writer.add_image("first_layer_filters", filter_grid(snap.filters), e, dataformats="HWC")

    def on_end(self, trainer: Trainer) -> None:
        self.writer.flush()


def wandb_ready() -> bool:
    """wandb is optional: used only when installed and configured (an API key, or offline mode)."""
    return importlib.util.find_spec("wandb") is not None and bool(
        os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_MODE") in ("offline", "dryrun"))


class WandbLogger(Observer):
    def __init__(self, trainer: Trainer, name: str, **init):
        """``init``: more wandb.init arguments (e.g. mode="offline", dir=...)."""
        import wandb

        self.run = wandb.init(project=os.environ.get("WANDB_PROJECT", "cnn-lab"), name=name,
                              config=asdict(trainer.cfg), reinit="create_new", **init)

    def on_epoch(self, trainer: Trainer, snap: EpochSnapshot) -> None:
        self.run.log({"train/loss": snap.train_loss, "train/acc": snap.train_acc, "val/loss": snap.val_loss,
                      "val/acc": snap.val_acc, "lr": snap.lr}, step=snap.epoch)

    def on_end(self, trainer: Trainer) -> None:
        if trainer.done:
            self.run.finish()


class _Publisher(Observer):
    """On a Ray worker: sends what the local mirror lacks, every EVERY_S and at each epoch's end."""

    EVERY_S = 0.25

    def __init__(self, progress, trainer: Trainer):
        self.progress, self.last = progress, 0.0
        self.batches, self.snaps = len(trainer.batch_losses), len(trainer.snapshots)

    def on_batch(self, trainer: Trainer) -> None:
        if time.monotonic() - self.last >= self.EVERY_S:
            self.send(trainer)

    def on_epoch(self, trainer: Trainer, snap: EpochSnapshot) -> None:
        self.send(trainer)

    def send(self, t: Trainer) -> None:
        p = t.pos
        update = {"losses": t.batch_losses[self.batches:], "lrs": t.batch_lrs[self.batches:],
                  "snapshots": t.snapshots[self.snaps:], "pos": (p.epoch, p.batch), "status": t.status,
                  "elapsed": t.elapsed, "images": t.images_trained,
                  "group_lrs": [g["lr"] for g in t.optimizer.param_groups]}
        self.batches, self.snaps, self.last = len(t.batch_losses), len(t.snapshots), time.monotonic()
        self.progress(t.batches_done / t.total_batches, f"Epoch {p.epoch + 1}", update)


def _train_shipped(trainer: Trainer, progress, should_stop) -> Trainer:
    """A Ray task: train the shipped copy, publishing as it goes; the final state goes back."""
    trainer.observers = [_Publisher(progress, trainer)]
    trainer.run(should_stop)
    trainer.observers = []
    return trainer


class _Training:
    """The shared job: one Trainer, its loggers, and how to run or mirror it."""

    LOCAL_ONLY = ("observers", "_started", "_run_start")  # what the mirror keeps of its own

    def __init__(self, trainer: Trainer, name: str, tensorboard: bool, wandb: bool):
        self.trainer = trainer
        self.log_dir: Path | None = None
        self.log_error = ""
        if tensorboard:
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            try:
                logger = TensorBoardLogger(runs_root() / f"{stamp}-{trainer.cfg.arch}-{uuid.uuid4().hex[:8]}")
                trainer.observers.append(logger)
                self.log_dir = logger.log_dir
            except (ImportError, OSError) as err:  # not installed, or a read-only disk: train without logs
                self.log_error = f"TensorBoard logs are off: {err}"
        if wandb and wandb_ready():
            trainer.observers.append(WandbLogger(trainer, name))

    def work(self, progress, should_stop) -> bool:
        """In this process: train the Trainer itself. True once it has reached its end."""
        watch = ProgressObserver(progress)
        self.trainer.observers.append(watch)
        try:
            self.trainer.run(should_stop)
        finally:
            self.trainer.observers.remove(watch)
        return self.trainer.done

    def remote_work(self):
        shipped = copy.copy(self.trainer)  # the loggers stay here (they hold open files)
        shipped.observers = []
        return functools.partial(_train_shipped, shipped)

    def apply(self, update: dict) -> None:
        """Mirror a worker's progress into the local Trainer, with the loggers called as if here."""
        t = self.trainer
        for loss, lr in zip(update["losses"], update["lrs"]):
            t.batch_losses.append(loss)
            t.batch_lrs.append(lr)
            for obs in t.observers:
                obs.on_batch(t)
        for snap in update["snapshots"]:
            t.snapshots.append(snap)
            for obs in t.observers:
                obs.on_epoch(t, snap)
        t.pos.epoch, t.pos.batch = update["pos"]
        t.status, t.images_trained = update["status"], update["images"]
        t.train_seconds, t._run_start = update["elapsed"], time.perf_counter()
        for group, lr in zip(t.optimizer.param_groups, update["group_lrs"]):
            group["lr"] = lr

    def finish(self, result, error: str):
        t = self.trainer
        if isinstance(result, Trainer):  # back from a worker: take its final state
            t.__dict__.update({k: v for k, v in result.__dict__.items() if k not in self.LOCAL_ONLY})
            for obs in t.observers:
                obs.on_end(t)
            result = t.done
        if t.status == "running":  # the job failed or its worker was lost: keep what came back
            t.status = "stopped"
            t.message = "Training ended early; the curves up to here are kept."
        return result


class TrainingRun:
    """One session's view of a training job: start (or attach to the identical one), stop, resume.

    ``key``: what determines the run besides the Trainer's config (the data's identity, logging);
    runs with equal keys and configs are shared. Without a key the run is this session's alone.
    """

    def __init__(self, name: str, trainer: Trainer, dataset: str, key: Mapping | None = None,
                 keep_going: Callable[[], bool] = lambda: True, tensorboard: bool = True, wandb: bool = False):
        self.name, self.dataset, self.keep_going = name, dataset, keep_going
        self.settings = None if key is None else {"cfg": asdict(trainer.cfg), **key}
        self._trainer, self._logging = trainer, (tensorboard, wandb)
        self._own_id = uuid.uuid4().hex[:8]
        self.viewer: Viewer | None = None

    # ------------------------------------------------------------ the shared job's state
    @property
    def _job(self) -> _Training | None:
        return None if self.viewer is None else self.viewer.execution.spec.state

    @property
    def id(self) -> str:
        return self._own_id if self.viewer is None else self.viewer.execution.id

    @property
    def trainer(self) -> Trainer:
        return self._trainer if self._job is None else self._job.trainer

    @property
    def log_dir(self) -> Path | None:
        return None if self._job is None else self._job.log_dir

    @property
    def log_error(self) -> str:
        return "" if self._job is None else self._job.log_error

    @property
    def error(self) -> str:
        return "" if self.viewer is None else self.viewer.error

    @property
    def queued(self) -> bool:
        return self.viewer is not None and self.viewer.attached and self.viewer.state == "queued"

    @property
    def alive(self) -> bool:
        return self.viewer is not None and self.viewer.alive

    @property
    def detached(self) -> bool:
        """This session stopped watching while others keep the run going."""
        return self.viewer is not None and not self.viewer.attached and self.viewer.execution.alive

    @property
    def watchers(self) -> int:
        """Other sessions watching this run."""
        return 0 if self.viewer is None else self.viewer.others

    def same_job(self, other: "TrainingRun") -> bool:
        return self.viewer is not None and other.viewer is not None and self.viewer.execution is other.viewer.execution

    # ------------------------------------------------------------ control
    def start(self) -> None:
        """Start, attach to the identical run, watch again, or resume a stopped run."""
        ex = executor()
        if self.viewer is not None:
            if not self.alive and not self.trainer.done:
                ex.attach(self.viewer)
            return
        key = job_key("training", self.settings) if self.settings is not None else f"training:{self._own_id}"
        found = ex.find(key) if ex.sharing else None
        spec = found.spec if found is not None else self._spec(key)
        self.viewer = ex.submit(spec, self.keep_going)

    def _spec(self, key: str) -> Spec:
        job = _Training(self._trainer, self.name, *self._logging)
        return Spec("training", key, job.work, settings=self.settings or {}, resumable=True, state=job,
                    estimate=None if self.settings is None else estimates.alone("training", self.settings),
                    remote_work=job.remote_work, on_update=job.apply, finish=job.finish)

    def stop(self) -> None:
        if self.viewer is not None:
            self.viewer.stop()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the job; True when it has ended."""
        return self.viewer is None or self.viewer.join(timeout)
