"""Convolution along time (course section 8): 1D signals, causal and dilated convolutions (TCNs),
and transposed convolution, the upsampling half of a fully convolutional network."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.errors import CNNLabError

FAMILIES = {
    "heartbeat (ECG-like)": ("normal", "premature beat", "flutter"),
    "motion sensor (accelerometer-like)": ("still", "walking", "running"),
}
SIGNAL_CLASSES = FAMILIES["heartbeat (ECG-like)"]


# ---------------------------------------------------------------- synthetic signals
def ecg_like(kind: str, length: int, rng: np.random.Generator, noise: float) -> np.ndarray:
    """A heartbeat-like trace: regular spikes (normal), one beat early with a longer pause after it
    (premature beat), or a fast saw-tooth baseline between beats (flutter); plus Gaussian noise."""
    if kind not in SIGNAL_CLASSES:
        raise CNNLabError(f"Unknown signal class {kind!r}; choose from {', '.join(SIGNAL_CLASSES)}.")
    t = np.arange(length, dtype=np.float32)
    period = rng.uniform(40, 60)
    beats = list(np.arange(rng.uniform(0, period), length, period))
    if kind == "premature beat" and len(beats) > 3:
        k = int(rng.integers(1, len(beats) - 2))
        beats[k] -= period * rng.uniform(0.35, 0.5)
    x = np.zeros(length, np.float32)
    for b in beats:
        x += np.exp(-((t - b) ** 2) / (2 * 1.5 ** 2))  # the sharp "R" spike
        x += 0.25 * np.exp(-((t - b - period * 0.3) ** 2) / (2 * 5.0 ** 2))  # a broad "T" wave
    if kind == "flutter":
        x += 0.3 * ((t / rng.uniform(6, 9)) % 1.0 - 0.5)
    return x + rng.normal(0, noise, length).astype(np.float32)


def activity_like(kind: str, length: int, rng: np.random.Generator, noise: float) -> np.ndarray:
    """A vertical-acceleration trace at 50 samples/s, in g: standing still (gravity and a slow sway),
    walking (~2 steps/s, smooth), running (~3 steps/s, sharp foot strikes); plus Gaussian noise."""
    t = np.arange(length, dtype=np.float32) / 50.0
    phase = rng.uniform(0, 2 * np.pi)
    if kind == "still":
        x = 1.0 + 0.03 * np.sin(2 * np.pi * rng.uniform(0.1, 0.3) * t + phase)
    elif kind == "walking":
        f = rng.uniform(1.6, 2.2)
        x = 1.0 + 0.35 * np.sin(2 * np.pi * f * t + phase) + 0.12 * np.sin(4 * np.pi * f * t + 2 * phase)
    elif kind == "running":
        f = rng.uniform(2.6, 3.4)
        x = 0.4 + 1.6 * np.abs(np.sin(np.pi * f * t + phase)) ** 6
    else:
        raise CNNLabError(f"Unknown activity {kind!r}; choose from still, walking, running.")
    return (x + rng.normal(0, noise, length)).astype(np.float32)


def signal(family: str, kind: str, length: int, rng: np.random.Generator, noise: float) -> np.ndarray:
    if family not in FAMILIES:
        raise CNNLabError(f"Unknown signal family {family!r}; choose from {', '.join(FAMILIES)}.")
    return (ecg_like if family.startswith("heartbeat") else activity_like)(kind, length, rng, noise)


def make_signals(n: int, *, family: str = "heartbeat (ECG-like)", length: int = 256, noise: float = 0.05,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n balanced signals (n, length) float32 of one family, and labels, deterministic by seed."""
    rng = np.random.default_rng(seed)
    classes = FAMILIES[family]
    labels = np.arange(n) % len(classes)
    rng.shuffle(labels)
    return (np.stack([signal(family, classes[c], length, rng, noise) for c in labels]), labels.astype(np.int64))


KERNELS_1D = {
    "moving average (smoothing)": [1 / 5] * 5,
    "derivative (difference)": [-1.0, 0.0, 1.0],
    "second derivative": [1.0, -2.0, 1.0],
    "spike template (matched filter)": [0.1, 0.4, 1.0, 0.4, 0.1],
}


def conv1d(signal: np.ndarray, kernel: list[float], stride: int = 1, padding: int = 0,
           dilation: int = 1) -> np.ndarray:
    """nn.Conv1d's cross-correlation of one signal with one kernel (1 channel in, 1 out, no bias)."""
    if not kernel:
        raise CNNLabError("The kernel needs at least one number.")
    span = dilation * (len(kernel) - 1) + 1
    if len(signal) + 2 * padding < span:
        raise CNNLabError(f"The kernel spans {span} samples, more than the padded signal "
                          f"({len(signal) + 2 * padding}).")
    x = torch.tensor(np.asarray(signal, np.float32))[None, None]
    w = torch.tensor(np.asarray(kernel, np.float32))[None, None]
    return F.conv1d(x, w, stride=stride, padding=padding, dilation=dilation)[0, 0].numpy()


# ---------------------------------------------------------------- causal, dilated convolutions
class CausalConv1d(nn.Conv1d):
    """A Conv1d that only looks back: (k - 1) * dilation zeros are padded on the left, none on the
    right, so output t depends on inputs t, t - d, t - 2d, ... and never on the future."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, dilation: int = 1):
        super().__init__(c_in, c_out, kernel_size, dilation=dilation)
        self.left = (kernel_size - 1) * dilation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, (self.left, 0)))


class TCN(nn.Module):
    """Stacked dilated convolutions (dilations 1, 2, 4, ... by default), causal or centred."""

    def __init__(self, kernel_size: int, dilations: list[int], channels: int = 8, causal: bool = True):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 1
        for d in dilations:
            conv = CausalConv1d(c_in, channels, kernel_size, d) if causal else \
                nn.Conv1d(c_in, channels, kernel_size, dilation=d, padding=(kernel_size - 1) * d // 2)
            layers += [conv, nn.ReLU()]
            c_in = channels
        self.body = nn.Sequential(*layers)
        self.out = nn.Conv1d(channels, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(x))


@lru_cache(maxsize=32)
def untrained_tcn(kernel_size: int, dilations: tuple[int, ...], causal: bool = True) -> TCN:
    """A TCN with seed-0 random weights, in eval mode, made once per shape: the causality and
    receptive-field checks need a network, not a trained one, and the same one on every rerun.
    Callers must not train or modify it (it is shared)."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return TCN(kernel_size, list(dilations), causal=causal).eval()


def dilation_schedule(layers: int, kind: str) -> list[int]:
    if kind == "doubling (1, 2, 4, ...)":
        return [2 ** i for i in range(layers)]
    if kind == "constant (1, 1, 1, ...)":
        return [1] * layers
    raise CNNLabError(f"Unknown dilation schedule {kind!r}.")


def receptive_field(kernel_size: int, dilations: list[int]) -> int:
    """1 + (k - 1) * sum(dilations): how many input steps one output step can see."""
    return 1 + (kernel_size - 1) * sum(dilations)


def empirical_receptive_field(model: nn.Module, length: int, t: int) -> np.ndarray:
    """Input steps with a non-zero gradient of output step t: what output t really depends on."""
    x = torch.randn(1, 1, length, requires_grad=True)
    model.eval()
    (grad,) = torch.autograd.grad(model(x)[0, 0, t], x)  # the input's gradient only: the model may be shared
    return np.flatnonzero(grad[0, 0].abs().numpy() > 0)


def dependency_tree(kernel_size: int, dilations: list[int], t: int) -> list[list[int]]:
    """For a causal stack: the time steps each level reads to make output t, from the output layer
    (level L) down to the input (level 0). level[i] = the steps of layer i's output that matter."""
    levels = [[t]]
    for d in reversed(dilations):
        below = sorted({s - j * d for s in levels[-1] for j in range(kernel_size) if s - j * d >= 0})
        levels.append(below)
    return levels[::-1]


def tree_edges(kernel_size: int, dilations: list[int], tree: list[list[int]]) -> tuple[list, list]:
    """The dependency tree's edges as one polyline (x = time step, y = level, None between edges):
    each step of level l reads kernel_size steps of level l-1, dilations[l-1] apart."""
    xs, ys = [], []
    for level in range(1, len(tree)):
        d = dilations[level - 1]
        for s in tree[level]:
            for j in range(kernel_size):
                if s - j * d >= 0:
                    xs += [s, s - j * d, None]
                    ys += [level, level - 1, None]
    return xs, ys


def perturbation_effect(model: nn.Module, signal: np.ndarray, t: int, bump: float = 1.0) -> np.ndarray:
    """|output change| at every step when every input after step t is changed by `bump`."""
    x = torch.tensor(np.asarray(signal, np.float32))[None, None]
    changed = x.clone()
    changed[..., t + 1:] += bump
    model.eval()
    with torch.no_grad():
        return (model(changed) - model(x))[0, 0].abs().numpy()


# ---------------------------------------------------------------- transposed convolution
@dataclass(frozen=True)
class Transposed:
    size: int
    kernel: int
    stride: int
    padding: int
    output_padding: int = 0
    dilation: int = 1

    def validate(self) -> None:
        if self.output_padding >= max(self.stride, self.dilation):
            raise CNNLabError(f"output_padding must be smaller than the stride or the dilation "
                              f"(got {self.output_padding}, stride {self.stride}, dilation {self.dilation}).")
        if self.output_size() < 1:
            raise CNNLabError(f"These settings give an output of {self.output_size()} pixels; reduce the padding.")

    def output_size(self) -> int:
        """(in - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1"""
        return ((self.size - 1) * self.stride - 2 * self.padding + self.dilation * (self.kernel - 1)
                + self.output_padding + 1)

    def landing(self) -> np.ndarray:
        """How many (input pixel, kernel tap) pairs land on each output pixel of a 2D transposed conv
        with a square input and kernel of ones: the overlap pattern (checkerboard when kernel % stride != 0)."""
        self.validate()
        x = torch.ones(1, 1, self.size, self.size)
        w = torch.ones(1, 1, self.kernel, self.kernel)
        return F.conv_transpose2d(x, w, stride=self.stride, padding=self.padding,
                                  output_padding=self.output_padding, dilation=self.dilation)[0, 0].numpy()

    def footprint(self, i: int, j: int) -> np.ndarray:
        """Where input pixel (i, j) lands: the output pixels its kernel copy touches (bool mask)."""
        self.validate()
        x = torch.zeros(1, 1, self.size, self.size)
        x[0, 0, i, j] = 1.0
        w = torch.ones(1, 1, self.kernel, self.kernel)
        return F.conv_transpose2d(x, w, stride=self.stride, padding=self.padding,
                                  output_padding=self.output_padding, dilation=self.dilation)[0, 0].numpy() > 0


# ---------------------------------------------------------------- cost of one layer in 1D, 2D and 3D
@lru_cache(maxsize=16)
def conv_cost(dims: int, c_in: int = 16, c_out: int = 32, side: int = 32, kernel: int = 3) -> tuple[int, int]:
    """(parameters, MACs) of one conv layer with a kernel^dims window on a side^dims input,
    counted by torch's FlopCounterMode on the meta device."""
    from torch.utils.flop_counter import FlopCounterMode

    layer_cls = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[dims]
    with torch.device("meta"):
        layer = layer_cls(c_in, c_out, kernel, padding=kernel // 2)
        x = torch.empty(1, c_in, *([side] * dims))
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        layer(x)
    return sum(p.numel() for p in layer.parameters()), counter.get_total_flops() // 2


def parse_kernel(text: str, max_taps: int = 15) -> list[float]:
    """'1, -2, 1' -> [1.0, -2.0, 1.0]; CNNLabError saying what is accepted otherwise."""
    parts = [p for p in text.replace(";", ",").replace(" ", ",").split(",") if p]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise CNNLabError(f"The kernel must be numbers separated by commas, e.g. `1, -2, 1` "
                          f"(got {text[:40]!r}).") from None
    if not 1 <= len(values) <= max_taps or not all(np.isfinite(values)):
        raise CNNLabError(f"The kernel needs 1 to {max_taps} finite numbers (got {len(values)}).")
    return values


# ---------------------------------------------------------------- a 1D CNN for the signals
class SignalCNN(nn.Module):
    """Three 1D conv blocks and a global-average-pool head (so a 1D Grad-CAM is meaningful)."""

    def __init__(self, num_classes: int = 3, width: int = 16):
        super().__init__()
        w = width

        def block(c_in: int, c_out: int, k: int) -> list[nn.Module]:
            return [nn.Conv1d(c_in, c_out, k, padding=k // 2, bias=False), nn.BatchNorm1d(c_out), nn.ReLU()]

        self.features = nn.Sequential(*block(1, w, 7), nn.MaxPool1d(2), *block(w, 2 * w, 5), nn.MaxPool1d(2),
                                      *block(2 * w, 2 * w, 5))
        self.head = nn.Sequential(nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(2 * w, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@dataclass
class SignalResult:
    class_names: tuple[str, ...]
    model: SignalCNN
    test_x: torch.Tensor  # (N, 1, L), raw
    test_y: torch.Tensor
    accuracy: float
    per_class: dict[str, float]
    history: dict[str, list[float]]
    seconds: float
    mean: float = 0.0  # the training signals' statistics, which the model's inputs are normalised with
    std: float = 1.0

    def explain(self, i: int, target: int) -> np.ndarray:
        """1D Grad-CAM of held-out signal i for class `target`."""
        return grad_cam_1d(self.model, (self.test_x[i] - self.mean) / self.std, target)


def train_signal_cnn(*, family: str = "heartbeat (ECG-like)", n_train: int = 600, n_test: int = 300,
                     noise: float = 0.05, epochs: int = 8, seed: int = 0, data=None,
                     should_stop=lambda: False, progress=lambda f, t: None) -> SignalResult:
    """Train SignalCNN with the Training Monitor's loop and score it on held-out signals: fresh
    synthetic ones of a family, or ``data`` = (signals (N, L), labels, class names) from an upload,
    split 75/25 (stratified where possible)."""
    from core.training import ProgressObserver, Split, TrainConfig, Trainer

    if data is None:
        classes = FAMILIES[family]
        xs, ys = make_signals(n_train, family=family, noise=noise, seed=seed)
        xt, yt = make_signals(n_test, family=family, noise=noise, seed=seed + 10_000)  # never-seen signals
    else:
        from sklearn.model_selection import train_test_split

        x, y, classes = data
        counts = np.bincount(y)
        tr, te = train_test_split(np.arange(len(y)), test_size=0.25, random_state=seed,
                                  stratify=y if counts[counts > 0].min() >= 2 else None)
        xs, ys, xt, yt = x[tr], y[tr], x[te], y[te]
    train = Split(torch.from_numpy(xs)[:, None], torch.from_numpy(ys))
    test = Split(torch.from_numpy(xt)[:, None], torch.from_numpy(yt))
    mean, std = train.x.mean().view(1), train.x.std().clamp_min(1e-6).view(1)
    torch.manual_seed(seed)
    model = SignalCNN(len(classes))
    cfg = TrainConfig(optimizer="adam", lr=5e-3, batch_size=32, schedule="onecycle", epochs=epochs, seed=seed)
    trainer = Trainer(cfg, model, train, test, tuple(classes), mean, std)
    trainer.observers.append(ProgressObserver(progress))
    trainer.run(should_stop)
    last = trainer.snapshots[-1]
    totals = last.confusion.sum(1)
    per_class = {c: float(last.confusion[i, i] / totals[i]) if totals[i] else float("nan")
                 for i, c in enumerate(classes)}
    history = {k: [float(getattr(s, k)) for s in trainer.snapshots] for k in ("train_loss", "val_loss", "val_acc")}
    return SignalResult(tuple(classes), model.eval(), test.x, test.y, last.val_acc, per_class, history,
                        trainer.train_seconds, float(mean), float(std))


def grad_cam_1d(model: SignalCNN, signal: torch.Tensor, target: int) -> np.ndarray:
    """Grad-CAM over time for one signal (1, L): where the evidence for `target` is, in [0, 1], length L.

    Written here because pytorch-grad-cam 1.5.7 accepts only 2D and 3D inputs (its issues #233, #361 and
    #518 ask for 1D); the recipe is the same: channel weights = time-averaged gradients of the class
    score, map = ReLU(weighted sum of the last conv block's activations), stretched to the signal."""
    model.eval()
    acts: list[torch.Tensor] = []
    handle = model.features.register_forward_hook(lambda _m, _i, out: acts.append(out))
    try:
        score = model(signal[None])[0, target]
        grads = torch.autograd.grad(score, acts[0])[0][0]  # (C, T)
    finally:
        handle.remove()
    cam = torch.relu((grads.mean(1, keepdim=True) * acts[0][0].detach()).sum(0))
    cam = F.interpolate(cam[None, None], size=signal.shape[-1], mode="linear", align_corners=False)[0, 0]
    return (cam / cam.max()).numpy() if float(cam.max()) > 0 else cam.numpy()
