"""Minimal, seeded supervised training for the project's small CNNs (used by scripts/ and tests)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

from core.data import ImageDataset
from core.images import resize_to


def dataset_tensor(ds: ImageDataset, size: int, mean, std) -> torch.Tensor:
    """All images resized to size x size (OpenCV, area) and normalised, as float NCHW."""
    imgs = ds.images if ds.images.shape[1] == size else np.stack([resize_to(im, (size, size)) for im in ds.images])
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
    on_epoch: Callable[[int, float, float], None] | None = None,
) -> History:
    """Adam + one-cycle LR + cross-entropy; random flips when ``flip``. Deterministic for a seed."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    x, y = train
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * (-(-len(x) // batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    loss_fn = nn.CrossEntropyLoss()
    hist = History()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x), generator=gen)
        total = 0.0
        for i in range(0, len(x), batch_size):
            idx = order[i:i + batch_size]
            xb, yb = x[idx], y[idx]
            if flip:
                flips = torch.rand(len(xb), generator=gen) < 0.5
                xb = torch.where(flips.view(-1, 1, 1, 1), xb.flip(3), xb)
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        hist.train_loss.append(total / len(x))
        hist.val_acc.append(accuracy(model, *val))
        if on_epoch:
            on_epoch(epoch, hist.train_loss[-1], hist.val_acc[-1])
    model.eval()
    return hist
