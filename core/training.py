"""Supervised training of small CNNs, with no Streamlit in sight.

- ``fit``: the minimal seeded loop that ``scripts/train_assets.py`` uses for the shipped models.
- ``Trainer``: the Training Monitor's loop. Any optimizer/schedule/augmentation from a
  ``TrainConfig``, per-batch loss and LR, an ``EpochSnapshot`` per epoch (metrics, first-layer
  filters, confusion matrix, sample predictions) for the live view and the timeline, early
  stopping, NaN detection, and a stop check between batches so a run pauses and resumes exactly.
  Observers get callbacks (``on_batch``, ``on_epoch``, ``on_end``); the loop never calls UI code.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

from core.augment import Augment, apply
from core.data import ImageDataset
from core.errors import CNNLabError
from core.features import first_conv
from core.images import resize_to


def dataset_tensor(ds: ImageDataset, size: int, mean, std) -> torch.Tensor:
    """All images resized to size x size (OpenCV, area) and normalised, as float NCHW."""
    imgs = ds.images if ds.images.shape[1] == size else np.stack(
        [resize_to(im, (size, size)).reshape(size, size, -1) for im in ds.images])  # cv2 drops a lone channel
    x = torch.from_numpy(np.ascontiguousarray(imgs)).permute(0, 3, 1, 2).float().div_(255.0)
    return (x - torch.tensor(mean).view(1, -1, 1, 1)) / torch.tensor(std).view(1, -1, 1, 1)


@dataclass
class History:
    train_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 512) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            correct += int((model(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).sum())
    return correct / max(1, len(x))


class OneCycleAdam:
    """Adam with a one-cycle LR over `epochs` passes of `n` examples in shuffled mini-batches: the
    small seeded loops (``fit`` for the shipped shapes models, the lesion model, the live FCN)."""

    def __init__(self, params, n: int, *, epochs: int, lr: float, batch_size: int, gen: torch.Generator):
        self.opt = torch.optim.Adam(params, lr=lr)
        self.sched = torch.optim.lr_scheduler.OneCycleLR(self.opt, max_lr=lr, total_steps=epochs * -(-n // batch_size))
        self.n, self.batch_size, self.gen = n, batch_size, gen

    def batches(self) -> list[torch.Tensor]:
        """One epoch's mini-batch indices, in a fresh order drawn from the generator."""
        order = torch.randperm(self.n, generator=self.gen)
        return [order[i:i + self.batch_size] for i in range(0, self.n, self.batch_size)]

    def step(self, loss: torch.Tensor) -> float:
        """One update (gradients cleared, backpropagated, optimizer and LR stepped); the loss as a float."""
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        self.sched.step()
        return float(loss.detach())


def fit(
    model: nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    *,
    epochs: int,
    lr: float = 3e-3,
    batch_size: int = 64,
    seed: int = 0,
    flip: bool = True,
    augment: Augment | None = None,
    on_epoch: Callable[[int, float, float], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> History:
    """Adam + one-cycle LR + cross-entropy; random flips when ``flip``, then ``augment`` (for inputs
    in [0, 1]). Deterministic for a seed. ``should_stop`` ends training after the current epoch."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    x, y = train
    loop = OneCycleAdam(model.parameters(), len(x), epochs=epochs, lr=lr, batch_size=batch_size, gen=gen)
    loss_fn = nn.CrossEntropyLoss()
    hist = History()
    for epoch in range(epochs):
        model.train()
        total = 0.0
        for idx in loop.batches():
            xb, yb = x[idx], y[idx]
            if flip:
                flips = torch.rand(len(xb), generator=gen) < 0.5
                xb = torch.where(flips.view(-1, 1, 1, 1), xb.flip(3), xb)
            if augment is not None:
                xb = apply(xb, augment, gen)
            total += loop.step(loss_fn(model(xb), yb)) * len(idx)
        hist.train_loss.append(total / len(x))
        hist.val_acc.append(accuracy(model, *val))
        if on_epoch:
            on_epoch(epoch, hist.train_loss[-1], hist.val_acc[-1])
        if should_stop():
            break
    model.eval()
    return hist


def localisation_loss(maps: torch.Tensor, cells: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """For every class present, minus the log of the share of its spatial softmax that falls on cells
    holding that class: the peak of its map is pulled onto the object. maps (N, C, h, w) logits,
    cells (N, C, h, w) bool, targets (N, C) 0/1."""
    logp = maps.flatten(2).log_softmax(-1)
    on = logp.masked_fill(~cells.flatten(2), float("-inf")).logsumexp(-1)
    present = (targets > 0) & cells.flatten(2).any(-1)
    return -on[present].mean() if present.any() else maps.sum() * 0


def fit_multilabel(model: nn.Module, x: torch.Tensor, targets: torch.Tensor, *, epochs: int, lr: float,
                   batch_size: int = 64, seed: int = 0, labels: torch.Tensor | None = None,
                   point_weight: float = 0.0, on_epoch: Callable[[int, float], None] | None = None) -> list[float]:
    """Adam + one-cycle LR + binary cross-entropy per class (multi-hot targets), random horizontal
    flips; deterministic for a seed. Returns the mean training loss per epoch.

    With per-pixel ``labels`` (N, H, W; class or -1) and ``point_weight`` > 0, a model with
    ``class_maps`` (ShapesNet) also learns where each class is (localisation_loss on its class maps).
    Runs in channels-last memory order (about 1.4x faster convolutions on a CPU); the weights come
    back in the usual order."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model.to(memory_format=torch.channels_last)
    x = x.contiguous(memory_format=torch.channels_last)
    n_classes = targets.shape[1]
    loop = OneCycleAdam(model.parameters(), len(x), epochs=epochs, lr=lr, batch_size=batch_size, gen=gen)
    losses = []
    for epoch in range(epochs):
        model.train()
        total = 0.0
        for idx in loop.batches():
            xb = x[idx]
            flips = torch.rand(len(xb), generator=gen) < 0.5
            xb = torch.where(flips.view(-1, 1, 1, 1), xb.flip(3), xb)
            if point_weight > 0:
                lb = labels[idx].long()
                lb = torch.where(flips.view(-1, 1, 1), lb.flip(2), lb)
                maps = model.class_maps(xb)
                onehot = (lb[:, None] == torch.arange(n_classes).view(1, -1, 1, 1)).float()
                cells = nn.functional.adaptive_max_pool2d(onehot, maps.shape[-2:]) > 0
                loss = (nn.functional.binary_cross_entropy_with_logits(maps.mean((2, 3)), targets[idx])
                        + point_weight * localisation_loss(maps, cells, targets[idx]))
            else:
                loss = nn.functional.binary_cross_entropy_with_logits(model(xb), targets[idx])
            total += loop.step(loss) * len(idx)
        losses.append(total / len(x))
        if on_epoch:
            on_epoch(epoch, losses[-1])
    model.to(memory_format=torch.contiguous_format).eval()
    return losses


# ---------------------------------------------------------------- the Training Monitor's loop
OPTIMIZERS = {"sgd": "SGD + momentum 0.9", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop"}
SCHEDULES = {
    "none": "constant",
    "step": "StepLR: x0.1 every third of the epochs",
    "cosine": "CosineAnnealingLR: cosine down to 1% over the run (per epoch)",
    "plateau": "ReduceLROnPlateau: halve after 2 epochs without a lower validation loss",
    "onecycle": "OneCycleLR: warm up to the LR, then anneal (per batch)",
}


EXPLODE = 100  # x ln(classes): the batch loss treated as divergence


@dataclass(frozen=True)
class TrainConfig:
    arch: str = "simplecnn"
    width: int = 16
    depth: int = 2
    dropout: float = 0.0
    optimizer: str = "adam"
    lr: float = 3e-3
    weight_decay: float = 0.0
    batch_size: int = 64
    schedule: str = "none"
    epochs: int = 10
    patience: int = 0  # early stopping: epochs without a lower validation loss; 0 = off
    crop_padding: int = 0
    flip: bool = False
    jitter: float = 0.0
    seed: int = 0

    def augment(self) -> Augment:
        return Augment(self.crop_padding, self.flip, self.jitter)

    def validate(self) -> None:
        """Raise CNNLabError for settings the loop cannot run (the UI's widgets already bound most)."""
        if self.optimizer not in OPTIMIZERS:
            raise CNNLabError(f"Unknown optimizer {self.optimizer!r}; choose from {', '.join(OPTIMIZERS)}.")
        if self.schedule not in SCHEDULES:
            raise CNNLabError(f"Unknown LR schedule {self.schedule!r}; choose from {', '.join(SCHEDULES)}.")
        if not (0 < self.lr <= 10 and math.isfinite(self.lr)):
            raise CNNLabError(f"The learning rate must be above 0 and at most 10 (got {self.lr}).")
        if not 0 <= self.dropout < 1:
            raise CNNLabError(f"Dropout must be in [0, 1) (got {self.dropout}).")
        if self.epochs < 1 or self.batch_size < 1:
            raise CNNLabError("Epochs and batch size must be at least 1.")


def make_optimizer(params, cfg: TrainConfig) -> torch.optim.Optimizer:
    """``params`` may be parameters or param groups (transfer learning's per-group LRs)."""
    kind, lr, wd = cfg.optimizer, cfg.lr, cfg.weight_decay
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=wd)
    if kind == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if kind == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    return torch.optim.RMSprop(params, lr=lr, weight_decay=wd)


def make_scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig, batches_per_epoch: int):
    """The LR scheduler for cfg.schedule, or None. See SCHEDULES for when each one steps."""
    if cfg.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, cfg.epochs // 3), gamma=0.1)
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs, eta_min=cfg.lr * 0.01)
    if cfg.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=2)
    if cfg.schedule == "onecycle":
        # Each param group peaks at its own LR, so discriminative LRs keep their ratio.
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[g["lr"] for g in opt.param_groups],
                                                   total_steps=cfg.epochs * batches_per_epoch)
    return None


@dataclass
class EpochSnapshot:
    """The model as it was after an epoch (epoch 0 = before training), for the live view and timeline."""

    epoch: int
    train_loss: float  # NaN for epoch 0
    train_acc: float
    val_loss: float
    val_acc: float
    lr: float
    seconds: float  # wall time since the run started
    filters: torch.Tensor  # first conv layer's weights
    confusion: np.ndarray  # (C, C) counts, rows = true class
    sample_probs: np.ndarray  # (S, C) softmax on the fixed sample images
    worst: list[tuple[int, int, float]]  # (val index, predicted class, its probability), most confident mistakes


@dataclass
class Split:
    """Images in [0, 1] at the model's input size, and labels."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)


class Stop(Exception):
    """Raised inside the loop when the stop check says so; the position is kept for resuming."""


@dataclass
class _Position:
    epoch: int = 0  # epochs completed
    batch: int = 0  # batches completed in the current epoch
    order: torch.Tensor | None = None
    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0


class Observer:
    """Callbacks from the training loop (no-ops here); loggers and the live view override them."""

    def on_batch(self, trainer: "Trainer") -> None: ...

    def on_epoch(self, trainer: "Trainer", snapshot: EpochSnapshot) -> None: ...

    def on_end(self, trainer: "Trainer") -> None: ...


class ProgressObserver(Observer):
    """Reports the share of the run's batches done to ``progress(fraction, text)``: what a job's
    live ETA is computed from (core.executor)."""

    def __init__(self, progress: Callable[[float, str], None]):
        self.progress = progress

    def on_batch(self, trainer: "Trainer") -> None:
        self.progress(trainer.batches_done / trainer.total_batches, f"Epoch {trainer.pos.epoch + 1}")


class Trainer:
    """One training run. ``run(should_stop)`` trains until done or stopped and may be called again
    to resume; observers get ``on_batch(trainer)``, ``on_epoch(trainer, snapshot)``, ``on_end(trainer)``."""

    SAMPLES = 8  # fixed validation images whose predictions the timeline shows

    def __init__(self, cfg: TrainConfig, model: nn.Module, train: Split, val: Split, class_names: tuple[str, ...],
                 mean: torch.Tensor, std: torch.Tensor, observers: tuple = (), params=None):
        """``params``: what the optimizer updates (parameters or param groups with their own LRs);
        default every parameter that requires grad. Inputs may be images (N, C, H, W) or feature
        vectors (N, D), e.g. a frozen backbone's cached embeddings."""
        cfg.validate()
        if len(train) == 0 or len(val) == 0:
            raise CNNLabError("Both the training and the validation split need at least one image.")
        self.cfg, self.model, self.train, self.val, self.class_names = cfg, model, train, val, class_names
        shape = (1, -1) + (1,) * (train.x.dim() - 2)
        self.mean, self.std = mean.view(shape), std.view(shape)
        self.observers = list(observers)
        self.batch_size = min(cfg.batch_size, len(train))
        self.batches_per_epoch = -(-len(train) // self.batch_size)
        self.total_batches = cfg.epochs * self.batches_per_epoch
        self.gen = torch.Generator().manual_seed(cfg.seed)
        self.optimizer = make_optimizer([p for p in model.parameters() if p.requires_grad] if params is None
                                        else params, cfg)
        self.scheduler = make_scheduler(self.optimizer, cfg, self.batches_per_epoch)
        self.loss_fn = nn.CrossEntropyLoss()
        # A loss this far above chance's ln(C) (or NaN) means the steps overshoot: stop rather than
        # let the weights blow up and the ReLUs die. Huge finite losses are the usual sign, not NaN.
        self.explode_at = EXPLODE * math.log(max(2, len(class_names)))
        self.batch_losses: list[float] = []
        self.batch_lrs: list[float] = []
        self.snapshots: list[EpochSnapshot] = []
        self.pos = _Position()
        self.status = "ready"  # ready, running, stopped, finished, early-stopped, diverged
        self.message = ""
        self.best_val_loss, self.best_epoch = math.inf, 0
        self.train_seconds = 0.0  # wall time inside run(), all monitoring included
        self.images_trained = 0
        self.sample_index = torch.linspace(0, len(val) - 1, min(self.SAMPLES, len(val))).round().long()
        self._started = self._run_start = time.perf_counter()
        self.snapshots.append(self._snapshot(0, math.nan, math.nan))

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    @property
    def done(self) -> bool:
        return self.status in ("finished", "early-stopped", "diverged")

    @property
    def batches_done(self) -> int:
        return self.pos.epoch * self.batches_per_epoch + self.pos.batch

    @property
    def elapsed(self) -> float:
        """Seconds spent training so far (all monitoring included), live while running."""
        running = time.perf_counter() - self._run_start if self.status == "running" else 0.0
        return self.train_seconds + running

    @property
    def images_per_second(self) -> float:
        elapsed = self.elapsed
        return self.images_trained / elapsed if elapsed else 0.0

    def eta_seconds(self) -> float:
        done = self.batches_done
        return (self.total_batches - done) * self.elapsed / done if done else math.nan

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def evaluate(self, split: Split, should_stop: Callable[[], bool] = lambda: False,
                 batch_size: int = 256) -> tuple[float, torch.Tensor]:
        """Mean cross-entropy and softmax probabilities (N, C) over a split, in eval mode."""
        was_training = self.model.training
        self.model.eval()
        total, probs = 0.0, []
        try:
            with torch.no_grad():
                for i in range(0, len(split), batch_size):
                    if should_stop():
                        raise Stop
                    logits = self.model(self.normalise(split.x[i:i + batch_size]))
                    total += float(self.loss_fn(logits, split.y[i:i + batch_size])) * len(logits)
                    probs.append(logits.softmax(1))
        finally:
            self.model.train(was_training)
        return total / len(split), torch.cat(probs)

    def _snapshot(self, epoch: int, train_loss: float, train_acc: float,
                  should_stop: Callable[[], bool] = lambda: False) -> EpochSnapshot:
        val_loss, probs = self.evaluate(self.val, should_stop)
        pred = probs.argmax(1)
        n = len(self.class_names)
        confusion = np.bincount((self.val.y * n + pred).numpy(), minlength=n * n).reshape(n, n)
        wrong = (pred != self.val.y).nonzero().flatten()
        conf = probs[wrong, pred[wrong]]
        worst = [(int(wrong[i]), int(pred[wrong[i]]), float(conf[i])) for i in conf.argsort(descending=True)[:8]]
        return EpochSnapshot(
            epoch, train_loss, train_acc, val_loss, float((pred == self.val.y).float().mean()),
            self.lr, time.perf_counter() - self._started, self._filters(), confusion, probs[self.sample_index].numpy(),
            worst)

    def _filters(self) -> torch.Tensor:
        """The first conv layer's weights; empty for a conv-free model (a head on cached features)."""
        try:
            return first_conv(self.model).weight.detach().clone()
        except ValueError:
            return torch.empty(0)

    def run(self, should_stop: Callable[[], bool] = lambda: False) -> str:
        """Train from the current position until the plan ends, early stopping, NaN, or should_stop()."""
        if self.done:
            return self.status
        self._run_start = time.perf_counter()
        self.status, self.message = "running", ""
        self.model.train()
        try:
            while self.pos.epoch < self.cfg.epochs and self.status == "running":
                self._epoch(should_stop)
        except Stop:
            self.status = "stopped"
            self.message = (f"Stopped in epoch {self.pos.epoch + 1} after batch {self.pos.batch} of "
                            f"{self.batches_per_epoch}. Resume continues from there.")
        finally:
            now = time.perf_counter()
            self.train_seconds += now - self._run_start
            self._run_start = now  # so `elapsed` never counts this stretch twice
            self.model.eval()
        if self.status == "running":
            self.status = "finished"
            self.message = f"Finished all {self.cfg.epochs} epochs."
        for obs in self.observers:
            obs.on_end(self)
        return self.status

    def _epoch(self, should_stop: Callable[[], bool]) -> None:
        pos, x, y = self.pos, self.train.x, self.train.y
        if pos.order is None:
            pos.order = torch.randperm(len(x), generator=self.gen)
        aug = self.cfg.augment()
        while pos.batch < self.batches_per_epoch:
            if should_stop():
                raise Stop
            idx = pos.order[pos.batch * self.batch_size:(pos.batch + 1) * self.batch_size]
            xb = x[idx]
            if aug.active and xb.dim() == 4:
                xb = apply(xb, aug, self.gen)
            logits = self.model(self.normalise(xb))
            loss = self.loss_fn(logits, y[idx])
            value = float(loss.detach())
            if not math.isfinite(value) or value > self.explode_at:
                self.status = "diverged"
                self.message = (f"The loss reached {value:.4g} at epoch {pos.epoch + 1}, batch {pos.batch + 1} (a "
                                f"guess at random scores {math.log(len(self.class_names)):.2f}): the training "
                                f"diverged. Try a learning rate 3-10x lower (now {self.lr:g}). The curves up to "
                                "here are kept.")
                return
            self.batch_lrs.append(self.lr)  # the LR this batch's step uses
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            if self.cfg.schedule == "onecycle":
                self.scheduler.step()
            self.batch_losses.append(value)
            pos.loss_sum += value * len(idx)
            pos.correct += int((logits.argmax(1) == y[idx]).sum())
            pos.seen += len(idx)
            pos.batch += 1
            self.images_trained += len(idx)
            for obs in self.observers:
                obs.on_batch(self)
        self._end_epoch(should_stop)

    def _end_epoch(self, should_stop: Callable[[], bool]) -> None:
        """Evaluate (interruptible: a resume redoes it), then move to the next epoch."""
        pos = self.pos
        snap = self._snapshot(pos.epoch + 1, pos.loss_sum / pos.seen, pos.correct / pos.seen, should_stop)
        snap.lr = self.batch_lrs[-1]  # the LR this epoch trained with, before the epoch-level step
        pos.epoch += 1
        self.snapshots.append(snap)
        pos.batch, pos.order, pos.loss_sum, pos.correct, pos.seen = 0, None, 0.0, 0, 0
        if self.cfg.schedule == "plateau":
            self.scheduler.step(snap.val_loss)
        elif self.scheduler is not None and self.cfg.schedule != "onecycle":
            self.scheduler.step()
        if snap.val_loss < self.best_val_loss - 1e-4:
            self.best_val_loss, self.best_epoch = snap.val_loss, pos.epoch
        elif self.cfg.patience and pos.epoch - self.best_epoch >= self.cfg.patience:
            self.status = "early-stopped"
            self.message = (f"Early stopping after epoch {pos.epoch}: the validation loss has not improved for "
                            f"{self.cfg.patience} epochs (best {self.best_val_loss:.3f} at epoch {self.best_epoch}).")
        for obs in self.observers:
            obs.on_epoch(self, snap)


def _subset(ds: ImageDataset, limit: int | None, seed: int) -> np.ndarray:
    """The indices of the (at most ``limit``) images a split with this seed draws from, in its order."""
    return np.random.default_rng(seed).permutation(len(ds))[:limit]


def _resized(ds: ImageDataset, idx: np.ndarray, size: int) -> torch.Tensor:
    """Those images at size x size, float NCHW in [0, 1] (not normalised)."""
    picked = ImageDataset(ds.images[idx], ds.labels[idx], ds.class_names, ds.name)
    return dataset_tensor(picked, size, (0.0,) * ds.images.shape[3], (1.0,) * ds.images.shape[3])


def _split_plan(ds: ImageDataset, val_fraction: float, limit: int | None, seed: int):
    """The images a split uses, its validation count, the labels to stratify by (None: a random split)
    and notes for the user; raises CNNLabError when the images cannot make both splits."""
    notes: list[str] = []
    idx = _subset(ds, limit, seed)
    labels = ds.labels[idx]
    n_val = max(1, round(len(idx) * val_fraction))
    if len(idx) - n_val < 1:
        raise CNNLabError(f"{len(idx)} images cannot make both a training and a validation split; use more images.")
    counts = np.bincount(labels, minlength=len(ds.class_names))
    stratify = labels if counts[counts > 0].min() >= 2 and n_val >= (counts > 0).sum() else None
    if stratify is None:
        notes.append("Some classes have too few images for a stratified split, so the split is purely random.")
    return idx, n_val, stratify, notes


def split_counts(ds: ImageDataset, *, val_fraction: float, limit: int | None, seed: int) -> tuple[int, int, list[str]]:
    """(training images, validation images, notes) of the split ``split_dataset`` would make, without
    making it: a page can describe the run before anyone starts it and the resized copy exists."""
    idx, n_val, _, notes = _split_plan(ds, val_fraction, limit, seed)
    return len(idx) - n_val, n_val, notes


def sample_images(ds: ImageDataset, n: int, *, size: int, limit: int | None, seed: int) -> torch.Tensor:
    """The first n images of the subset a split with this seed and limit draws from, as split_dataset
    resizes them (float NCHW in [0, 1]): enough for a preview, without making the split."""
    return _resized(ds, _subset(ds, limit, seed)[:n], size)


def split_dataset(ds: ImageDataset, *, size: int, val_fraction: float, limit: int | None,
                  seed: int) -> tuple[Split, Split, torch.Tensor, torch.Tensor, list[str]]:
    """A seeded (stratified where possible) train/validation split at size x size, in [0, 1], with the
    training split's per-channel mean and std for normalisation; and notes for the user."""
    from sklearn.model_selection import train_test_split

    idx, n_val, stratify, notes = _split_plan(ds, val_fraction, limit, seed)
    tr, va = train_test_split(idx, test_size=n_val, random_state=seed, stratify=stratify)
    x = _resized(ds, np.concatenate([tr, va]), size)
    train = Split(x[:len(tr)], torch.from_numpy(ds.labels[tr]))
    val = Split(x[len(tr):], torch.from_numpy(ds.labels[va]))
    mean = train.x.mean((0, 2, 3))
    std = train.x.std((0, 2, 3)).clamp_min(1e-3)
    return train, val, mean, std, notes
