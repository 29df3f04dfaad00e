"""torchcam's class activation maps, and how they agree with pytorch-grad-cam's.

torchcam brings methods pytorch-grad-cam lacks: SmoothGrad-CAM++, SS-CAM, IS-CAM, and the
original CAM for networks whose head is global average pooling + one linear layer. Its
extractors register hooks on the shared model, so every call runs inside
``explain.model_for_gradients`` (the model's lock), like the other CAM methods.

torchcam returns maps at the target layer's resolution, min-max normalised there; here they are
enlarged to the input with bilinear interpolation (pixel centres aligned, as OpenCV's resize in
pytorch-grad-cam) and normalised again, so both libraries' maps can be overlaid and compared.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core import explain
from core.errors import CNNLabError
from core.models import LoadedModel

# Shown name -> (torchcam class name, extra constructor arguments)
TORCHCAM_METHODS = {
    "CAM (torchcam)": ("CAM", {}),
    "SmoothGrad-CAM++ (torchcam)": ("SmoothGradCAMpp", {"num_samples": 4, "std": 0.3}),
    # Score-CAM's family: samples x channels masked forward passes. torchcam's defaults are 35 and 10
    # samples; 8 keeps a 64-channel layer to about 500 passes.
    "SS-CAM (torchcam)": ("SSCAM", {"num_samples": 8, "std": 2.0, "batch_size": 32}),
    "IS-CAM (torchcam)": ("ISCAM", {"num_samples": 8, "batch_size": 32}),
}
LIVE = ("CAM (torchcam)",)  # one weighted sum: cheap enough to redraw on every change
SLOW = ("SS-CAM (torchcam)", "IS-CAM (torchcam)")  # masked forward passes: checked against MAX_MASKED_PIXELS
MAX_MASKED_PIXELS = 40_000_000  # masked passes x input pixels that SS-CAM / IS-CAM may spend here


def gap_head(model: nn.Module, channels: int) -> str | None:
    """The name of the single linear layer fed by global average pooling of a `channels`-channel
    map (what the original CAM needs), or None when the head is anything else."""
    linears = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    pools = [m for m in model.modules() if isinstance(m, nn.AdaptiveAvgPool2d) and m.output_size in (1, (1, 1))]
    if len(linears) != 1 or not pools or linears[0][1].in_features != channels:
        return None
    return linears[0][0]


def _layer_shape(loaded: LoadedModel, x: torch.Tensor, layer: str) -> tuple[int, ...]:
    if layer not in dict(loaded.model.named_modules()):
        raise CNNLabError(f"The model has no layer named {layer!r}.")
    shape = explain._layer_output_shape(loaded, layer, x)
    if shape is None or len(shape) != 4 or min(shape[2:]) < 2:
        raise CNNLabError(f"Layer {layer!r} outputs {tuple(shape) if shape else 'no tensor'}, not a spatial map; "
                          "pick a convolutional layer.")
    return tuple(shape)


def unavailable(method: str, loaded: LoadedModel, x: torch.Tensor, layer: str) -> str | None:
    """Why a torchcam method cannot run on this model and layer, or None when it can."""
    shape = _layer_shape(loaded, x, layer)
    if method == "CAM (torchcam)" and gap_head(loaded.model, shape[1]) is None:
        return ("The original CAM needs a head of global average pooling and one linear layer fed by this "
                f"layer's {shape[1]} channels; {type(loaded.model).__name__} at {layer} has another head. "
                "Grad-CAM generalises CAM to any head.")
    if method in SLOW:
        passes = TORCHCAM_METHODS[method][1]["num_samples"] * shape[1]
        if passes * x.shape[-1] * x.shape[-2] > MAX_MASKED_PIXELS:
            return (f"{method} would run {passes:,} masked forward passes at {x.shape[-1]}x{x.shape[-2]} here "
                    f"({TORCHCAM_METHODS[method][1]['num_samples']} samples x {shape[1]} channels): too slow for "
                    "this server. Pick a layer with fewer channels or a smaller model.")
    return None


def _enlarge(heat: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    t = F.interpolate(heat[None, None].float(), size=size, mode="bilinear", align_corners=False)[0, 0]
    t = torch.nan_to_num(t)
    lo, hi = float(t.min()), float(t.max())
    return ((t - lo) / (hi - lo)).numpy().astype(np.float32) if hi > lo else np.zeros(size, np.float32)


def torchcam_map(loaded: LoadedModel, x: torch.Tensor, method: str, layer: str, target: int, seed: int = 0,
                 enlarge: bool = True) -> np.ndarray:
    """A torchcam map for class ``target`` at ``layer``: in [0, 1] at the input's size (or, with
    enlarge=False, torchcam's own output at the layer's size)."""
    import torchcam.methods as tcm

    if method not in TORCHCAM_METHODS and method != "Grad-CAM (torchcam)":
        raise CNNLabError(f"Unknown method {method!r}; choose from {list(TORCHCAM_METHODS)}.")
    explain.check_target(loaded, target)
    why = None if method == "Grad-CAM (torchcam)" else unavailable(method, loaded, x, layer)
    if why:
        raise CNNLabError(why)
    cls_name, kwargs = ("GradCAM", {}) if method == "Grad-CAM (torchcam)" else TORCHCAM_METHODS[method]
    kwargs = dict(kwargs, input_shape=tuple(x.shape[1:]))
    if cls_name == "CAM":
        kwargs["fc_layer"] = gap_head(loaded.model, _layer_shape(loaded, x, layer)[1])
    with explain.model_for_gradients(loaded) as model:
        torch.manual_seed(seed)  # SmoothGrad-CAM++ and SS-CAM draw their noise from the global generator
        with getattr(tcm, cls_name)(model, target_layer=layer, **kwargs) as extractor:
            scores = model(x)
            heat = extractor(class_idx=target, scores=scores)[0][0].detach()
    return _enlarge(heat, tuple(x.shape[-2:])) if enlarge else heat.numpy()


@dataclass(frozen=True)
class Agreement:
    pytorch_grad_cam: np.ndarray  # pytorch-grad-cam's GradCAM at the input size
    torchcam: np.ndarray  # torchcam's GradCAM enlarged to the input size
    torchcam_raw: np.ndarray  # torchcam's own output, at the layer's resolution
    correlation: float  # Pearson, over all pixels


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two maps; 1.0 for two identical constant maps, 0.0 when only one is constant."""
    if a.std() == 0 or b.std() == 0:
        return 1.0 if np.array_equal(a, b) else 0.0
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


_AGREEMENTS: OrderedDict[tuple, Agreement] = OrderedDict()  # recent results by content, as explain.CAMS
_AGREEMENTS_LOCK = threading.Lock()


def agreement(loaded: LoadedModel, x: torch.Tensor, layer: str, target: int) -> Agreement:
    """pytorch-grad-cam's and torchcam's Grad-CAM on the same model, layer, class and input (the
    first from the page's shared CAM cache; the pair kept for the next rerun)."""
    key = explain.CamCache.key(loaded.spec.key, x, "agreement", layer, target)
    with _AGREEMENTS_LOCK:
        if key in _AGREEMENTS:
            return _AGREEMENTS[key]
    ours = explain.CAMS.get_or_compute(loaded, x, "Grad-CAM", layer, target)
    raw = torchcam_map(loaded, x, "Grad-CAM (torchcam)", layer, target, enlarge=False)
    theirs = _enlarge(torch.from_numpy(raw), tuple(x.shape[-2:]))
    result = Agreement(ours, theirs, raw, correlation(ours, theirs))
    with _AGREEMENTS_LOCK:
        _AGREEMENTS[key] = result
        while len(_AGREEMENTS) > 16:
            _AGREEMENTS.popitem(last=False)
    return result
