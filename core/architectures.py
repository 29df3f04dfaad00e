"""The project's own architectures, as plain ``nn.Module``s with no other project code: the course's
SimpleCNN, ShapesNet and the 3D Lesion3DNet. The registry (core.models), the trainers and the
profiler all build them from here."""
from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

SHAPE_COUNT = 5  # circle, square, triangle, star, cross (core.data.SHAPE_CLASSES)


class SimpleCNN(nn.Module):
    """The course's first CNN: two 3x3 convs with max-pooling, one linear layer, 32x32 input."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3, dropout: float = 0.0):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 16, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)
        self.drop = nn.Dropout(dropout)  # no parameters: the shipped state dict is unchanged
        self.fc = nn.Linear(32 * 8 * 8, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(F.relu(self.conv1(x)))  # [B, 16, 16, 16]
        x = self.pool(F.relu(self.conv2(x)))  # [B, 32, 8, 8]
        return self.fc(self.drop(x.flatten(1)))


def _block(c_in: int, c_out: int, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=dilation, dilation=dilation, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class ShapesNet(nn.Module):
    """A small all-conv CNN for 64x64 input with a global-average-pool head (CAM friendly).

    Two max-pools only, so blocks 3 and 4 keep 16x16 maps: one CAM cell is 4 px, fine enough to
    tell apart shapes a few pixels from each other. Block 4 is dilated, so each of its cells sees
    34 px, about the largest shape. One logit per class, each read through its own sigmoid
    (multi-label): every shape present can score high at once, and none high means "none of my
    classes"."""

    def __init__(self, num_classes: int = SHAPE_COUNT, width: int = 16):
        super().__init__()
        w = width
        self.features = nn.Sequential(OrderedDict(
            block1=_block(3, w), pool1=nn.MaxPool2d(2),          # 32x32
            block2=_block(w, 2 * w), pool2=nn.MaxPool2d(2),      # 16x16
            block3=_block(2 * w, 4 * w),                         # 16x16
            block4=_block(4 * w, 4 * w, dilation=2),             # 16x16, the CAM layer
        ))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4 * w, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.features(x)).flatten(1))

    def class_maps(self, x: torch.Tensor) -> torch.Tensor:
        """Every class's logit at every cell of block 4, (N, classes, 16, 16): the linear layer applied
        cell by cell. Their mean over the cells is exactly forward(x), since pooling and the linear
        layer commute; their shape is the class activation map (Zhou et al., 2016)."""
        return torch.einsum("nkhw,ck->nchw", self.features(x), self.fc.weight) + self.fc.bias.view(1, -1, 1, 1)


def _block3d(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv3d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm3d(c_out),
                         nn.ReLU(inplace=True))


class Lesion3DNet(nn.Module):
    """3D conv blocks 64^3 -> 16^3 (a strided first conv keeps it fast on a CPU), then a 1x1x1 conv
    that scores every 4-voxel cell for lesion evidence. The volume's lesion score is the maximum
    cell (a lesion anywhere makes the volume positive: multiple-instance pooling, no dilution by
    averaging over the whole brain). Trained with an extra per-cell loss on the lesion mask
    (``loss``), so the evidence map, and Grad-CAM at block4, point at the lesion itself."""

    def __init__(self, width: int = 8):
        super().__init__()
        w = width
        self.features = nn.Sequential(OrderedDict(
            block1=_block3d(1, w, stride=2), pool1=nn.MaxPool3d(2),  # 32^3, then 16^3
            block2=_block3d(w, 2 * w),
            block3=_block3d(2 * w, 4 * w),
            block4=_block3d(4 * w, 4 * w),                           # 16^3, the CAM layer
        ))
        self.evidence = nn.Conv3d(4 * w, 1, 1)

    def evidence_map(self, x: torch.Tensor) -> torch.Tensor:
        """Lesion evidence logits per cell, (N, 16, 16, 16)."""
        return self.evidence(self.features(x))[:, 0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.evidence_map(x).amax((1, 2, 3))
        return torch.stack([-s, s], 1) / 2  # softmax of this = sigmoid(s): P(lesion)


