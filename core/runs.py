"""Training runs in background threads, one per session run, plus their loggers.

A ``TrainingRun`` owns a ``Trainer`` (and so a per-session model, never a shared cached one) and
trains it on a daemon thread. The page only reads its state. Stop is checked between batches, so
it takes effect within one batch; ``keep_going`` (the session is still connected) is checked at
the same points, so closing the tab ends the thread. A process-wide slot limit keeps a workshop's
worth of sessions from all training at once on two cores: extra runs wait their turn, queued.
"""
from __future__ import annotations

import importlib.util
import os
import threading
import time
import uuid
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Callable

from core.errors import CNNLabError
from core.training import EpochSnapshot, Observer, Trainer
from core.viz import filter_grid

MAX_CONCURRENT_RUNS = max(1, int(os.environ.get("CNNLAB_MAX_TRAINING_RUNS", "2")))
_slots = threading.BoundedSemaphore(MAX_CONCURRENT_RUNS)


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


class TrainingRun:
    """A Trainer on a background thread: start, stop (between batches), resume."""

    def __init__(self, name: str, trainer: Trainer, dataset: str, keep_going: Callable[[], bool] = lambda: True,
                 tensorboard: bool = True, wandb: bool = False):
        self.id = uuid.uuid4().hex[:8]
        self.name, self.trainer, self.dataset, self.keep_going = name, trainer, dataset, keep_going
        self.created = time.time()
        self.log_dir: Path | None = None
        self.log_error = ""
        if tensorboard:
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            try:
                logger = TensorBoardLogger(runs_root() / f"{stamp}-{trainer.cfg.arch}-{self.id}")
                trainer.observers.append(logger)
                self.log_dir = logger.log_dir
            except (ImportError, OSError) as err:  # not installed, or a read-only disk: train without logs
                self.log_error = f"TensorBoard logs are off: {err}"
        if wandb and wandb_ready():
            trainer.observers.append(WandbLogger(trainer, name))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.queued = False
        self.error = ""

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.alive or self.trainer.done:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._work, name=f"cnnlab-train-{self.id}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True when it has ended."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.alive

    def _should_stop(self) -> bool:
        return self._stop.is_set() or not self.keep_going()

    def _work(self) -> None:
        self.queued = True
        while not _slots.acquire(timeout=0.2):
            if self._should_stop():
                self.queued = False
                self.trainer.status, self.trainer.message = "stopped", "Stopped while waiting for a free slot."
                return
        self.queued = False
        try:
            self.trainer.run(self._should_stop)
        except Exception as err:  # a bug or out-of-memory must end this run with a message, not kill the app
            self.trainer.status = "stopped"
            self.error = f"Training failed: {type(err).__name__}: {err}"
        finally:
            _slots.release()


class Job:
    """Any long computation on a background thread, with progress, stop and a result.

    ``work(progress, should_stop)`` calls ``progress(fraction, text)`` as it goes and returns the
    result; it should check ``should_stop()`` between steps (see TrainingRun for why).
    """

    def __init__(self, work: Callable, keep_going: Callable[[], bool] = lambda: True):
        self.work, self.keep_going = work, keep_going
        self.fraction, self.text = 0.0, "Waiting for a free slot..."
        self.result = None
        self.error = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"cnnlab-job-{uuid.uuid4().hex[:8]}", daemon=True)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set() or not self.keep_going()

    def start(self) -> "Job":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self.alive

    def _progress(self, fraction: float, text: str) -> None:
        self.fraction, self.text = fraction, text

    def _run(self) -> None:
        while not _slots.acquire(timeout=0.2):
            if self.stopped:
                self.error = "Stopped while waiting for a free slot."
                return
        try:
            self.result = self.work(self._progress, lambda: self.stopped)
            self.fraction = 1.0
        except CNNLabError as err:
            self.error = str(err)
        except Exception as err:  # a bug or out-of-memory ends this job with a message, not the app
            self.error = f"The job failed: {type(err).__name__}: {err}"
        finally:
            _slots.release()
