"""Shortcut learning made measurable: a background colour that predicts the class in training.

Each image holds one shape (circle, square, triangle, star, cross) in a grey tone on a coloured
background. Every class owns a background hue; with probability ``correlation`` an image gets its
class's hue, otherwise a hue drawn uniformly from all five. At 100% the colour alone gives the
answer and is far easier to learn than the outline, so a CNN learns the colour. A test set drawn
with correlation 0 (the colour is unrelated to the class) shows what the model really learned, and
Grad-CAM shows where it looks. Turning the hue at random during training (``Augment(hue=0.5)``)
makes the colour useless, which is the fix.

All hues share one luma (a circle in the YIQ chroma plane), so after a hue turn nothing but the
shape tells the classes apart; the shape's grey tone is drawn independently of the class.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from core.augment import YIQ_TO_RGB, Augment
from core.data import SHAPE_CLASSES, ImageDataset, shape_mask
from core.explain import cam
from core.architectures import SimpleCNN
from core.models import LoadedModel, from_trained
from core.training import accuracy, fit

SIZE = 32
LUMA, CHROMA = 0.5, 0.2  # every background hue: same brightness, same colourfulness
HUE_NOISE = 0.02  # turns of random hue wobble per image, so a class colour is a band, not one value
EXAMPLES = 6  # broken-test images shown with their Grad-CAM


def class_hues(n: int = len(SHAPE_CLASSES)) -> np.ndarray:
    """Each class's background hue, in turns, evenly spaced round the colour circle."""
    return np.arange(n) / n


def hue_rgb(turns: np.ndarray) -> np.ndarray:
    """RGB in [0, 1] (N, 3) of the background colour at each hue: luma LUMA, chroma CHROMA."""
    angle = 2 * np.pi * np.asarray(turns, dtype=np.float64)
    yiq = np.stack([np.full_like(angle, LUMA), CHROMA * np.cos(angle), CHROMA * np.sin(angle)], 1)
    return np.clip(yiq @ YIQ_TO_RGB.double().numpy().T, 0, 1)


def make_biased_shapes(n: int, correlation: float, *, seed: int = 0, size: int = SIZE) -> ImageDataset:
    """n balanced shape images whose background hue equals the class's hue with probability
    ``correlation`` (else any of the five hues), plus object masks. Deterministic by seed."""
    if not 0.0 <= correlation <= 1.0:
        raise ValueError("correlation must be in [0, 1]")
    rng = np.random.default_rng(seed)
    k = len(SHAPE_CLASSES)
    labels = np.arange(n) % k
    rng.shuffle(labels)
    matched = rng.random(n) < correlation
    hue_class = np.where(matched, labels, rng.integers(0, k, n))
    turns = class_hues(k)[hue_class] + rng.uniform(-HUE_NOISE, HUE_NOISE, n)
    backgrounds = hue_rgb(turns)
    images = np.empty((n, size, size, 3), np.uint8)
    masks = np.empty((n, size, size), bool)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for i, label in enumerate(labels):
        mask = shape_mask(SHAPE_CLASSES[label], size, rng)
        # A soft brightness wave over the background, so it is not a flat field.
        fx, fy, phase = rng.uniform(-1.5, 1.5), rng.uniform(-1.5, 1.5), rng.uniform(0, 2 * np.pi)
        wave = 0.06 * np.sin(2 * np.pi * (xx * fx + yy * fy) + phase)
        img = backgrounds[i] + wave[..., None]
        tone = rng.uniform(0.0, 0.18) if rng.random() < 0.5 else rng.uniform(0.82, 1.0)
        img[mask] = tone
        img = img + rng.normal(0, 0.03, img.shape)
        images[i] = np.clip(img * 255, 0, 255).astype(np.uint8)
        masks[i] = mask
    return ImageDataset(images, labels.astype(np.int64), SHAPE_CLASSES, f"Shapes, colour cue {correlation:.0%}", masks)


@dataclass
class ShortcutResult:
    correlation: float
    hue_augment: bool
    matched_acc: float  # test drawn with the training correlation
    broken_acc: float  # test with the colour unrelated to the class
    colour_only_acc: float  # accuracy if the model answered with the background's class alone, on the broken test
    cam_on_shape: float  # mean share of Grad-CAM mass inside the shape, broken test
    shape_area: float  # mean share of the image the shape covers (the share a blind CAM would get)
    seconds: float
    examples: ImageDataset = field(repr=False)  # the first broken-test images
    cams: list[np.ndarray] = field(repr=False)  # their Grad-CAM maps (true class)
    predictions: np.ndarray = field(repr=False)  # the model's answers for them


@dataclass(frozen=True)
class Budget:
    """Images and epochs per model: the default takes about 10 s per model on 2 CPU cores."""

    n_train: int = 5000
    n_test: int = 1000
    epochs: int = 10


def train_shortcut_model(correlation: float, hue_augment: bool, *, budget: Budget = Budget(), seed: int = 0,
                         should_stop: Callable[[], bool] = lambda: False,
                         progress: Callable[[float, str], None] = lambda f, t: None) -> ShortcutResult:
    """Train SimpleCNN on shapes with the colour cue at ``correlation`` (hue turned at random in
    training when ``hue_augment``) and measure it on a matched and a broken test set."""
    start = time.perf_counter()
    train = make_biased_shapes(budget.n_train, correlation, seed=seed)
    matched = make_biased_shapes(budget.n_test, correlation, seed=seed + 1)
    broken = make_biased_shapes(budget.n_test, 0.0, seed=seed + 2)
    torch.manual_seed(seed)
    model = SimpleCNN(len(SHAPE_CLASSES))
    x, y = train.tensors()  # in [0, 1], not normalised, so hue turns act on the real colours
    xm, ym = matched.tensors()
    fit(model, (x, y), (xm[:200], ym[:200]), epochs=budget.epochs, lr=3e-3, seed=seed, flip=True,
        augment=Augment(hue=0.5) if hue_augment else None, should_stop=should_stop,
        on_epoch=lambda e, *_: progress((e + 1) / budget.epochs, f"epoch {e + 1} of {budget.epochs}"))
    xb, yb = broken.tensors()
    loaded = from_trained(f"shortcut-{correlation:.2f}-{int(hue_augment)}-{seed}",
                          f"SimpleCNN, colour cue {correlation:.0%}{', hue augmentation' if hue_augment else ''}",
                          model, SIZE, (0.0,) * 3, (1.0,) * 3, SHAPE_CLASSES, "trained in the bias lab")
    share, area, cams = cam_share(loaded, broken, limit=100)
    k = EXAMPLES
    with torch.no_grad():
        predictions = model(xb[:k]).argmax(1).numpy()
    examples = ImageDataset(broken.images[:k], broken.labels[:k], broken.class_names, broken.name, broken.masks[:k])
    return ShortcutResult(correlation, hue_augment, accuracy(model, xm, ym), accuracy(model, xb, yb),
                          colour_only_accuracy(broken), share, area, time.perf_counter() - start, examples,
                          cams[:k], predictions)


def background_class(ds: ImageDataset) -> np.ndarray:
    """Which class's hue each image's background is nearest to (what a colour-only model would answer)."""
    bg = np.stack([img[~m].reshape(-1, 3).mean(0) for img, m in zip(ds.images, ds.masks)]) / 255
    palette = hue_rgb(class_hues())
    return np.argmin(((bg[:, None] - palette[None]) ** 2).sum(-1), 1)


def colour_only_accuracy(ds: ImageDataset) -> float:
    """Accuracy of answering with the background colour's class: chance (1/5) when the cue is broken."""
    return float((background_class(ds) == ds.labels).mean())


def cam_share(loaded: LoadedModel, ds: ImageDataset, limit: int = 100) -> tuple[float, float, list[np.ndarray]]:
    """Mean share of the Grad-CAM map (true class, last conv) that falls on the shape, the mean share
    of the image the shape covers, and the maps, over the first ``limit`` images."""
    x, _ = ds.tensors()
    shares, areas, maps = [], [], []
    for i in range(min(limit, len(ds))):
        heat = cam(loaded, x[i:i + 1], "Grad-CAM", loaded.spec.target_layer, int(ds.labels[i]))
        total = heat.sum()
        shares.append(float(heat[ds.masks[i]].sum() / total) if total > 0 else 0.0)
        areas.append(float(ds.masks[i].mean()))
        maps.append(heat)
    return float(np.mean(shares)), float(np.mean(areas)), maps


def run_lab(correlation: float, *, seed: int = 0, budget: Budget = Budget(),
            progress: Callable[[float, str], None] = lambda f, t: None,
            should_stop: Callable[[], bool] = lambda: False) -> tuple[ShortcutResult, ShortcutResult] | None:
    """One full bias-lab run: the same data and budget trained plainly and with random hue turns.
    None when stopped part-way."""
    progress(0.0, f"Training on shapes with a {correlation:.0%} colour cue...")
    plain = train_shortcut_model(correlation, False, budget=budget, seed=seed, should_stop=should_stop,
                                 progress=lambda f, t: progress(f / 2, f"Colour cue {correlation:.0%}: {t}"))
    if should_stop():
        return None
    progress(0.5, "Training again with random hue turns (the fix)...")
    fixed = train_shortcut_model(correlation, True, budget=budget, seed=seed, should_stop=should_stop,
                                 progress=lambda f, t: progress(0.5 + f / 2, f"With random hue turns: {t}"))
    return None if should_stop() else (plain, fixed)


SWEEP = (0.0, 0.5, 0.8, 0.95, 1.0)


def sweep(*, seed: int = 0, budget: Budget = Budget(),
          progress: Callable[[float, str], None] = lambda f, t: None,
          should_stop: Callable[[], bool] = lambda: False) -> list[ShortcutResult]:
    """Plain training at every correlation in SWEEP: accuracy on the broken test against the
    strength of the cue."""
    out = []
    for i, c in enumerate(SWEEP):
        if should_stop():
            break
        progress(i / len(SWEEP), f"Colour cue {c:.0%}: training...")
        out.append(train_shortcut_model(c, False, budget=budget, seed=seed, should_stop=should_stop,
                                        progress=lambda f, t: progress((i + f) / len(SWEEP), f"Colour cue {c:.0%}: {t}")))
    return out
