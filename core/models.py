"""Model registry: name -> builder, input size, normalisation, CAM target layer, classes, weights.

Two kinds of entry:
- shipped: small CNNs this project trains with ``scripts/train_assets.py`` and ships in
  ``assets/models/`` (safetensors + a model card). Always available offline.
- torchvision: ImageNet models. Real weights come from the local torch hub cache, or a download
  when allowed; otherwise the model is built with random weights and ``trained`` is False so the
  UI can say so. A random model is never passed off as a trained one.
"""
from __future__ import annotations

import json
import os
import socket
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from core.data import SHAPE_CLASSES, downloads_allowed
from core.errors import CNNLabError
from core.images import resize_to
from core.lesions import Lesion3DNet

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "models"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HALF = (0.5, 0.5, 0.5)
DOWNLOAD_TIMEOUT_S = 20


# ---------------------------------------------------------------- project architectures
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


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class ShapesNet(nn.Module):
    """A small all-conv CNN for 64x64 input with a global-average-pool head (CAM friendly)."""

    def __init__(self, num_classes: int = len(SHAPE_CLASSES), width: int = 16):
        super().__init__()
        w = width
        self.features = nn.Sequential(OrderedDict(
            block1=_block(3, w), pool1=nn.MaxPool2d(2),          # 32x32
            block2=_block(w, 2 * w), pool2=nn.MaxPool2d(2),      # 16x16
            block3=_block(2 * w, 4 * w), pool3=nn.MaxPool2d(2),  # 8x8
            block4=_block(4 * w, 4 * w),                         # 8x8, the CAM layer
        ))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4 * w, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.features(x)).flatten(1))


# ---------------------------------------------------------------- registry
@dataclass(frozen=True)
class ModelSpec:
    key: str
    label: str
    kind: str  # "shipped" or "torchvision"
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    target_layer: str  # dotted module name, the default CAM layer
    build: Callable[[], nn.Module]
    summary: str
    class_names: tuple[str, ...] = ()  # torchvision entries read theirs from the weights' metadata


def _shipped(key: str, label: str, arch: Callable[[], nn.Module], size: int, layer: str, summary: str) -> ModelSpec:
    return ModelSpec(key, label, "shipped", size, HALF, HALF, layer, arch, summary, SHAPE_CLASSES)


def _tv(name: str, label: str, layer: str, summary: str) -> ModelSpec:
    import torchvision

    return ModelSpec(name, label, "torchvision", 224, IMAGENET_MEAN, IMAGENET_STD, layer,
                     lambda: torchvision.models.get_model(name, weights=None), summary)


REGISTRY: dict[str, ModelSpec] = {s.key: s for s in (
    _shipped("simplecnn_shapes", "SimpleCNN (course model, trained on shapes)",
             lambda: SimpleCNN(len(SHAPE_CLASSES)), 32, "conv2",
             "The seed's two-conv SimpleCNN, trained by this project on 32x32 synthetic shapes."),
    _shipped("shapesnet", "ShapesNet (4 conv blocks, trained on shapes)", ShapesNet, 64, "features.block4",
             "A 4-block CNN with batch norm and global average pooling, trained on 64x64 synthetic shapes."),
    ModelSpec("lesion3d", "Lesion3DNet (3D CNN, synthetic lesions in MNI152)", "volume", 64, (0.0,) * 3, (1.0,) * 3,
              "features.block4", Lesion3DNet,
              "A small 3D CNN trained on 64^3 brain volumes with and without a synthetic lesion.", ("healthy", "lesion")),
    _tv("resnet18", "ResNet-18 (torchvision, ImageNet)", "layer4",
        "18-layer residual network; skip connections let gradients flow through depth."),
    _tv("mobilenet_v3_small", "MobileNet-V3-Small (torchvision, ImageNet)", "features.12",
        "Depthwise-separable convs with squeeze-and-excitation; built for phones."),
    _tv("efficientnet_b0", "EfficientNet-B0 (torchvision, ImageNet)", "features.8",
        "Compound-scaled MBConv network; the baseline of the EfficientNet family."),
    _tv("resnet50", "ResNet-50 (torchvision, ImageNet)", "layer4",
        "50-layer bottleneck residual network; 25.6 M parameters."),
)}


@dataclass
class LoadedModel:
    """A model in eval mode plus where its weights came from.

    ``lock`` guards anything that mutates the shared instance (hooks, gradients); pure
    inference may run without it.
    """

    spec: ModelSpec
    model: nn.Module
    trained: bool
    weights_source: str
    class_names: tuple[str, ...]
    notice: str | None = None  # shown to the user when set (e.g. "random weights here")
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    card: dict = field(default_factory=dict)  # shipped models' metrics from their model card


def model_card(key: str) -> dict:
    """The shipped model's card metadata (accuracy, epochs, command), or {} if absent."""
    path = ASSETS / f"{key}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def load_model(key: str) -> LoadedModel:
    """Build a registry model in eval mode with the best weights available here."""
    if key not in REGISTRY:
        raise CNNLabError(f"Unknown model {key!r}; choose from {list(REGISTRY)}.")
    spec = REGISTRY[key]
    model = spec.build()
    if spec.kind in ("shipped", "volume"):
        path = ASSETS / f"{key}.safetensors"
        if not path.exists():
            raise CNNLabError(f"The shipped weights {path.name} are missing; rebuild them with "
                              "`python scripts/train_assets.py`.")
        model.load_state_dict(load_file(str(path)))
        loaded = LoadedModel(spec, model.eval(), True, f"assets/models/{path.name}", spec.class_names,
                             card=model_card(key))
    else:
        loaded = _load_torchvision(spec, model)
    for p in loaded.model.parameters():
        p.requires_grad_(False)  # shared instances never train; gradient methods re-enable on a copy
    return loaded


def imagenet_weights(key: str):
    """torchvision's default weights enum member for a registry key."""
    from torchvision.models import get_model_weights

    return get_model_weights(key).DEFAULT


def cached_weights_path(key: str) -> Path:
    """Where torch.hub keeps (or would keep) this model's ImageNet checkpoint."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(imagenet_weights(key).url)


def imagenet_state(key: str) -> tuple[dict | None, str]:
    """A torchvision model's ImageNet state dict from the local hub cache, else a download when
    allowed: (state, where it came from), or (None, "") when neither works."""
    weights = imagenet_weights(key)
    path = cached_weights_path(key)
    if path.exists():
        try:
            return (torch.load(path, map_location="cpu", weights_only=True),
                    f"ImageNet weights from the local cache ({path.name})")
        except Exception:  # a half-written or foreign file in the cache: treat as absent
            pass
    if not downloads_allowed():
        return None, ""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        state = torch.hub.load_state_dict_from_url(weights.url, progress=False, check_hash=True,
                                                   map_location="cpu", weights_only=True)
        return state, f"ImageNet weights downloaded to {path.parent}"
    except Exception:  # offline, DNS failure, timeout, HTTP error
        return None, ""
    finally:
        socket.setdefaulttimeout(previous)


def _load_torchvision(spec: ModelSpec, model: nn.Module) -> LoadedModel:
    classes = tuple(imagenet_weights(spec.key).meta["categories"])
    path = cached_weights_path(spec.key)
    state, source = imagenet_state(spec.key)
    if state is not None:
        try:
            model.load_state_dict(state)
            return LoadedModel(spec, model.eval(), True, source, classes)
        except RuntimeError:
            pass  # wrong shapes: the cached file is not this model's checkpoint
    notice = (f"No ImageNet weights for {spec.label} are available here (not in {path.parent}, and "
              "they could not be downloaded). This copy has **random weights**: its predictions are "
              "meaningless and its filters are noise. Pick a shipped model for trained behaviour.")
    return LoadedModel(spec, model.eval(), False, "random initialisation (untrained)", classes, notice)


def from_trained(key: str, label: str, model: nn.Module, input_size: int, mean, std, class_names: tuple[str, ...],
                 source: str) -> LoadedModel:
    """A model trained in this session (Training Monitor) as a LoadedModel for the explanation pages.
    The weights are copied, so the explanation hooks never touch the run's own model."""
    import copy

    copied = copy.deepcopy(model).eval()
    for p in copied.parameters():
        p.requires_grad_(False)
    layer = [n for n, m in copied.named_modules() if isinstance(m, nn.Conv2d)][-1]
    spec = ModelSpec(key, label, "session", input_size, tuple(mean), tuple(std), layer, lambda: copy.deepcopy(copied),
                     f"Trained on the Training Monitor in this session ({label}).", tuple(class_names))
    return LoadedModel(spec, copied, True, source, tuple(class_names))


# ---------------------------------------------------------------- inference helpers
def preprocess(rgb: np.ndarray, spec: ModelSpec) -> torch.Tensor:
    """RGB uint8 (H, W, 3) -> normalised float tensor (1, 3, S, S) at the model's input size."""
    s = spec.input_size
    x = torch.from_numpy(resize_to(rgb, (s, s))).permute(2, 0, 1).float().div_(255.0)
    mean = torch.tensor(spec.mean).view(3, 1, 1)
    std = torch.tensor(spec.std).view(3, 1, 1)
    return ((x - mean) / std).unsqueeze(0)


def predict_indices(loaded: LoadedModel, x: torch.Tensor, k: int = 5) -> list[tuple[int, float]]:
    """Top-k (class index, probability) for a single preprocessed image."""
    with torch.no_grad():
        return top_indices(loaded.model(x), k)


def top_k(loaded: LoadedModel, logits: torch.Tensor, k: int = 5) -> list[tuple[str, float]]:
    """Top-k (class name, probability) from a (1, classes) logits tensor."""
    return [(loaded.class_names[i], p) for i, p in top_indices(logits, k)]


def top_indices(logits: torch.Tensor, k: int = 5) -> list[tuple[int, float]]:
    """Top-k (class index, probability); indices, because ImageNet repeats a few class names."""
    probs = logits.softmax(1)[0]
    top = probs.topk(min(k, probs.numel()))
    return [(int(i), float(p)) for p, i in zip(top.values, top.indices)]
