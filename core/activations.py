"""Activation functions, their derivatives, and the dying-ReLU effect on a real layer.

Curves come from torch.nn.functional (what a model runs). Derivatives are written out in closed
form on purpose: the page shows each formula, and the tests check every one against autograd.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import erf, expit

_SQRT2 = np.sqrt(2.0)


@dataclass(frozen=True)
class Activation:
    name: str
    formula: str  # LaTeX
    derivative_formula: str  # LaTeX
    note: str
    forward: Callable[[torch.Tensor, float], torch.Tensor]  # (x, param) -> y
    derivative: Callable[[np.ndarray, float], np.ndarray]  # (x, param) -> dy/dx
    param: str | None = None  # name of the slider it takes, if any


def _gelu_grad(x, _):
    cdf = 0.5 * (1 + erf(x / _SQRT2))
    return cdf + x * np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)


def _silu_grad(x, _):
    s = expit(x)
    return s * (1 + x * (1 - s))


ACTIVATIONS: dict[str, Activation] = {a.name: a for a in (
    Activation("ReLU", r"\max(0, x)", r"1 \text{ if } x>0 \text{ else } 0",
               "Cheap and non-saturating for x > 0; a unit whose input stays negative gets no gradient.",
               lambda x, _: F.relu(x), lambda x, _: (x > 0).astype(float)),
    Activation("Leaky ReLU", r"x \text{ if } x>0 \text{ else } a x", r"1 \text{ if } x>0 \text{ else } a",
               "A small slope a for x < 0 keeps a gradient flowing, so units cannot die.",
               lambda x, a: F.leaky_relu(x, a), lambda x, a: np.where(x > 0, 1.0, a), "slope"),
    Activation("ELU", r"x \text{ if } x>0 \text{ else } \alpha(e^x - 1)", r"1 \text{ if } x>0 \text{ else } \alpha e^x",
               "Smooth for x < 0 and saturates at -alpha, pushing mean activations toward zero.",
               lambda x, a: F.elu(x, a), lambda x, a: np.where(x > 0, 1.0, a * np.exp(np.minimum(x, 0))), "alpha"),
    Activation("GELU", r"x\,\Phi(x)", r"\Phi(x) + x\,\varphi(x)",
               "Weights x by the chance a standard normal is below it; used in ViT and ConvNeXt.",
               lambda x, _: F.gelu(x), _gelu_grad),
    Activation("SiLU (Swish)", r"x\,\sigma(x)", r"\sigma(x)\,(1 + x(1 - \sigma(x)))",
               "Smooth, slightly negative for small negative x; used in EfficientNet and MobileNet-V3.",
               lambda x, _: F.silu(x), _silu_grad),
    Activation("Tanh", r"\tanh(x)", r"1 - \tanh^2(x)",
               "Zero-centred but saturates: for |x| > 3 the gradient nearly vanishes.",
               lambda x, _: torch.tanh(x), lambda x, _: 1 - np.tanh(x) ** 2),
    Activation("Sigmoid", r"\sigma(x) = \frac{1}{1 + e^{-x}}", r"\sigma(x)(1 - \sigma(x))",
               "Outputs a probability; its gradient is at most 0.25, so deep stacks of it learn slowly.",
               lambda x, _: torch.sigmoid(x), lambda x, _: expit(x) * (1 - expit(x))),
    Activation("Softplus", r"\ln(1 + e^x)", r"\sigma(x)",
               "A smooth ReLU: always positive, with a gradient that never reaches zero.",
               lambda x, _: F.softplus(x), lambda x, _: expit(x)),
)}
DEFAULT_PARAMS = {"slope": 0.01, "alpha": 1.0}


def curves(names: list[str], lo: float, hi: float, params: dict[str, float], n: int = 801) -> dict:
    """x, and for each activation its values and derivative over [lo, hi]."""
    if not lo < hi:
        raise ValueError("the range needs lo < hi")
    x = np.linspace(lo, hi, n)
    xt = torch.from_numpy(x)
    out = {"x": x}
    for name in names:
        act = ACTIVATIONS[name]
        p = params.get(act.param, 0.0) if act.param else 0.0
        with torch.no_grad():
            y = act.forward(xt, p).numpy()
        out[name] = (y, act.derivative(x, p))
    return out


def apply(name: str, values: np.ndarray, params: dict[str, float]) -> np.ndarray:
    act = ACTIVATIONS[name]
    p = params.get(act.param, 0.0) if act.param else 0.0
    with torch.no_grad():
        return act.forward(torch.from_numpy(np.asarray(values, dtype=np.float32)), p).numpy()


def preactivations(features: torch.nn.Sequential, x: torch.Tensor, block: str) -> torch.Tensor:
    """The input to a conv block's ReLU (conv + batch norm output) in a ShapesNet-style Sequential.

    Blocks before ``block`` run in full; inside ``block`` every layer but the last (the ReLU) runs.
    """
    h = x
    with torch.no_grad():
        for name, child in features.named_children():
            if name == block:
                return child[:-1](h)
            h = child(h)
    raise KeyError(f"no block named {block!r}")


@dataclass(frozen=True)
class DeadUnits:
    zero_fraction: float  # share of all activations that are exactly 0 after ReLU
    dead_channels: float  # share of channels that are 0 for every image and position (no gradient at all)


def dead_units(pre: np.ndarray, bias: float, activation: str = "ReLU", slope: float = 0.01) -> DeadUnits:
    """How much of a layer a bias shift kills. pre: (N, C, H, W) pre-activations.

    With Leaky ReLU nothing is exactly zero (for non-zero inputs) and no channel loses its gradient.
    """
    shifted = pre + bias
    post = np.maximum(shifted, 0) if activation == "ReLU" else np.where(shifted > 0, shifted, slope * shifted)
    zero = post == 0
    dead = zero.transpose(1, 0, 2, 3).reshape(pre.shape[1], -1).all(1)
    return DeadUnits(float(zero.mean()), float(dead.mean()))


def dead_curve(pre: np.ndarray, biases: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """dead_units(pre, b, "ReLU") for many biases at once, via sorting instead of a pass per bias.

    A ReLU output is zero exactly when pre + b <= 0; a channel is dead when its maximum is.
    """
    flat = np.sort(pre.ravel())
    zero = np.searchsorted(flat, -biases, side="right") / flat.size
    chan_max = pre.transpose(1, 0, 2, 3).reshape(pre.shape[1], -1).max(1)
    dead = (chan_max[None, :] <= -biases[:, None]).mean(1)
    return zero, dead
