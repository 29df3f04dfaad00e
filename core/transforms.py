"""The transforms lab: a torchvision.transforms.v2 pipeline built from settings, run step by step.

The settings are plain data, so the same ``TransformSettings`` gives the pipeline, every step's
output on a photo, a seeded grid of augmented samples and the ``v2.Compose([...])`` line to paste.
v2's random transforms draw from torch's global generator; a lock keeps this module's seeded runs
from interleaving with each other.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import torch

from core.errors import CNNLabError
from core.models import IMAGENET_MEAN, IMAGENET_STD

MAX_OUTPUT_PIXELS = 4_000_000  # a step's output (e.g. Resize of a 4000x3 strip) may not grow past this
_RNG_LOCK = threading.Lock()


@dataclass(frozen=True)
class TransformSettings:
    resize: int = 160  # shorter side; 0 = off
    crop: int = 0  # RandomCrop size; 0 = off
    resized_crop: int = 128  # RandomResizedCrop output size; 0 = off
    crop_scale: float = 0.5  # RandomResizedCrop's smallest area share
    hflip: float = 0.5
    vflip: float = 0.0
    jitter: float = 0.3  # brightness, contrast and saturation; 0 = off
    hue: float = 0.05
    rotation: float = 15.0  # degrees; 0 = off
    erasing: float = 0.5  # probability; 0 = off
    normalize: bool = True  # ImageNet mean and std
    seed: int = 0


def _steps(s: TransformSettings) -> list[tuple[str, str]]:
    """(step name, the v2 expression) in pipeline order, for the steps that are on."""
    steps = [("ToImage", "v2.ToImage()"), ("ToDtype", "v2.ToDtype(torch.float32, scale=True)")]
    if s.resize:
        steps.append(("Resize", f"v2.Resize({s.resize})"))
    if s.crop:
        steps.append(("RandomCrop", f"v2.RandomCrop({s.crop})"))
    if s.resized_crop:
        steps.append(("RandomResizedCrop", f"v2.RandomResizedCrop({s.resized_crop}, scale=({s.crop_scale:g}, 1.0))"))
    if s.hflip:
        steps.append(("RandomHorizontalFlip", f"v2.RandomHorizontalFlip(p={s.hflip:g})"))
    if s.vflip:
        steps.append(("RandomVerticalFlip", f"v2.RandomVerticalFlip(p={s.vflip:g})"))
    if s.jitter or s.hue:
        steps.append(("ColorJitter", f"v2.ColorJitter(brightness={s.jitter:g}, contrast={s.jitter:g}, "
                                     f"saturation={s.jitter:g}, hue={s.hue:g})"))
    if s.rotation:
        steps.append(("RandomRotation", f"v2.RandomRotation({s.rotation:g})"))
    if s.erasing:
        steps.append(("RandomErasing", f"v2.RandomErasing(p={s.erasing:g})"))
    if s.normalize:
        steps.append(("Normalize", f"v2.Normalize(mean={list(IMAGENET_MEAN)}, std={list(IMAGENET_STD)})"))
    return steps


def compose_line(s: TransformSettings) -> str:
    """The pipeline as the line you would write: v2.Compose([...])."""
    return "v2.Compose([\n" + "".join(f"    {expr},\n" for _, expr in _steps(s)) + "])"


def validate(s: TransformSettings) -> None:
    """Settings no pipeline can run with (the widgets bound most of them; links and tests may not)."""
    for name, value in (("Resize", s.resize), ("RandomCrop", s.crop), ("RandomResizedCrop", s.resized_crop)):
        if value < 0:
            raise CNNLabError(f"{name} needs a size of at least 1 pixel (0 switches it off); got {value}.")
    if not 0 < s.crop_scale <= 1:
        raise CNNLabError(f"RandomResizedCrop's smallest area share must be in (0, 1]; got {s.crop_scale:g}.")
    for name, p in (("horizontal flip", s.hflip), ("vertical flip", s.vflip), ("RandomErasing", s.erasing)):
        if not 0 <= p <= 1:
            raise CNNLabError(f"The {name} probability must be between 0 and 1; got {p:g}.")
    if not 0 <= s.hue <= 0.5 or s.jitter < 0:
        raise CNNLabError("ColorJitter's hue must be in [0, 0.5] and its strength at least 0.")


def _build(expr: str):
    from torchvision.transforms import v2

    return eval(expr, {"v2": v2, "torch": torch})  # our own expressions from _steps, never user text


def _run(image: np.ndarray, s: TransformSettings) -> list[tuple[str, str, torch.Tensor]]:
    """Apply the steps one by one: (name, expression, output tensor) each; CNNLabError naming the
    step that cannot run on this input."""
    validate(s)
    x = image
    out = []
    for name, expr in _steps(s):
        h, w = (x.shape[:2] if isinstance(x, np.ndarray) else x.shape[-2:])
        if name == "RandomCrop" and (s.crop > h or s.crop > w):
            raise CNNLabError(f"RandomCrop({s.crop}) needs an image at least {s.crop}x{s.crop}, but it gets "
                              f"{w}x{h} here. Choose a smaller crop, or a larger Resize before it.")
        if name == "Resize" and s.resize * s.resize * max(h, w) / max(1, min(h, w)) > MAX_OUTPUT_PIXELS:
            raise CNNLabError(f"Resize({s.resize}) scales the shorter side of this {w}x{h} image to {s.resize} px, "
                              f"which makes the longer side {round(s.resize * max(h, w) / max(1, min(h, w))):,} px: "
                              "too large. Crop the image first or use a smaller size.")
        try:
            x = _build(expr)(x)
        except (ValueError, RuntimeError, TypeError) as err:
            raise CNNLabError(f"{name} cannot run on a {w}x{h} input: {err}") from None
        out.append((name, expr, x))
    return out


def to_picture(x: torch.Tensor) -> np.ndarray:
    """A (3, H, W) float tensor as an RGB uint8 picture; values outside [0, 1] (after Normalize)
    are min-max scaled so the picture stays visible."""
    x = x.detach().float()
    if x.min() < 0 or x.max() > 1:
        x = (x - x.min()) / (x.max() - x.min()).clamp_min(1e-8)
    return np.ascontiguousarray(np.round(x.permute(1, 2, 0).numpy() * 255).astype(np.uint8))


def steps_on(image: np.ndarray, s: TransformSettings) -> list[tuple[str, str, np.ndarray, tuple[int, ...]]]:
    """Each step's output on one RGB uint8 photo, seeded: (name, expression, picture, tensor shape).
    The conversions (ToImage, ToDtype) are folded into the first visible step."""
    with _RNG_LOCK:
        torch.manual_seed(s.seed)
        results = _run(image, s)
    return [(name, expr, to_picture(x), tuple(x.shape)) for name, expr, x in results if name not in ("ToImage",)]


def samples(image: np.ndarray, s: TransformSettings, n: int = 12) -> list[np.ndarray]:
    """n outputs of the whole pipeline on the same photo, seeded: what a training loop would see."""
    from torchvision.transforms import v2

    _run(image, s)  # raises a CNNLabError with the failing step, before any sample is drawn
    pipeline = v2.Compose([_build(expr) for _, expr in _steps(s)])
    with _RNG_LOCK:
        torch.manual_seed(s.seed)
        return [to_picture(pipeline(image)) for _ in range(n)]


def working_photo(rgb: np.ndarray, max_side: int = 256) -> np.ndarray:
    """The photo with its long side capped: augmentations are about the picture, not its megapixels."""
    from core.images import resize_to

    h, w = rgb.shape[:2]
    if max(h, w) <= max_side:
        return rgb
    scale = max_side / max(h, w)
    return resize_to(rgb, (max(1, round(w * scale)), max(1, round(h * scale))))
