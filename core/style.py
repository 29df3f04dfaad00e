"""Neural style transfer (Gatys, Ecker and Bethge, 2016) on VGG19's ImageNet features.

The picture itself is optimised: its deep features should match the content photo's (one layer,
relu4_2) while the correlations between feature channels (Gram matrices, five layers) match the
style image's. This only works with trained filters, so without ImageNet weights the lab is off:
random filters have no notion of brush strokes or objects to keep.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.errors import CNNLabError
from core.images import resize_to
from core import weights
from core.models import IMAGENET_MEAN, IMAGENET_STD

STYLE_LAYERS = (1, 6, 11, 20, 29)  # relu1_1 ... relu5_1 in torchvision's vgg19().features
CONTENT_LAYER = 22  # relu4_2
MAX_SIZE, MAX_STEPS = 384, 300


def vgg19_features() -> tuple[nn.Module | None, str]:
    """VGG19's convolutional part with ImageNet weights, frozen, up to relu5_1: (module, source), or
    (None, why not). Only the conv layers are built, so the 400 MB classifier is never allocated."""
    from torchvision.models.vgg import cfgs, make_layers

    state, source = weights.state_dict("vgg19")
    if state is None:
        return None, (f"VGG19's ImageNet weights are not in {weights.cached_path('vgg19').parent} and could not be "
                      f"downloaded here ({source}).")
    features = make_layers(cfgs["E"])
    try:
        features.load_state_dict({k[len("features."):]: v for k, v in state.items() if k.startswith("features.")})
    except RuntimeError:
        return None, "The cached VGG19 file does not hold VGG19's weights."
    return freeze(features), source


def freeze(features: nn.Module) -> nn.Module:
    """The layers up to relu5_1, in eval mode with gradients off (shared safely: only the image trains)."""
    trimmed = features[:max(STYLE_LAYERS + (CONTENT_LAYER,)) + 1].eval()
    for p in trimmed.parameters():
        p.requires_grad_(False)
    return trimmed


def gram(feat: torch.Tensor) -> torch.Tensor:
    """Channel correlations of a (1, C, H, W) feature map, normalised by C*H*W: (C, C)."""
    _, c, h, w = feat.shape
    f = feat.reshape(c, h * w)
    return f @ f.T / (c * h * w)


def _activations(features: nn.Module, x: torch.Tensor) -> dict[int, torch.Tensor]:
    wanted = set(STYLE_LAYERS) | {CONTENT_LAYER}
    out = {}
    for i, layer in enumerate(features):
        x = layer(x)
        if i in wanted:
            out[i] = x
    return out


def _to_tensor(rgb: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    return torch.from_numpy(resize_to(rgb, size)).permute(2, 0, 1).float().div(255).unsqueeze(0)


@dataclass
class StyleResult:
    image: np.ndarray  # RGB uint8
    content_loss: list[float]
    style_loss: list[float]


def stylize(features: nn.Module, content: np.ndarray, style: np.ndarray, *, size: int = 192, steps: int = 80,
            style_weight: float = 1e5, lr: float = 0.03, progress: Callable[[float, str], None] = lambda f, t: None,
            should_stop: Callable[[], bool] = lambda: False) -> StyleResult:
    """Optimise a copy of the content photo (long side ``size``) for ``steps`` Adam steps."""
    if not 32 <= size <= MAX_SIZE:
        raise CNNLabError(f"The image size must be 32 to {MAX_SIZE} px (got {size}); bigger takes minutes on a CPU.")
    if not 1 <= steps <= MAX_STEPS:
        raise CNNLabError(f"Steps must be 1 to {MAX_STEPS} (got {steps}).")
    h, w = content.shape[:2]
    scale = size / max(h, w)
    shape = (max(32, round(w * scale)), max(32, round(h * scale)))
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    c = _to_tensor(content, shape)
    s = _to_tensor(style, shape)
    with torch.no_grad():
        target_content = _activations(features, (c - mean) / std)[CONTENT_LAYER]
        style_acts = _activations(features, (s - mean) / std)
        target_grams = {i: gram(style_acts[i]) for i in STYLE_LAYERS}
    image = c.clone().requires_grad_(True)
    opt = torch.optim.Adam([image], lr=lr)
    content_hist, style_hist = [], []
    for step in range(steps):
        if should_stop():
            break
        acts = _activations(features, (image - mean) / std)
        c_loss = F.mse_loss(acts[CONTENT_LAYER], target_content)
        s_loss = sum(F.mse_loss(gram(acts[i]), target_grams[i]) for i in STYLE_LAYERS) / len(STYLE_LAYERS)
        loss = c_loss + style_weight * s_loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            image.clamp_(0, 1)
        content_hist.append(c_loss.item())
        style_hist.append(s_loss.item() * style_weight)
        progress((step + 1) / steps, f"Step {step + 1} of {steps}: content loss {content_hist[-1]:.3f}, "
                                     f"style loss {style_hist[-1]:.3f}")
    out = (image.detach()[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    return StyleResult(out, content_hist, style_hist)
