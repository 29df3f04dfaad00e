"""Batch augmentation for training: random crop with padding, horizontal flip, colour jitter.

Works on whole float batches in [0, 1] with the run's own ``torch.Generator``. torchvision's
transforms draw from the process-wide RNG and apply one parameter set per call; in a server
where several sessions train at once that breaks a seeded run's reproducibility, and a Python
loop per image would cost more than the small nets' training step. So the same operations
(RandomCrop(padding, fill 0), RandomHorizontalFlip, ColorJitter's brightness/contrast/saturation
blends) are written batch-wise here, each image drawing its own parameters. Hue is turned as a
rotation of the chroma plane around the grey axis (YIQ), one 3x3 matrix per image, which keeps each
pixel's luma; ColorJitter's HSV round trip would need a per-image loop for the same effect.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Augment:
    crop_padding: int = 0  # 0 = off; pad by this many pixels, then crop back at a random offset
    flip: bool = False
    jitter: float = 0.0  # 0 = off; brightness/contrast/saturation factors drawn from [1-j, 1+j]
    hue: float = 0.0  # 0 = off; hue turned by an angle drawn from [-h, h] turns (0.5 = any hue)

    @property
    def active(self) -> bool:
        return bool(self.crop_padding or self.flip or self.jitter or self.hue)

    def describe(self) -> str:
        parts = ([f"random crop (padding {self.crop_padding})"] if self.crop_padding else []) + \
            (["horizontal flip"] if self.flip else []) + \
            ([f"colour jitter ±{self.jitter:.0%}"] if self.jitter else []) + \
            ([f"hue turned up to ±{self.hue * 360:.0f}°"] if self.hue else [])
        return ", ".join(parts) or "none"


def _grey(x: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma, as torchvision's rgb_to_grayscale, shape (N, 1, H, W)."""
    return x if x.shape[1] == 1 else (0.299 * x[:, :1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])


_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
YIQ_TO_RGB = torch.linalg.inv(_RGB_TO_YIQ)


def hue_rotation(turns: torch.Tensor) -> torch.Tensor:
    """(N, 3, 3) RGB matrices that turn the hue by ``turns`` (fractions of a full circle), luma kept."""
    angle = turns * 2 * torch.pi
    c, s = torch.cos(angle), torch.sin(angle)
    rot = torch.zeros(len(turns), 3, 3)
    rot[:, 0, 0] = 1
    rot[:, 1, 1], rot[:, 1, 2], rot[:, 2, 1], rot[:, 2, 2] = c, -s, s, c
    return YIQ_TO_RGB @ rot @ _RGB_TO_YIQ


def _factors(n: int, amount: float, gen: torch.Generator) -> torch.Tensor:
    return (1 - amount + 2 * amount * torch.rand(n, generator=gen)).view(n, 1, 1, 1)


def apply(x: torch.Tensor, aug: Augment, gen: torch.Generator) -> torch.Tensor:
    """An augmented copy of a (N, C, H, W) batch in [0, 1]; x itself is not modified."""
    n, _, h, w = x.shape
    if aug.crop_padding:
        p = aug.crop_padding
        padded = F.pad(x, (p, p, p, p))
        dy = torch.randint(0, 2 * p + 1, (n,), generator=gen)
        dx = torch.randint(0, 2 * p + 1, (n,), generator=gen)
        rows = (dy.view(n, 1) + torch.arange(h)).view(n, 1, h, 1).expand(n, x.shape[1], h, w + 2 * p)
        x = padded.gather(2, rows)
        cols = (dx.view(n, 1) + torch.arange(w)).view(n, 1, 1, w).expand(n, x.shape[1], h, w)
        x = x.gather(3, cols)
    if aug.flip:
        flips = (torch.rand(n, generator=gen) < 0.5).view(n, 1, 1, 1)
        x = torch.where(flips, x.flip(3), x)
    if aug.jitter:
        x = (x * _factors(n, aug.jitter, gen)).clamp(0, 1)  # brightness
        mean = _grey(x).mean((1, 2, 3), keepdim=True)
        x = ((x - mean) * _factors(n, aug.jitter, gen) + mean).clamp(0, 1)  # contrast
        if x.shape[1] == 3:
            grey = _grey(x)
            x = ((x - grey) * _factors(n, aug.jitter, gen) + grey).clamp(0, 1)  # saturation
    if aug.hue and x.shape[1] == 3:
        turns = (2 * torch.rand(n, generator=gen) - 1) * aug.hue
        x = torch.einsum("nij,njhw->nihw", hue_rotation(turns), x).clamp(0, 1)
    return x


def preview(x: torch.Tensor, aug: Augment, views: int, seed: int = 0) -> torch.Tensor:
    """views augmented copies of each image in x: (len(x), views, C, H, W); view 0 is the original."""
    gen = torch.Generator().manual_seed(seed)
    out = [x] + [apply(x, aug, gen) for _ in range(views - 1)]
    return torch.stack(out, 1)
