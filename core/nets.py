"""Architectures the Training Monitor builds fresh for each run: the course's SimpleCNN, a small
VGG-style and a small ResNet-style net with width/depth knobs, and torchvision models.

Every builder takes the data's channels and classes, so grey digits and colour shapes both fit.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from core.errors import CNNLabError
from core.architectures import SimpleCNN


def _conv_bn(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True)]


class SmallVGG(nn.Module):
    """VGG's recipe in miniature: stages of two 3x3 convs, max-pool between stages, width doubling."""

    def __init__(self, num_classes: int, in_channels: int = 3, width: int = 16, depth: int = 3,
                 dropout: float = 0.0):
        super().__init__()
        layers: list[nn.Module] = []
        c = in_channels
        for stage in range(depth):
            w = width * 2 ** stage
            layers += _conv_bn(c, w) + _conv_bn(w, w) + [nn.MaxPool2d(2)]
            c = w
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(c, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class BasicBlock(nn.Module):
    """ResNet's basic block: two 3x3 convs plus the input (a 1x1 projection when the shape changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(*_conv_bn(c_in, c_out, stride)[:-1], nn.ReLU(inplace=True),
                                  nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out))
        self.skip = nn.Identity() if stride == 1 and c_in == c_out else nn.Sequential(
            nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


class SmallResNet(nn.Module):
    """A 3-stage ResNet for small images; depth = basic blocks per stage, width = first stage's channels."""

    def __init__(self, num_classes: int, in_channels: int = 3, width: int = 16, depth: int = 1,
                 dropout: float = 0.0):
        super().__init__()
        self.stem = nn.Sequential(*_conv_bn(in_channels, width))
        blocks: list[nn.Module] = []
        c = width
        for stage in range(3):
            w = width * 2 ** stage
            for i in range(depth):
                blocks.append(BasicBlock(c, w, 2 if stage and i == 0 else 1))
                c = w
        self.stages = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(c, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))


class GreyToRGB(nn.Module):
    """Repeats a grey input to 3 channels, so torchvision's RGB models take digits unchanged."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x)


def _torchvision(name: str) -> Callable[..., nn.Module]:
    def build(num_classes: int, in_channels: int = 3, width: int = 16, depth: int = 1, dropout: float = 0.0):
        import torchvision

        kwargs = {"dropout": dropout} if name == "mobilenet_v3_small" else {}
        model = torchvision.models.get_model(name, weights=None, num_classes=num_classes, **kwargs)
        return GreyToRGB(model) if in_channels == 1 else model
    return build


@dataclass(frozen=True)
class Arch:
    key: str
    label: str
    build: Callable[..., nn.Module]
    sizes: tuple[int, ...]  # input sizes it is built for (the first is the default)
    knobs: bool  # takes width and depth
    about: str


ARCHS: dict[str, Arch] = {a.key: a for a in (
    Arch("simplecnn", "SimpleCNN (the course's two-conv net)",
         lambda num_classes, in_channels=3, width=16, depth=1, dropout=0.0:
         SimpleCNN(num_classes, in_channels, dropout),
         (32,), False, "conv(16) -> pool -> conv(32) -> pool -> linear; 32x32 input, no batch norm."),
    Arch("vgg", "Small VGG-style", SmallVGG, (32, 64), True,
         "`depth` stages of two 3x3 conv + BN + ReLU, max-pool after each, width doubling per stage."),
    Arch("resnet", "Small ResNet-style", SmallResNet, (32, 64), True,
         "A 3x3 stem and 3 stages of `depth` residual basic blocks each, width doubling per stage."),
    Arch("resnet18", "ResNet-18 (torchvision, random init)", _torchvision("resnet18"), (64,), False,
         "torchvision's ResNet-18 built with this task's classes; 11 M params, slow on 2 cores."),
    Arch("mobilenet_v3_small", "MobileNet-V3-Small (torchvision, random init)", _torchvision("mobilenet_v3_small"),
         (64,), False, "torchvision's MobileNet-V3-Small with this task's classes; 1.5 M params."),
)}


def build_net(arch: str, num_classes: int, in_channels: int, *, width: int = 16, depth: int = 2,
              dropout: float = 0.0, seed: int | None = None) -> nn.Module:
    """A freshly initialised network (seeded when ``seed`` is given) for this many classes and channels."""
    if arch not in ARCHS:
        raise CNNLabError(f"Unknown architecture {arch!r}; choose from {', '.join(ARCHS)}.")
    if num_classes < 2:
        raise CNNLabError(f"A classifier needs at least 2 classes; this data has {num_classes}.")
    if seed is not None:
        torch.manual_seed(seed)
    return ARCHS[arch].build(num_classes, in_channels=in_channels, width=width, depth=depth, dropout=dropout)

