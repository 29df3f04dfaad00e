"""The shipped shape models' card figures, measured on fresh held-out data: what the model cards
state and the tests re-measure.

- single-shape accuracy: one shape per image, the highest-scoring class must be it;
- scene mAP: scenes of 1-5 shapes, mean over classes of the average precision;
- calibration error over every (image, class) pair of a held-out mix;
- "none" on photos: the 9 scikit-image photos hold no shape, so no class may reach 0.5;
(The pointing game on scenes, core.explain.pointing_game_scenes, is on the card too.)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from core.calibration import expected_calibration_error, mean_average_precision
from core.data import make_shapes
from core.images import SAMPLE_PHOTOS, sample_photo
from core.scenes import MIX, make_scenes, training_mix

# Held-out seeds, disjoint from every training and calibration seed in scripts/train_assets.py.
SEEDS = {"single": 303, "scenes": 404, "mix": 505, "pointing": 606}


def normalised(images: np.ndarray, size: int, mean, std) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> the model's normalised input (N, 3, size, size)."""
    from core.images import resize_to

    if images.shape[1] != size:
        images = np.stack([resize_to(im, (size, size)) for im in images])
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255.0)
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


def probabilities(model: nn.Module, images: np.ndarray, size: int, mean, std, batch: int = 256) -> np.ndarray:
    """(N, classes) sigmoid outputs of a multi-label model."""
    model.eval()
    x = normalised(images, size, mean, std)
    with torch.no_grad():
        return torch.cat([torch.sigmoid(model(x[i:i + batch])) for i in range(0, len(x), batch)]).numpy()


@dataclass
class Card:
    single_accuracy: float
    scene_map: float
    ece: float
    photo_max_prob: dict[str, float]
    empty_max_prob: float  # 95th percentile over held-out empty backgrounds

    def as_dict(self) -> dict:
        return {"single_shape_accuracy": round(self.single_accuracy, 4), "scene_map": round(self.scene_map, 4),
                "ece": round(self.ece, 4), "empty_scene_p95_max_prob": round(self.empty_max_prob, 4),
                "photo_max_prob": {k: round(v, 4) for k, v in self.photo_max_prob.items()}}


def measure(model: nn.Module, size: int, mean, std, *, n_single: int = 2000, n_scenes: int = 1000,
            n_mix: int = 3000, mix: dict[str, float] = MIX) -> Card:
    """Every card figure except the pointing game, on data drawn from SEEDS; the calibration error on
    held-out images drawn like the model's training ``mix``."""
    single = make_shapes(n_single, seed=SEEDS["single"])
    acc = float((probabilities(model, single.images, size, mean, std).argmax(1) == single.labels).mean())
    scenes = make_scenes(n_scenes, seed=SEEDS["scenes"], count=(1, 5))
    scene_probs = probabilities(model, np.stack([s.image for s in scenes]), size, mean, std)
    scene_map = mean_average_precision(scene_probs, np.stack([s.present() for s in scenes]))
    mix_images, mix_targets, _ = training_mix(n_mix, seed=SEEDS["mix"], mix=mix)
    ece = expected_calibration_error(probabilities(model, mix_images, size, mean, std), mix_targets)
    empty = make_scenes(300, seed=SEEDS["mix"] + 1, count=(0, 0), natural=0.0)
    empty_max = float(np.quantile(probabilities(model, np.stack([s.image for s in empty]), size, mean, std).max(1), 0.95))
    photos = {name: float(probabilities(model, sample_photo(name)[None], size, mean, std).max())
              for name in SAMPLE_PHOTOS}
    return Card(acc, scene_map, ece, photos, empty_max)


def pointing_scenes(n: int = 150) -> list:
    """The held-out scenes of the pointing game (core.explain.pointing_game_scenes)."""
    return make_scenes(n, seed=SEEDS["pointing"], count=(1, 5))
