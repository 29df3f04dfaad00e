"""MLP-Mixer (Tolstikhin et al., 2021) in miniature next to the course's SimpleCNN: no convolution
and no attention, only MLPs that mix across patches and across channels. Trained on the same
shapes with the same budget, to show what convolution's built-in locality and weight sharing are
worth when data is scarce.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from core.data import SHAPE_CLASSES, make_shapes
from core.architectures import SimpleCNN
from core.training import accuracy, dataset_tensor, fit

SIZE = 32


class MixerBlock(nn.Module):
    def __init__(self, tokens: int, dim: int, token_hidden: int, channel_hidden: int):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.token_mlp = nn.Sequential(nn.Linear(tokens, token_hidden), nn.GELU(), nn.Linear(token_hidden, tokens))
        self.channel_mlp = nn.Sequential(nn.Linear(dim, channel_hidden), nn.GELU(), nn.Linear(channel_hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, tokens, dim)
        x = x + self.token_mlp(self.norm1(x).transpose(1, 2)).transpose(1, 2)
        return x + self.channel_mlp(self.norm2(x))


class MLPMixer(nn.Module):
    """Patch embedding (a linear map per 4x4 patch, written as a stride-4 conv as the paper's code
    does), ``depth`` Mixer blocks, global average over tokens, linear head."""

    def __init__(self, num_classes: int = len(SHAPE_CLASSES), size: int = SIZE, patch: int = 4, dim: int = 64,
                 depth: int = 4):
        super().__init__()
        tokens = (size // patch) ** 2
        self.embed = nn.Conv2d(3, dim, patch, stride=patch)
        self.blocks = nn.Sequential(*[MixerBlock(tokens, dim, tokens // 2, dim * 2) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embed(x).flatten(2).transpose(1, 2)
        return self.head(self.norm(self.blocks(x)).mean(1))


@dataclass
class Comparison:
    name: str
    params: int
    accuracy: float
    seconds: float


def compare(n_train: int = 4000, epochs: int = 10, seed: int = 0,
            progress: Callable[[float, str], None] = lambda f, t: None,
            should_stop: Callable[[], bool] = lambda: False) -> list[Comparison]:
    """SimpleCNN and MLP-Mixer trained on the same shapes (drawn at 64 px, shrunk to 32) with the same
    optimiser and epochs, scored on 1,000 other shapes."""
    train, test = make_shapes(n_train, seed=seed + 800), make_shapes(1000, seed=seed + 801)
    x, y = dataset_tensor(train, SIZE, (0.5,) * 3, (0.5,) * 3), torch.from_numpy(train.labels)
    xt, yt = dataset_tensor(test, SIZE, (0.5,) * 3, (0.5,) * 3), torch.from_numpy(test.labels)
    out = []
    for i, (name, build) in enumerate((("SimpleCNN (convolution)", lambda: SimpleCNN(len(SHAPE_CLASSES))),
                                       ("MLP-Mixer (MLPs only)", MLPMixer))):
        if should_stop():
            break
        progress(i / 2, f"Training {name}...")
        start = time.perf_counter()
        torch.manual_seed(seed)
        model = build()
        fit(model, (x, y), (xt[:200], yt[:200]), epochs=epochs, lr=3e-3, seed=seed, flip=True, should_stop=should_stop,
            on_epoch=lambda e, *_: progress((i + (e + 1) / epochs) / 2, f"Training {name}: epoch {e + 1} of {epochs}"))
        out.append(Comparison(name, sum(p.numel() for p in model.parameters()), accuracy(model, xt, yt),
                              time.perf_counter() - start))
    return out
