"""A small configurable CNN for what-if experiments: standard vs depthwise-separable convs,
and EfficientNet's compound-scaling knobs (width, depth, resolution)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class TinyCNN:
    width: int = 32  # channels of the first stage; each later stage doubles it
    depth: int = 2  # conv blocks per stage
    resolution: int = 96  # input side in pixels
    separable: bool = False  # depthwise 3x3 + pointwise 1x1 instead of a standard 3x3
    stages: int = 3
    classes: int = 10
    kernel: int = 3  # side of every spatial conv kernel (depthwise ones too)

    def scaled(self, width_mult: float, depth_mult: float, res_mult: float) -> "TinyCNN":
        """EfficientNet-style scaling: multiply channels, blocks per stage and input size."""
        return TinyCNN(max(4, round(self.width * width_mult)), max(1, round(self.depth * depth_mult)),
                       max(32, round(self.resolution * res_mult / 8) * 8), self.separable, self.stages, self.classes,
                       self.kernel)


def _conv_block(c_in: int, c_out: int, stride: int, separable: bool, k: int = 3) -> nn.Sequential:
    if separable:
        return nn.Sequential(
            nn.Conv2d(c_in, c_in, k, stride, k // 2, groups=c_in, bias=False), nn.BatchNorm2d(c_in),
            nn.ReLU(inplace=True), nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU(inplace=True))


def build(cfg: TinyCNN) -> nn.Sequential:
    """Stem conv, then `stages` stages of `depth` blocks (the first of each strides by 2), GAP, linear."""
    layers: list[nn.Module] = [nn.Conv2d(3, cfg.width, 3, 1, 1, bias=False), nn.BatchNorm2d(cfg.width), nn.ReLU(inplace=True)]
    c = cfg.width
    for stage in range(cfg.stages):
        c_out = cfg.width * 2 ** stage
        for i in range(cfg.depth):
            layers.append(_conv_block(c, c_out, 2 if i == 0 and stage > 0 else 1, cfg.separable, cfg.kernel))
            c = c_out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, cfg.classes)]
    return nn.Sequential(*layers)


def profile(cfg: TinyCNN):
    """Parameters and MACs of ``build(cfg)``, measured on the meta device (no weights allocated)."""
    from core.profile import profile_module

    with torch.device("meta"):
        model = build(cfg)
    return profile_module(model, cfg.resolution)
