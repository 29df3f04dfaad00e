"""Architecture profiling on the meta device: per-layer shapes, parameters, MACs, receptive fields.

Models are built with ``torch.device("meta")``: tensors have shapes but no storage, so VGG16's
138 M parameters cost nothing. ``torch.utils.flop_counter.FlopCounterMode`` counts FLOPs from
shapes alone; it counts 2 FLOPs per multiply-accumulate, so MACs = FLOPs / 2. It counts nothing
under ``torch.inference_mode``, which is why the forward pass here runs under ``no_grad``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils.flop_counter import FlopCounterMode

from core.errors import CNNLabError
from core.architectures import ShapesNet, SimpleCNN

GLOBAL_RF = math.inf  # a unit that sees the whole input (after attention or global pooling)


@dataclass(frozen=True)
class ArchSpec:
    key: str
    label: str
    family: str
    input_size: int
    build: Callable[..., nn.Module]  # build(image_size) -> model
    ref_params: int | None = None  # torchvision's published figures (from the weights' metadata)
    ref_gmacs: float | None = None  # torchvision calls these GFLOPS; they are GMACs at batch 1
    note: str = ""
    size_step: int = 1  # input sizes must be a multiple of this (ViT: its patch size)
    fixed_size: bool = False  # only input_size works (a flatten into a fixed linear layer)


def _tv(key: str, label: str, family: str, size: int = 224, note: str = "", step: int = 1, **kwargs) -> ArchSpec:
    import torchvision
    from torchvision.models import get_model_weights

    meta = get_model_weights(key).DEFAULT.meta

    def build(image_size: int = size) -> nn.Module:
        extra = {"image_size": image_size} if key.startswith("vit") else {}
        return torchvision.models.get_model(key, weights=None, **kwargs, **extra)

    return ArchSpec(key, label, family, size, build, meta["num_params"], meta["_ops"], note, step)


ARCHS: dict[str, ArchSpec] = {s.key: s for s in (
    _tv("vgg16", "VGG16", "VGG"),
    _tv("resnet18", "ResNet-18", "ResNet"),
    _tv("resnet50", "ResNet-50", "ResNet"),
    _tv("googlenet", "GoogLeNet (Inception v1)", "Inception", aux_logits=False, init_weights=False,
        note="Built without the two auxiliary classifiers, as torchvision's published weights are."),
    _tv("inception_v3", "Inception-v3", "Inception", 299, aux_logits=True, init_weights=False,
        note="Parameters include the auxiliary classifier (3.3 M), which only runs in training, so "
             "the MACs (eval mode) do not."),
    _tv("mobilenet_v2", "MobileNet-V2", "MobileNet"),
    _tv("mobilenet_v3_small", "MobileNet-V3-Small", "MobileNet"),
    _tv("efficientnet_b0", "EfficientNet-B0", "EfficientNet"),
    _tv("convnext_tiny", "ConvNeXt-Tiny", "ConvNeXt"),
    _tv("vit_b_16", "ViT-B/16", "Vision Transformer", step=16,
        note="Position embeddings depend on the input size, so other resolutions change the parameter count."),
    ArchSpec("simplecnn", "SimpleCNN (course)", "Course", 32, lambda image_size=32: SimpleCNN(10),
             note="Its linear layer expects 8x8 maps, so it only accepts 32x32 input.", fixed_size=True),
    ArchSpec("shapesnet", "ShapesNet (shipped)", "Course", 64, lambda image_size=64: ShapesNet()),
)}
TORCHVISION_ARCHS = [k for k, s in ARCHS.items() if s.ref_params is not None]


@dataclass
class LayerRow:
    name: str
    type: str
    out_shape: tuple[int, ...]
    params: int  # the module's own parameters (not its children's)
    macs: int  # multiply-accumulates done by the module itself
    rf: float  # receptive field of one output unit, in input pixels (GLOBAL_RF: whole input)
    jump: int  # distance in input pixels between neighbouring output units

    @property
    def act_numel(self) -> int:
        return math.prod(self.out_shape)


@dataclass
class Profile:
    key: str
    input_size: int
    rows: list[LayerRow]
    total_params: int
    total_macs: int
    output_shape: tuple[int, ...]
    stages: list[tuple[str, list[LayerRow]]] = field(default_factory=list)
    # (name, type, receptive field, jump) of every leaf module in forward order, pools and activations included
    fields: list[tuple[str, str, float, int]] = field(default_factory=list)

    @property
    def activation_bytes(self) -> int:
        """float32 bytes of every layer's output at batch 1 (what inference keeps for a backward pass)."""
        return 4 * sum(r.act_numel for r in self.rows)


def _tensors(obj):
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _tensors(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from _tensors(item)


def _pair(v, default):
    v = default if v is None else v
    return (v, v) if isinstance(v, int) else tuple(v)


def _arg(args, kwargs, index, name, default):
    if name in kwargs:
        return kwargs[name]
    return args[index] if len(args) > index else default


class ReceptiveFieldMode(TorchFunctionMode):
    """Follows the receptive field (size r, jump j, in input pixels) through every torch call.

    Written by hand because no maintained library tracks receptive fields through arbitrary
    graphs; the rules are the standard ones: r_out = r_in + (k - 1) * d * j_in, j_out = j_in * s.
    Ops that combine tensors (add, cat) take the largest field of their inputs; attention,
    flatten of a spatial map and global pooling make every output see the whole input.
    """

    def __init__(self, x: torch.Tensor):
        super().__init__()
        self.rf: dict[int, tuple[float, int]] = {id(x): (1.0, 1)}
        self._alive = [x]  # keeps tracked tensors alive so their ids are not reused

    def lookup(self, t) -> tuple[float, int] | None:
        return self.rf.get(id(t))

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        known = [self.rf[id(t)] for t in _tensors((args, kwargs)) if id(t) in self.rf]
        if not known:
            return out
        r, j = max(k[0] for k in known), max(k[1] for k in known)
        name = getattr(func, "__name__", "")
        src = args[0] if args else None
        if name == "conv2d":
            k = args[1].shape[-2]
            s, d = _pair(_arg(args, kwargs, 3, "stride", 1), 1)[0], _pair(_arg(args, kwargs, 5, "dilation", 1), 1)[0]
            r, j = r + (k - 1) * d * j, j * s
        elif name in ("max_pool2d", "avg_pool2d", "max_pool2d_with_indices"):
            k = _pair(_arg(args, kwargs, 1, "kernel_size", 1), 1)[0]
            s = _pair(_arg(args, kwargs, 2, "stride", None) or k, k)[0]
            d = _pair(_arg(args, kwargs, 4, "dilation", 1), 1)[0] if name != "avg_pool2d" else 1
            r, j = r + (k - 1) * d * j, j * s
        elif name.startswith("adaptive_") and isinstance(src, torch.Tensor) and src.dim() == 4:
            out_t = next(_tensors(out))
            if out_t.shape[-1] == 1 or out_t.shape[-2] == 1:
                r = GLOBAL_RF
            else:  # PyTorch's adaptive windows: stride floor(in/out), kernel ceil(in/out)
                i, o = src.shape[-1], out_t.shape[-1]
                k, s = -(-i // o), i // o
                r, j = r + (k - 1) * j, j * s
        elif name == "multi_head_attention_forward" or (
                name == "flatten" and isinstance(src, torch.Tensor) and src.dim() == 4):
            r = GLOBAL_RF
        for t in _tensors(out):
            self.rf[id(t)] = (r, j)
            self._alive.append(t)
        return out


def build_meta(key: str, size: int | None = None) -> nn.Module:
    spec = ARCHS[key]
    with torch.device("meta"):
        return spec.build(size or spec.input_size).eval()


def profile(key: str, size: int | None = None) -> Profile:
    """Profile one architecture at size x size input on the meta device (no weights allocated)."""
    if key not in ARCHS:
        raise CNNLabError(f"Unknown architecture {key!r}; choose from {list(ARCHS)}.")
    spec = ARCHS[key]
    size = size or spec.input_size
    try:
        model = build_meta(key, size)
    except (ValueError, AssertionError, RuntimeError) as err:
        raise CNNLabError(f"{spec.label} cannot be built for {size}x{size} input ({err}).") from None
    return _profile_model(model, size, key)


def profile_module(model: nn.Module, size: int, key: str = "custom") -> Profile:
    """Profile a module built on the meta device (``with torch.device("meta"): ...``)."""
    return _profile_model(model.eval(), size, key)


def _profile_model(model: nn.Module, size: int, key: str) -> Profile:
    x = torch.empty(1, 3, size, size, device="meta")
    order: list[str] = []
    shapes: dict[str, tuple[int, ...]] = {}
    fields: dict[str, tuple[float, int]] = {}
    names = {m: n for n, m in model.named_modules()}
    rf_mode = ReceptiveFieldMode(x)

    def hook(module, _inputs, output):
        name = names[module]
        first = next(_tensors(output), None)
        if name not in shapes and first is not None:
            order.append(name)
            shapes[name] = tuple(first.shape[1:])
            fields[name] = rf_mode.lookup(first) or (1.0, 1)

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    counter = FlopCounterMode(display=False)
    try:
        with counter, rf_mode, torch.no_grad():
            out = model(x)
    except (RuntimeError, ValueError, AssertionError, IndexError) as err:
        raise CNNLabError(_too_small_message(key, size, err)) from None
    finally:
        for h in handles:
            h.remove()
    root = type(model).__name__
    flops = {name: sum(counts.values()) for name, counts in counter.get_flop_counts().items()}

    def total(name: str) -> int:
        return flops.get(f"{root}.{name}" if name else root, 0)

    rows = []
    for name in order:
        module = model.get_submodule(name)
        own_params = sum(p.numel() for p in module.parameters(recurse=False))
        own_flops = total(name) - sum(total(f"{name}.{c}" if name else c) for c, _ in module.named_children())
        if name and (own_params or own_flops):
            r, j = fields[name]
            rows.append(LayerRow(name, type(module).__name__, shapes[name], own_params, own_flops // 2, r, j))
    # Parameters used by no hooked module (e.g. ViT's class token and position embedding) go on a row of their own.
    unlisted = sum(p.numel() for p in model.parameters()) - sum(r.params for r in rows)
    loose_macs = total("") - sum(total(n) for n, _ in model.named_children())
    if unlisted or loose_macs:
        rows.append(LayerRow("(model-level)", root, (), unlisted, loose_macs // 2, GLOBAL_RF, 0))
    first_out = next(_tensors(out))
    prof = Profile(key, size, rows, sum(p.numel() for p in model.parameters()), total("") // 2,
                   tuple(first_out.shape[1:]))
    prof.stages = stages(rows, size)
    prof.fields = [(n, type(model.get_submodule(n)).__name__, *fields[n]) for n in order
                   if n and not any(True for _ in model.get_submodule(n).children())]
    return prof


def stages(rows: list[LayerRow], size: int) -> list[tuple[str, list[LayerRow]]]:
    """Consecutive layers at one resolution form a stage (the usual meaning in CNN papers).

    Resolution comes from the jump (input pixels between neighbouring output units), not from the
    output shape, so channels-last layers (ConvNeXt) and squeeze-excitation 1x1 maps stay in their stage.
    """
    groups: list[tuple[str, list[LayerRow]]] = []
    for row in rows:
        label = f"{-(-size // row.jump)}x{-(-size // row.jump)}" if row.jump else "model-level"
        if groups and groups[-1][0] == label:
            groups[-1][1].append(row)
        else:
            groups.append((label, [row]))
    return groups


def _too_small_message(key: str, size: int, err: Exception) -> str:
    label = ARCHS[key].label if key in ARCHS else "This model"
    smallest = smallest_input(key) if key in ARCHS else None
    hint = f" The smallest input it accepts is {smallest}x{smallest}." if smallest else ""
    return f"{label} cannot run on {size}x{size} input: {str(err).splitlines()[0][:160]}.{hint}"


@lru_cache(maxsize=None)
def smallest_input(key: str, hi: int = 512) -> int | None:
    """Smallest square input the architecture runs on: a binary search over its allowed sizes on
    the meta device (a too-small input fails in some layer; anything larger works)."""
    spec = ARCHS[key]
    if spec.fixed_size:
        return spec.input_size

    def runs(s: int) -> bool:
        try:
            with torch.no_grad():
                build_meta(key, s)(torch.empty(1, 3, s, s, device="meta"))
            return True
        except (RuntimeError, ValueError, AssertionError, IndexError):
            return False

    step = spec.size_step
    lo, hi = 1, hi // step  # in units of step
    if not runs(hi * step):
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if runs(mid * step):
            hi = mid
        else:
            lo = mid + 1
    return lo * step


def table(rows: list[LayerRow], total_macs: int, search: str = "") -> list[dict]:
    """Layer-table records; `search` keeps rows whose name or type contains it (case-insensitive)."""
    needle = search.strip().lower()
    return [{
        "layer": r.name, "type": r.type, "output": " x ".join(map(str, r.out_shape)),
        "params": r.params, "MACs": r.macs, "MAC share": r.macs / total_macs if total_macs else 0.0,
        "receptive field": "whole input" if r.rf == GLOBAL_RF else f"{int(r.rf)} px",
    } for r in rows if not needle or needle in r.name.lower() or needle in r.type.lower()]


def stage_summary(prof: Profile) -> list[dict]:
    """Per stage: layers, params, MACs, float32 activation memory."""
    return [{"stage": label, "layers": len(rows), "params": sum(r.params for r in rows),
             "MACs": sum(r.macs for r in rows), "activation MB": 4 * sum(r.act_numel for r in rows) / 2**20,
             "params MB": 4 * sum(r.params for r in rows) / 2**20} for label, rows in prof.stages]


def receptive_field_curve(prof: Profile) -> list[tuple[str, float]]:
    """(layer, receptive field) for every conv and pooling layer whose field is still local."""
    return [(name, rf) for name, kind, rf, _ in prof.fields
            if ("Conv" in kind or "Pool" in kind) and rf != GLOBAL_RF]


def allowed_sizes(key: str) -> list[int]:
    """Input sizes the resolution slider offers for an architecture."""
    spec = ARCHS[key]
    if spec.fixed_size:
        return [spec.input_size]
    step = max(16, spec.size_step)
    return sorted(set(range(32, 513, step)) | {spec.input_size})
