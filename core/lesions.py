"""Synthetic lesions in a real brain template, and the small 3D CNN that detects them.

The template is nilearn's MNI152 T1 (shipped inside the nilearn wheel; read with nibabel, nilearn
itself is never imported). Each training volume is the template with a small random affine jitter,
intensity scaling and noise; positives also get a bright or dark blob inside the brain, whose mask
is the ground truth for the 3D pointing game.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from core.architectures import Lesion3DNet

GRID = 64  # the model's cube side, in voxels
CLASSES = ("healthy", "lesion")


def nilearn_file(name: str) -> Path:
    """A data file that ships inside the nilearn wheel, found without importing nilearn."""
    spec = importlib.util.find_spec("nilearn")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("nilearn is not installed")
    return Path(spec.submodule_search_locations[0]) / "datasets" / "data" / name


MNI_T1 = "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"


def to_grid(volume: np.ndarray, side: int = GRID) -> np.ndarray:
    """Resample a 3D volume to side^3 (trilinear) and scale its robust range to [0, 1]."""
    v = np.asarray(volume, dtype=np.float32)
    if not np.isfinite(v).all():  # the check is a fifth of nan_to_num's cost on a finite scan
        v = np.nan_to_num(v, nan=0.0, posinf=0.0, neginf=0.0)
    t = torch.from_numpy(np.ascontiguousarray(v))[None, None]
    out = F.interpolate(t, size=(side,) * 3, mode="trilinear", align_corners=False)[0, 0].numpy()
    hi = float(np.percentile(out, 99.5))
    lo = float(out.min())
    return np.clip((out - lo) / (hi - lo), 0, 1.5).astype(np.float32) if hi > lo else np.zeros_like(out)


@lru_cache(maxsize=1)
def template() -> tuple[np.ndarray, np.ndarray]:
    """The MNI152 T1 at the model grid, and its brain mask (where lesions may go)."""
    import nibabel as nib

    img = nib.as_closest_canonical(nib.load(str(nilearn_file(MNI_T1))))
    grid = to_grid(img.get_fdata(dtype=np.float32))
    brain = ndimage.binary_erosion(grid > 0.35, iterations=3)
    return grid, brain


@dataclass
class Sample:
    volume: np.ndarray  # (GRID,)*3 float32
    label: int  # 1 = lesion
    mask: np.ndarray  # lesion mask (all False for healthy)


def synth(rng: np.random.Generator, lesion: bool) -> Sample:
    """One training volume: jittered, rescaled, noisy template, with a lesion when asked."""
    base, brain = template()
    angle = np.deg2rad(rng.uniform(-6, 6, 3))
    rot = _rotation(*angle)
    shift = rng.uniform(-3, 3, 3)
    centre = np.array(base.shape) / 2
    offset = centre - rot @ centre + shift
    vol = ndimage.affine_transform(base, rot, offset=offset, order=1, mode="constant")
    inside = ndimage.affine_transform(brain.astype(np.float32), rot, offset=offset, order=0) > 0.5
    vol = vol * rng.uniform(0.85, 1.15) + rng.uniform(-0.05, 0.05)
    mask = np.zeros(vol.shape, bool)
    if lesion:
        contrast = rng.choice([-1, 1]) * rng.uniform(0.5, 0.9)
        # A dark lesion only shows against bright tissue (a dark blob in a ventricle is invisible,
        # even to a radiologist), so it is placed in white or grey matter.
        spots = np.argwhere(inside if contrast > 0 else inside & (vol > 0.55))
        center = tuple(int(c) for c in spots[rng.integers(len(spots))])
        radius = rng.uniform(3.0, 7.0)
        vol, mask = insert_lesion(vol, center, radius, contrast)
    vol = vol + rng.normal(0, rng.uniform(0.01, 0.04), vol.shape).astype(np.float32)
    return Sample(vol.astype(np.float32), int(lesion), mask)


def _rotation(a: float, b: float, c: float) -> np.ndarray:
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


def make_set(n: int, seed: int) -> list[Sample]:
    """n volumes, half with a lesion, deterministic by seed."""
    rng = np.random.default_rng(seed)
    return [synth(rng, lesion=i % 2 == 1) for i in range(n)]


CELL = 4  # voxels per evidence cell along each axis


def cell_cover(masks: torch.Tensor) -> torch.Tensor:
    """(N, 64, 64, 64) bool lesion masks -> (N, 16, 16, 16): the share of each cell inside the lesion.
    As the per-cell target it makes the best-covered cell score highest, so the evidence peak sits
    in the lesion's middle rather than on a cell that only grazes it."""
    return F.avg_pool3d(masks[:, None].float(), CELL)[:, 0]


def lesion_loss(model: Lesion3DNet, x: torch.Tensor, y: torch.Tensor, masks: torch.Tensor,
                cell_weight: float = 1.0) -> torch.Tensor:
    """Cross-entropy on the class plus a per-cell BCE on how much of each cell is lesion (lesion
    cells weighted up, as they are a few dozen of 4,096)."""
    evidence = model.evidence_map(x)
    s = evidence.amax((1, 2, 3))
    logits = torch.stack([-s, s], 1) / 2
    cells = F.binary_cross_entropy_with_logits(evidence, cell_cover(masks), pos_weight=torch.tensor(20.0))
    return F.cross_entropy(logits, y) + cell_weight * cells


def fit_lesion_net(model: Lesion3DNet, samples: list[Sample], *, epochs: int, lr: float, batch_size: int,
                   seed: int, on_epoch=None) -> list[float]:
    """Adam + one-cycle on lesion_loss, random left-right flips (the brain is roughly symmetric),
    deterministic for a seed. Returns the mean training loss per epoch."""
    from core.training import OneCycleAdam

    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    x = as_batch([s.volume for s in samples])
    y = torch.tensor([s.label for s in samples])
    masks = torch.from_numpy(np.stack([s.mask for s in samples]))
    loop = OneCycleAdam(model.parameters(), len(x), epochs=epochs, lr=lr, batch_size=batch_size, gen=gen)
    losses = []
    for epoch in range(epochs):
        model.train()
        total = 0.0
        for idx in loop.batches():
            xb, mb = x[idx], masks[idx]
            flips = (torch.rand(len(idx), generator=gen) < 0.5).view(-1, 1, 1, 1)
            xb = torch.where(flips.view(-1, 1, 1, 1, 1), xb.flip(2), xb)  # axis 0 of RAS = left-right
            mb = torch.where(flips, mb.flip(1), mb)
            total += loop.step(lesion_loss(model, xb, y[idx], mb)) * len(idx)
        losses.append(total / len(x))
        if on_epoch:
            on_epoch(epoch, losses[-1])
    model.eval()
    return losses


def as_batch(volumes: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(volumes)[:, None].astype(np.float32))


# ---------------------------------------------------------------- the model on any volume
def blob(shape: tuple[int, int, int], center: tuple[int, int, int], radius: float) -> tuple[tuple[slice, ...], np.ndarray, np.ndarray]:
    """A Gaussian blob computed only in a box around the centre (a full-size grid of a 1 mm brain
    would cost hundreds of MB). Returns (box slices, blob values, mask) for that box."""
    reach = int(np.ceil(radius * 2.5))
    box = tuple(slice(max(0, c - reach), min(n, c + reach + 1)) for c, n in zip(center, shape))
    grids = np.ogrid[box[0], box[1], box[2]]
    d2 = sum((g.astype(np.float32) - c) ** 2 for g, c in zip(grids, center))
    return box, np.exp(-d2 / (2 * (radius / 1.5) ** 2)).astype(np.float32), d2 <= radius ** 2


def insert_lesion(volume: np.ndarray, center: tuple[int, int, int], radius: float, contrast: float) -> tuple[np.ndarray, np.ndarray]:
    """A copy of a 3D volume with a blob added (contrast in the volume's own units), and its mask."""
    out = volume.astype(np.float32, copy=True)
    mask = np.zeros(volume.shape, bool)
    box, values, inside = blob(volume.shape, center, radius)
    out[box] += contrast * values
    mask[box] = inside
    return out, mask


def native_index(gijk: tuple[int, int, int], shape: tuple[int, ...]) -> tuple[int, int, int]:
    """Map a model-grid index back to the centre of its block in a volume of `shape`."""
    return tuple(min(n - 1, int((g + 0.5) * n / GRID)) for g, n in zip(gijk, shape))


def upsample(cam: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """A grid-sized map resampled (trilinear) to a volume's shape, as uint8 0-255 to keep it light."""
    t = torch.from_numpy(np.ascontiguousarray(cam, dtype=np.float32))[None, None]
    big = F.interpolate(t, size=tuple(shape), mode="trilinear", align_corners=False)[0, 0].numpy()
    return np.round(np.clip(big, 0, 1) * 255).astype(np.uint8)


def peak(cam: np.ndarray) -> tuple[int, int, int]:
    return tuple(int(v) for v in np.unravel_index(np.argmax(cam), cam.shape))
