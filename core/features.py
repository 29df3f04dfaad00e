"""What a CNN 'sees': conv layers, their feature maps for one image, and first-layer filters."""
from __future__ import annotations

import torch
from torch import nn

from core.models import LoadedModel


def conv_layers(model: nn.Module) -> list[str]:
    """Dotted names of every Conv2d, in forward-definition order."""
    return [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def first_conv(model: nn.Module) -> nn.Conv2d:
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            return m
    raise ValueError("model has no Conv2d layer")


def feature_maps(
    loaded: LoadedModel, x: torch.Tensor, layers: list[str]
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Output of each named layer for a (1, C, H, W) input as (C, h, w) tensors, and the logits.

    Registers forward hooks on the shared model, so it holds the model's lock while they exist.
    """
    modules = dict(loaded.model.named_modules())
    missing = [name for name in layers if name not in modules]
    if missing:
        raise KeyError(f"no such layers: {missing}")
    out: dict[str, torch.Tensor] = {}

    def grab(name: str):
        def hook(_module, _inputs, output):
            out[name] = output[0].detach().clone()
        return hook

    with loaded.lock:
        handles = [modules[name].register_forward_hook(grab(name)) for name in layers]
        try:
            with torch.no_grad():
                logits = loaded.model(x)
        finally:
            for h in handles:
                h.remove()
    return {name: out[name] for name in layers}, logits


def strongest_channels(fmap: torch.Tensor, k: int) -> list[int]:
    """Indices of the k channels with the largest mean activation, strongest first."""
    return fmap.flatten(1).mean(1).argsort(descending=True)[:k].tolist()
