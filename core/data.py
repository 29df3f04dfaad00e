"""Offline datasets: synthetic shapes with object masks, scikit-learn digits, and torchvision
datasets when a local copy exists (or may be downloaded).

Every dataset comes back as an ``ImageDataset`` of uint8 NHWC arrays, so pages and training
code treat them alike.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from core.errors import CNNLabError

SHAPE_CLASSES = ("circle", "square", "triangle", "star", "cross")
# Drawable but not in the default set: later pages use them as "new" classes for transfer learning.
EXTRA_SHAPES = ("hexagon", "heart", "arrow")


@dataclass
class ImageDataset:
    images: np.ndarray  # (N, H, W, C) uint8, C in {1, 3}
    labels: np.ndarray  # (N,) int64
    class_names: tuple[str, ...]
    name: str
    masks: np.ndarray | None = None  # (N, H, W) bool object masks, where the data has them

    def __len__(self) -> int:
        return len(self.labels)

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Float NCHW images in [0, 1] and int64 labels."""
        x = torch.from_numpy(self.images).permute(0, 3, 1, 2).float().div_(255.0)
        return x, torch.from_numpy(self.labels)


# ---------------------------------------------------------------- synthetic shapes
def _polygon(kind: str, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    """Vertices of a shape of 'radius' r centred at (cx, cy), rotated by angle (radians)."""
    if kind == "square":
        t = np.arange(4) * np.pi / 2 + np.pi / 4
        pts = np.stack([np.cos(t), np.sin(t)], 1) * r
    elif kind == "triangle":
        t = np.arange(3) * 2 * np.pi / 3 - np.pi / 2
        pts = np.stack([np.cos(t), np.sin(t)], 1) * r
    elif kind == "hexagon":
        t = np.arange(6) * np.pi / 3
        pts = np.stack([np.cos(t), np.sin(t)], 1) * r
    elif kind == "star":
        t = np.arange(10) * np.pi / 5 - np.pi / 2
        radii = np.where(np.arange(10) % 2 == 0, r, r * 0.42)
        pts = np.stack([np.cos(t) * radii, np.sin(t) * radii], 1)
    elif kind == "cross":
        a, b = r, r * 0.34
        pts = np.array([(-b, -a), (b, -a), (b, -b), (a, -b), (a, b), (b, b),
                        (b, a), (-b, a), (-b, b), (-a, b), (-a, -b), (-b, -b)], float)
    elif kind == "heart":
        t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        x = 16 * np.sin(t) ** 3
        y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
        pts = np.stack([x, y], 1) * (r / 17.0)
    elif kind == "arrow":
        pts = np.array([(-r, -0.25 * r), (0.2 * r, -0.25 * r), (0.2 * r, -0.6 * r), (r, 0),
                        (0.2 * r, 0.6 * r), (0.2 * r, 0.25 * r), (-r, 0.25 * r)], float)
    else:
        raise ValueError(f"unknown shape {kind!r}")
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return pts @ rot.T + (cx, cy)


def textured_background(size: int, rng: np.random.Generator) -> np.ndarray:
    """A textured background: a colour plus smooth blotches or stripes, float32 0-255."""
    base = rng.uniform(30, 225, 3)
    bg = np.broadcast_to(base, (size, size, 3)).astype(np.float32).copy()
    style = rng.integers(3)
    if style == 0:  # smooth blotches
        noise = rng.normal(0, 1, (size // 8 + 1, size // 8 + 1, 3)).astype(np.float32)
        bg += cv2.resize(noise, (size, size), interpolation=cv2.INTER_CUBIC) * rng.uniform(8, 25)
    elif style == 1:  # stripes at a random angle
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
        theta, period = rng.uniform(0, np.pi), rng.uniform(6, 16)
        wave = np.sin((xx * np.cos(theta) + yy * np.sin(theta)) * 2 * np.pi / period)
        bg += wave[..., None] * rng.uniform(6, 18)
    return bg


def shape_mask_at(kind: str, shape: tuple[int, int], cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    """A bool (H, W) mask of one shape of 'radius' r centred at (cx, cy), rotated by angle (radians;
    circles ignore it). Drawn at 16x sub-pixel precision so small shapes keep their outline."""
    mask_u8 = np.zeros(shape, np.uint8)
    if kind == "circle":
        cv2.circle(mask_u8, (int(cx * 16), int(cy * 16)), int(r * 0.9 * 16), 1, -1, cv2.LINE_8, shift=4)
    else:
        pts = np.round(_polygon(kind, cx, cy, r, angle) * 16).astype(np.int32)
        cv2.fillPoly(mask_u8, [pts], 1, cv2.LINE_8, shift=4)
    return mask_u8.astype(bool)


def shape_mask(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """A bool mask of one shape of the given kind at a random place, size and angle."""
    r = rng.uniform(0.2, 0.36) * size
    margin = r * 1.05
    cx, cy = rng.uniform(margin, size - margin, 2)
    angle = 0.0 if kind == "circle" else rng.uniform(0, 2 * np.pi)
    return shape_mask_at(kind, (size, size), cx, cy, r, angle)


def paint_shape(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator, contrast: float,
                reference: np.ndarray | None = None) -> None:
    """Fill the mask on a float32 RGB image in place with a colour at least ``contrast`` (RGB
    distance) away from ``reference`` (default: the mean colour around the shape), plus a little
    noise, so the shape is always visible."""
    if reference is None:
        ys, xs = np.nonzero(mask)
        pad = max(2, int(np.ptp(ys) + np.ptp(xs)) // 4)
        around = image[max(0, ys.min() - pad):ys.max() + pad + 1, max(0, xs.min() - pad):xs.max() + pad + 1]
        reference = around.reshape(-1, 3).mean(0)
    for _ in range(20):
        fg = rng.uniform(0, 255, 3)
        if np.linalg.norm(fg - reference) > contrast:
            break
    else:
        fg = 255.0 - reference
    image[mask] = fg + rng.normal(0, 6, (int(mask.sum()), 3))


def draw_shape(kind: str, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One RGB uint8 image with one random shape on a textured background, and its bool mask."""
    img = textured_background(size, rng)
    mask = shape_mask(kind, size, rng)
    paint_shape(img, mask, rng, 120, reference=img.reshape(-1, 3).mean(0))
    img += rng.normal(0, rng.uniform(2, 10), img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), mask


def make_shapes(
    n: int, *, size: int = 64, seed: int = 0, classes: tuple[str, ...] = SHAPE_CLASSES, keep_masks: bool = True
) -> ImageDataset:
    """n shape images with balanced classes (label = index in classes), deterministic by seed; with
    each shape's mask unless ``keep_masks`` is False (training needs none)."""
    unknown = set(classes) - set(SHAPE_CLASSES + EXTRA_SHAPES)
    if unknown:
        raise CNNLabError(f"Unknown shape classes {sorted(unknown)}; choose from {SHAPE_CLASSES + EXTRA_SHAPES}.")
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % len(classes)
    rng.shuffle(labels)
    images = np.empty((n, size, size, 3), np.uint8)
    masks = np.empty((n, size, size), bool) if keep_masks else None
    for i, label in enumerate(labels):
        images[i], mask = draw_shape(classes[label], size, rng)
        if masks is not None:
            masks[i] = mask
    return ImageDataset(images, labels.astype(np.int64), tuple(classes), "Synthetic shapes", masks)


TEXTURE_CLASSES = ("stripes", "checkerboard", "dots", "blotches")


def _texture(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """One texture as a float32 pattern of 0s and 1s, before colouring."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    theta, period = rng.uniform(0, np.pi), rng.uniform(5, 14)
    u = xx * np.cos(theta) + yy * np.sin(theta)
    v = -xx * np.sin(theta) + yy * np.cos(theta)
    if kind == "stripes":
        return (np.sin(u * 2 * np.pi / period) > 0).astype(np.float32)
    if kind == "checkerboard":
        return ((np.floor(u / period) + np.floor(v / period)) % 2).astype(np.float32)
    if kind == "dots":
        cu, cv = (u % period) - period / 2, (v % period) - period / 2
        return (cu ** 2 + cv ** 2 < (period * rng.uniform(0.2, 0.35)) ** 2).astype(np.float32)
    noise = rng.normal(0, 1, (size // 6 + 2, size // 6 + 2)).astype(np.float32)
    return (cv2.resize(noise, (size, size), interpolation=cv2.INTER_CUBIC) > 0).astype(np.float32)


def make_textures(n: int, *, size: int = 64, seed: int = 0) -> ImageDataset:
    """n two-colour texture images (stripes, checkerboard, dots, blotches) at random angle, scale and
    colours, balanced, deterministic by seed: a task unlike the shapes the shipped models saw."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % len(TEXTURE_CLASSES)
    rng.shuffle(labels)
    images = np.empty((n, size, size, 3), np.uint8)
    for i, label in enumerate(labels):
        pattern = _texture(TEXTURE_CLASSES[label], size, rng)[..., None]
        a, b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        img = a * pattern + b * (1 - pattern) + rng.normal(0, 8, (size, size, 3))
        images[i] = np.clip(img, 0, 255).astype(np.uint8)
    return ImageDataset(images, labels.astype(np.int64), TEXTURE_CLASSES, "Synthetic textures")


# ---------------------------------------------------------------- scikit-learn digits
def load_digits(size: int = 32) -> ImageDataset:
    """scikit-learn's 1,797 8x8 digits (shipped in the wheel), upscaled to size x size grey."""
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    small = (bunch.images / 16.0 * 255.0).astype(np.float32)
    big = np.stack([cv2.resize(im, (size, size), interpolation=cv2.INTER_CUBIC) for im in small])
    images = np.clip(big, 0, 255).astype(np.uint8)[..., None]
    return ImageDataset(images, bunch.target.astype(np.int64), tuple(str(d) for d in range(10)), "Digits (scikit-learn)")


# ---------------------------------------------------------------- torchvision datasets
TORCHVISION_DATASETS = {
    "MNIST": ("MNIST", tuple(str(d) for d in range(10))),
    "FashionMNIST": ("FashionMNIST", ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")),
    "CIFAR-10": ("CIFAR10", ("airplane", "automobile", "bird", "cat", "deer",
                             "dog", "frog", "horse", "ship", "truck")),
}


def data_root() -> Path:
    """Where torchvision datasets are looked for: $CNNLAB_DATA_DIR or ~/.cache/cnnlab/data."""
    return Path(os.environ.get("CNNLAB_DATA_DIR", Path.home() / ".cache" / "cnnlab" / "data"))


def downloads_allowed() -> bool:
    """Downloads are on unless CNNLAB_OFFLINE=1 (tests and CI set it; nothing may download there)."""
    return os.environ.get("CNNLAB_OFFLINE", "0") != "1"


def named_dataset(name: str, limit: int) -> ImageDataset:
    """A built-in training dataset by its menu name: synthetic shapes drawn to ``limit`` images,
    digits whole (a split takes the subset), a torchvision dataset's first ``limit`` images."""
    if name == "Synthetic shapes":
        return make_shapes(limit, seed=2026, keep_masks=False)
    if name == "Digits (scikit-learn)":
        return load_digits()
    return load_torchvision_dataset(name, limit=limit)


def load_torchvision_dataset(name: str, *, train: bool = True, limit: int | None = None) -> ImageDataset:
    """A torchvision dataset as an ImageDataset, from the local copy or a download.

    Raises CNNLabError with a notice saying what is missing when neither is possible.
    """
    import torchvision.datasets as tvd

    if name not in TORCHVISION_DATASETS:
        raise CNNLabError(f"Unknown dataset {name!r}; choose from {list(TORCHVISION_DATASETS)}.")
    cls_name, classes = TORCHVISION_DATASETS[name]
    cls = getattr(tvd, cls_name)
    root = data_root()
    try:
        ds = cls(str(root), train=train, download=False)
    except RuntimeError:
        if not downloads_allowed():
            raise CNNLabError(
                f"{name} is not stored under {root} and downloads are off here (CNNLAB_OFFLINE=1). "
                "The offline datasets (synthetic shapes, digits) are available."
            ) from None
        try:
            ds = cls(str(root), train=train, download=True)
        except Exception as exc:  # network errors come in many types (URLError, timeout, HTTP)
            raise CNNLabError(
                f"{name} could not be downloaded ({type(exc).__name__}). "
                "The offline datasets (synthetic shapes, digits) are available."
            ) from None
    data = ds.data if isinstance(ds.data, np.ndarray) else ds.data.numpy()
    targets = np.asarray(ds.targets, dtype=np.int64)
    if limit is not None:
        data, targets = data[:limit], targets[:limit]
    if data.ndim == 3:
        data = data[..., None]
    return ImageDataset(np.ascontiguousarray(data, dtype=np.uint8), targets, classes, name)

