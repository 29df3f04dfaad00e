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
from core.scenes import BACKGROUND, Scene, draw_scene, make_scenes
from core.training import OneCycleAdam

TASKS = {
    "object vs background": ("background", "shape"),
    "which shape, per pixel": ("background",) + SHAPE_CLASSES,
}


SCENE_SIZES = (10, 40)  # px: the scenes' shapes span the single shapes' sizes and smaller ones


def label_maps(ds: ImageDataset, task: str) -> np.ndarray:
    """(N, H, W) int64: 0 for background; on the shape's pixels 1, or 1 + its class index."""
    value = 1 if len(TASKS[task]) == 2 else ds.labels[:, None, None] + 1
    return np.where(ds.masks, value, 0).astype(np.int64)


def scene_labels(scene: Scene, task: str) -> np.ndarray:
    """A scene's (H, W) int64 labels for a task: 0 background, 1 any shape or 1 + its class index."""
    if len(TASKS[task]) == 2:
        return (scene.labels != BACKGROUND).astype(np.int64)
    return (scene.labels + 1).astype(np.int64)


def training_data(n: int, seed: int, task: str) -> tuple[np.ndarray, np.ndarray]:
    """n images (half one big shape each, half scenes of 1-4 shapes of 10-40 px) and their label maps:
    objects at many scales, so the network does not learn one size only."""
    single = make_shapes(n // 2, seed=seed)
    scenes = make_scenes(n - n // 2, seed=seed + 1, count=(1, 4), sizes=SCENE_SIZES, natural=0.0)
    images = np.concatenate([single.images, np.stack([s.image for s in scenes])])
    labels = np.concatenate([label_maps(single, task), np.stack([scene_labels(s, task) for s in scenes])])
    return images, labels


def big_scene(seed: int, shape: tuple[int, int] = (128, 192)) -> Scene:
    """A larger canvas with more shapes at the trained sizes: the same network labels it whole."""
    return draw_scene(np.random.default_rng(seed), shape, count=(5, 8), sizes=SCENE_SIZES, natural=0.0, scale=1.0)


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
    test_images: np.ndarray  # (N, 64, 64, 3) uint8, held out
    test_labels: np.ndarray  # (N, 64, 64) their true label maps
    iou: np.ndarray  # per class, on the held-out images
    losses: list[float]
    seconds: float

    @property
    def mean_iou(self) -> float:
        return float(np.nanmean(self.iou))


def train_fcn(*, task: str = "object vs background", skips: bool = True, n_train: int = 1000, n_test: int = 200,
              epochs: int = 6, lr: float = 1e-2, batch_size: int = 32, seed: int = 0, should_stop=lambda: False,
              progress=lambda f, t: None) -> SegResult:
    """Train TinyFCN on single shapes and scenes (training_data) with per-pixel cross-entropy (Adam,
    one-cycle, flips); score per-class IoU on held-out images from a disjoint seed."""
    images, labels = training_data(n_train, seed + 500, task)
    test_images, test_labels = training_data(n_test, seed + 900, task)
    classes = TASKS[task]
    x, y = to_tensor(images), torch.from_numpy(labels)
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
    iou = iou_per_class(predict(model, test_images), test_labels, len(classes))
    return SegResult(task, skips, model.eval(), test_images, test_labels, iou, losses, seconds)


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
