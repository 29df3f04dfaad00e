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
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from safetensors.torch import load_file
from torch import nn

from core import weights
from core.architectures import Lesion3DNet, ShapesNet, SimpleCNN
from core.data import SHAPE_CLASSES
from core.errors import CNNLabError
from core.images import resize_to

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "models"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HALF = (0.5, 0.5, 0.5)
NONE_BELOW = 0.5  # a multi-label model "sees" a class when its probability reaches this


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
    # One sigmoid per class (each class present or not, "none" when all are low) instead of one
    # softmax over the classes (exactly one answer).
    multilabel: bool = False


def _shipped(key: str, label: str, arch: Callable[[], nn.Module], size: int, layer: str, summary: str) -> ModelSpec:
    return ModelSpec(key, label, "shipped", size, HALF, HALF, layer, arch, summary, SHAPE_CLASSES, multilabel=True)


def _torchvision_model(name: str) -> nn.Module:
    import torchvision

    return torchvision.models.get_model(name, weights=None)


def _tv(name: str, label: str, layer: str, summary: str) -> ModelSpec:
    return ModelSpec(name, label, "torchvision", 224, IMAGENET_MEAN, IMAGENET_STD, layer,
                     lambda: _torchvision_model(name), summary)


REGISTRY: dict[str, ModelSpec] = {s.key: s for s in (
    _shipped("simplecnn_shapes", "SimpleCNN (course model, trained on shapes)",
             lambda: SimpleCNN(len(SHAPE_CLASSES)), 32, "conv2",
             "The seed's two-conv SimpleCNN, trained by this project on 32x32 synthetic shapes and scenes "
             "(one sigmoid per shape, so it can also answer \"none of my shapes\")."),
    _shipped("shapesnet", "ShapesNet (4 conv blocks, trained on shapes)", ShapesNet, 64, "features.block4",
             "A 4-block CNN with batch norm and global average pooling, trained on 64x64 synthetic shapes and "
             "scenes with several shapes (one sigmoid per shape: it finds every shape present, or none)."),
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


def imagenet_categories(key: str) -> tuple[str, ...]:
    from torchvision.models import get_model_weights

    return tuple(get_model_weights(key).DEFAULT.meta["categories"])


def _load_torchvision(spec: ModelSpec, model: nn.Module) -> LoadedModel:
    classes = imagenet_categories(spec.key)
    state, source = weights.state_dict(spec.key)
    if state is not None:
        try:
            model.load_state_dict(state)
            return LoadedModel(spec, model.eval(), True, source, classes)
        except RuntimeError:
            source = f"{weights.cached_path(spec.key).name} in the cache is not this model's checkpoint"
    notice = (f"No ImageNet weights for {spec.label} are available here ({source}; the cache is "
              f"{weights.cached_path(spec.key).parent}). This copy has **random weights**: its predictions are "
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


def probabilities(spec: ModelSpec, logits: torch.Tensor) -> torch.Tensor:
    """Class probabilities from (N, classes) logits: a sigmoid per class for multi-label models
    (they need not sum to 1), else the softmax."""
    return torch.sigmoid(logits) if spec.multilabel else logits.softmax(1)


def predict_indices(loaded: LoadedModel, x: torch.Tensor, k: int = 5) -> list[tuple[int, float]]:
    """Top-k (class index, probability) for a single preprocessed image."""
    with torch.no_grad():
        return top_indices(probabilities(loaded.spec, loaded.model(x)), k)


def top_k(loaded: LoadedModel, logits: torch.Tensor, k: int = 5) -> list[tuple[str, float]]:
    """Top-k (class name, probability) from a (1, classes) logits tensor."""
    return [(loaded.class_names[i], p) for i, p in top_indices(probabilities(loaded.spec, logits), k)]


def top_indices(probs: torch.Tensor, k: int = 5) -> list[tuple[int, float]]:
    """Top-k (class index, probability) of a (1, classes) probability tensor; indices, because
    ImageNet repeats a few class names."""
    top = probs[0].topk(min(k, probs.shape[1]))
    return [(int(i), float(p)) for p, i in zip(top.values, top.indices)]


def sees_nothing(spec: ModelSpec, preds: list[tuple[object, float]]) -> bool:
    """A multi-label model whose every class is below NONE_BELOW: "none of my classes"."""
    return spec.multilabel and all(p < NONE_BELOW for _, p in preds)
