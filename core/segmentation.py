"""Dense prediction (course section 8): a small fully convolutional encoder-decoder that labels
every pixel of the synthetic shapes, with or without U-Net skip connections."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.data import SHAPE_CLASSES, ImageDataset, make_shapes
from core.training import OneCycleAdam

TASKS = {
    "object vs background": ("background", "shape"),
    "which shape, per pixel": ("background",) + SHAPE_CLASSES,
}


def label_maps(ds: ImageDataset, task: str) -> np.ndarray:
    """(N, H, W) int64: 0 for background; on the shape's pixels 1, or 1 + its class index."""
    value = 1 if len(TASKS[task]) == 2 else ds.labels[:, None, None] + 1
    return np.where(ds.masks, value, 0).astype(np.int64)


def _conv(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class TinyFCN(nn.Module):
    """Three conv + max-pool levels down (64 -> 8 px, so the deepest maps see a whole shape), then
    three 2x2 stride-2 transposed convs back up to the input size, and a 1x1 conv to class scores
    per pixel. No dense layer: any input whose sides are multiples of 8 works. ``skips``: concatenate
    each encoder level's maps into the decoder at the same size (U-Net style)."""

    def __init__(self, skips: bool = True, width: int = 16, num_classes: int = 2):
        super().__init__()
        w = width
        self.skips = skips
        widths = (w, 2 * w, 4 * w)
        self.down = nn.ModuleList([_conv(3, w), _conv(w, 2 * w), _conv(2 * w, 4 * w)])
        self.mid = _conv(4 * w, 4 * w)
        self.up = nn.ModuleList([nn.ConvTranspose2d(4 * w, 4 * w, 2, stride=2),
                                 nn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2),
                                 nn.ConvTranspose2d(2 * w, w, 2, stride=2)])
        self.dec = nn.ModuleList([_conv(c * (2 if skips else 1), c) for c in reversed(widths)])
        self.out = nn.Conv2d(w, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for down in self.down:
            x = down(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.mid(x)
        for up, dec, skip in zip(self.up, self.dec, reversed(skips)):
            x = up(x)
            x = dec(torch.cat([x, skip], 1) if self.skips else x)
        return self.out(x)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float (N, 3, H, W) in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)


def iou_per_class(pred: np.ndarray, truth: np.ndarray, n: int) -> np.ndarray:
    """Intersection over union of each class over all pixels given; NaN for a class in neither."""
    conf = np.bincount(truth.ravel() * n + pred.ravel(), minlength=n * n).reshape(n, n)
    inter = np.diag(conf).astype(float)
    union = conf.sum(0) + conf.sum(1) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / union, np.nan)


def predict(model: TinyFCN, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Per-pixel class labels (N, H, W) for uint8 images; sides must be multiples of 8."""
    model.eval()
    with torch.no_grad():
        return torch.cat([model(to_tensor(images[i:i + batch_size])).argmax(1)
                          for i in range(0, len(images), batch_size)]).numpy()


@dataclass
class SegResult:
    task: str
    skips: bool
    model: TinyFCN
    test: ImageDataset
    iou: np.ndarray  # per class, on the held-out images
    losses: list[float]
    seconds: float

    @property
    def mean_iou(self) -> float:
        return float(np.nanmean(self.iou))


def train_fcn(*, task: str = "object vs background", skips: bool = True, n_train: int = 1000, n_test: int = 200,
              epochs: int = 6, lr: float = 1e-2, batch_size: int = 32, seed: int = 0, should_stop=lambda: False,
              progress=lambda f, t: None) -> SegResult:
    """Train TinyFCN on synthetic shapes with per-pixel cross-entropy (Adam, one-cycle, flips);
    score per-class IoU on held-out shapes from a disjoint seed."""
    train = make_shapes(n_train, seed=seed + 500)
    test = make_shapes(n_test, seed=seed + 900)
    classes = TASKS[task]
    x, y = to_tensor(train.images), torch.from_numpy(label_maps(train, task))
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = TinyFCN(skips, num_classes=len(classes))
    loop = OneCycleAdam(model.parameters(), len(x), epochs=epochs, lr=lr, batch_size=batch_size, gen=gen)
    losses, start = [], time.perf_counter()
    for epoch in range(epochs):
        model.train()
        total = 0.0
        for idx in loop.batches():
            if should_stop():
                break
            xb, yb = x[idx], y[idx]
            flip = torch.rand(len(idx), generator=gen) < 0.5
            xb = torch.where(flip.view(-1, 1, 1, 1), xb.flip(3), xb)
            yb = torch.where(flip.view(-1, 1, 1), yb.flip(2), yb)
            total += loop.step(F.cross_entropy(model(xb), yb)) * len(idx)
        losses.append(total / len(x))
        progress((epoch + 1) / epochs, f"epoch {epoch + 1} of {epochs}: loss {losses[-1]:.3f}")
        if should_stop():
            break
    seconds = time.perf_counter() - start
    iou = iou_per_class(predict(model, test.images), label_maps(test, task), len(classes))
    return SegResult(task, skips, model.eval(), test, iou, losses, seconds)


PALETTE = np.array([[20, 20, 20], [230, 80, 60], [70, 160, 230], [250, 200, 60], [120, 200, 110], [190, 110, 220]],
                   np.uint8)


def mask_rgb(labels: np.ndarray) -> np.ndarray:
    """A label map (H, W) as an RGB picture: background dark, each class its own colour."""
    return PALETTE[np.clip(labels, 0, len(PALETTE) - 1)]


def compare_skips(task: str, progress, should_stop, **budget) -> dict[bool, SegResult]:
    """The same FCN trained with and without skip connections, on the same data and budget."""
    out = {}
    for i, skips in enumerate((True, False)):
        label = "with skips" if skips else "without skips"
        out[skips] = train_fcn(task=task, skips=skips, should_stop=should_stop,
                               progress=lambda f, t: progress((i + f) / 2, f"{label}: {t}"), **budget)
        if should_stop():
            break
    return out
