"""Interpretability: the CAM family (pytorch-grad-cam), gradient saliency, SmoothGrad and occlusion
(Captum), and checks of whether a map is faithful to the model.

Every method that registers hooks or needs gradients runs inside ``model_for_gradients``: it holds
the shared model's lock, switches gradients on, and restores eval mode and the ``requires_grad``
flags afterwards, so concurrent sessions never see each other's hooks or gradients.
"""
from __future__ import annotations

import copy
import hashlib
import threading
import weakref
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.errors import CNNLabError
from core.models import LoadedModel

# Method -> its pytorch-grad-cam class. The libraries (grad-cam with matplotlib and scikit-learn, Captum,
# SciPy: about 350 MB together) are imported by the functions that use them, so pages that only need
# this module's helpers, or use it behind a button, do not pay for them on opening.
CAM_METHODS = {
    "Grad-CAM": "GradCAM",
    "Grad-CAM++": "GradCAMPlusPlus",
    "XGrad-CAM": "XGradCAM",
    "Layer-CAM": "LayerCAM",
    "Eigen-CAM": "EigenCAM",
    "Score-CAM": "ScoreCAM",  # one forward pass per channel of the layer: slow, runs behind a button
}
SLOW_METHODS = ("Score-CAM",)
SALIENCY = "Saliency"  # gradient saliency (Captum), cached beside the CAMs


@contextmanager
def model_for_gradients(loaded: LoadedModel):
    """The shared model, locked, in eval mode with gradients on; everything restored on exit."""
    with loaded.lock:
        model = loaded.model
        was_training = model.training
        params = list(model.parameters())
        flags = [p.requires_grad for p in params]
        model.eval()
        for p in params:
            p.requires_grad_(True)
        try:
            yield model
        finally:
            model.zero_grad(set_to_none=True)
            for p, flag in zip(params, flags):
                p.requires_grad_(flag)
            model.train(was_training)


def layer_shapes(loaded: LoadedModel, x: torch.Tensor) -> dict[str, tuple[int, ...]]:
    """Output shape (without batch) of every named module for input x, in forward order."""
    shapes: dict[str, tuple[int, ...]] = {}
    names = {m: n for n, m in loaded.model.named_modules() if n}

    def hook(module, _inputs, output):
        if isinstance(output, torch.Tensor):
            shapes.setdefault(names[module], tuple(output.shape[1:]))

    with loaded.lock:
        handles = [m.register_forward_hook(hook) for m in names]
        try:
            with torch.no_grad():
                loaded.model(x)
        finally:
            for h in handles:
                h.remove()
    return shapes


def spatial_layers(shapes: dict[str, tuple[int, ...]]) -> list[str]:
    """Layers whose output is a (C, H, W) or (C, D, H, W) map, every spatial side > 1: what a CAM can use."""
    return [n for n, s in shapes.items() if len(s) in (3, 4) and min(s[1:]) > 1]


def check_target(loaded: LoadedModel, target: int) -> None:
    n = len(loaded.class_names)
    if not 0 <= target < n:
        raise CNNLabError(f"Class index {target} is out of range: this model has classes 0 to {n - 1}.")


def cam(loaded: LoadedModel, x: torch.Tensor, method: str, layer: str, target: int) -> np.ndarray:
    """A class activation map in [0, 1] at the input's resolution, via pytorch-grad-cam.

    Works for images (N, C, H, W) and volumes (N, C, D, H, W); the map has the input's spatial shape."""
    return cams(loaded, x, [method], layer, target)[method]


def attribution(loaded: LoadedModel, x: torch.Tensor, method: str, layer: str, target: int) -> np.ndarray:
    """One live map, uncached: gradient saliency (which has no layer) or a CAM of ``layer``."""
    return saliency(loaded, x, target) if method == SALIENCY else cam(loaded, x, method, layer, target)


def cams(loaded: LoadedModel, x: torch.Tensor, methods: list[str], layer: str, target: int) -> dict[str, np.ndarray]:
    """Several methods' maps of one layer and class, as ``cam`` makes each.

    pytorch-grad-cam runs a forward and a backward pass per method, yet the gradient methods and
    Eigen-CAM all weigh the same activations and gradients. So every engine is attached at once, one
    pass records for all of them, and each method's own ``compute_cam_per_layer`` weighs that record.
    Score-CAM runs forward passes of its own, so it always runs alone."""
    unknown = [m for m in methods if m not in CAM_METHODS]
    if unknown:
        raise CNNLabError(f"Unknown method {unknown[0]!r}; choose from {list(CAM_METHODS)}.")
    check_target(loaded, target)
    modules = dict(loaded.model.named_modules())
    if layer not in modules:
        raise CNNLabError(f"The model has no layer named {layer!r}.")
    shape = _layer_output_shape(loaded, layer, x)
    if shape is None or len(shape) not in (4, 5) or min(shape[2:]) < 2:
        raise CNNLabError(f"Layer {layer!r} outputs {tuple(shape) if shape else 'no tensor'}, not a spatial "
                          "map (channels x height x width, or x depth for volumes); pick a convolutional layer.")
    shared = [m for m in methods if m not in SLOW_METHODS]
    runs = [shared] if shared else []
    runs += [[m] for m in methods if m in SLOW_METHODS]
    maps = {}
    for run in runs:
        maps.update(_one_pass(loaded, x, run, modules[layer], target))
    return {m: maps[m] for m in methods}


def _one_pass(loaded: LoadedModel, x: torch.Tensor, methods: list[str], module: nn.Module,
              target: int) -> dict[str, np.ndarray]:
    """``methods``' maps from one pass, made by an engine that takes gradients (when any does), so that
    every method finds them recorded."""
    import pytorch_grad_cam
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    volume = x.dim() == 5
    targets = [ClassifierOutputTarget(target)]
    grey = {}
    with model_for_gradients(loaded) as model:
        engines = {m: getattr(pytorch_grad_cam, CAM_METHODS[m])(model=model, target_layers=[module]) for m in methods}
        try:
            for engine in engines.values():
                if volume:
                    # pytorch-grad-cam 1.5.7 enlarges 3D maps with scipy's zoom, which lines up the corner
                    # voxels rather than the voxel centres: a cell's peak lands up to 1.5 voxels off at
                    # 16^3 -> 64^3. So take the map at the layer's own resolution and enlarge it here.
                    engine.get_target_width_height = lambda _x: None
            first = next((m for m in methods if engines[m].uses_gradients), methods[0])
            grey[first] = engines[first](input_tensor=x, targets=targets)  # every engine's hooks record this pass
            for m in methods:
                if m == first:
                    continue
                engine = engines[m]
                grey[m] = engine.aggregate_multi_layers(engine.compute_cam_per_layer(x, targets, False))
        finally:
            for engine in engines.values():
                engine.activations_and_grads.release()
    return {m: _full_size(np.nan_to_num(g[0]).astype(np.float32), x) for m, g in grey.items()}


def _full_size(heat: np.ndarray, x: torch.Tensor) -> np.ndarray:
    """A volume's map enlarged to the input (voxel centres aligned, like cv2.resize in 2D) and rescaled."""
    if x.dim() != 5 or heat.shape == tuple(x.shape[2:]):
        return heat
    t = F.interpolate(torch.from_numpy(heat)[None, None], size=tuple(x.shape[2:]), mode="trilinear",
                      align_corners=False)[0, 0].numpy()
    return (t - t.min()) / (t.max() - t.min()) if t.max() > t.min() else np.zeros_like(t)


# Per model (weakly held, so copies made for the sanity check do not pile up): (layer, input shape) -> output shape
_SHAPES: weakref.WeakKeyDictionary[nn.Module, dict] = weakref.WeakKeyDictionary()
_SHAPES_LOCK = threading.Lock()


def _layer_output_shape(loaded: LoadedModel, layer: str, x: torch.Tensor) -> torch.Size | None:
    """A layer's output shape for inputs shaped like x; probed once per model, layer and input size."""
    key = (layer, tuple(x.shape))
    with _SHAPES_LOCK:
        known = _SHAPES.setdefault(loaded.model, {})
        if key in known:
            return known[key]
    probe: list = []
    with loaded.lock:
        handle = loaded.model.get_submodule(layer).register_forward_hook(
            lambda _m, _i, out: probe.append(getattr(out, "shape", None)))
        try:
            with torch.no_grad():
                loaded.model(x)
        finally:
            handle.remove()
    with _SHAPES_LOCK:
        known[key] = probe[0] if probe else None
    return known[key]


def _content(model_key: str, x: torch.Tensor) -> tuple:
    """What identifies a model's input by content: (model, shape, digest of the bytes)."""
    digest = hashlib.blake2b(x.detach().contiguous().numpy().tobytes(), digest_size=16).hexdigest()
    return model_key, tuple(x.shape), digest


class CamCache:
    """Recent maps keyed by content (model, input bytes, method, layer, class); thread-safe LRU. Holds
    the CAM methods and "Saliency" (which has no layer)."""

    def __init__(self, size: int = 64):
        self.size = size
        self._items: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(model_key: str, x: torch.Tensor, method: str, layer: str, target: int) -> tuple:
        return CamCache.keys(model_key, x, [method], layer, target)[method]

    @staticmethod
    def keys(model_key: str, x: torch.Tensor, methods: list[str], layer: str, target: int) -> dict[str, tuple]:
        """Each method's key; the input is hashed once for all of them."""
        content = _content(model_key, x)
        return {m: (*content, m, None if m == SALIENCY else layer, target) for m in methods}

    def get_or_compute(self, loaded: LoadedModel, x: torch.Tensor, method: str, layer: str, target: int) -> np.ndarray:
        return self.get_or_compute_many(loaded, x, [method], layer, target)[method]

    def get_or_compute_many(self, loaded: LoadedModel, x: torch.Tensor, methods: list[str], layer: str,
                            target: int) -> dict[str, np.ndarray]:
        """Every method's map; the missing CAMs are made together (``cams``: one pass for the lot)."""
        keys = self.keys(loaded.spec.key, x, methods, layer, target)
        with self._lock:
            found = {m: self._items[k] for m, k in keys.items() if k in self._items}
            for m in found:
                self._items.move_to_end(keys[m])
        missing = [m for m in methods if m not in found]
        missing_cams = [m for m in missing if m != SALIENCY]
        made = cams(loaded, x, missing_cams, layer, target) if missing_cams else {}
        if SALIENCY in missing:
            made[SALIENCY] = saliency(loaded, x, target)
        with self._lock:
            for m, heat in made.items():
                self._items[keys[m]] = heat
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return {m: found[m] if m in found else made[m] for m in methods}


CAMS = CamCache()


def prefetch(loaded: LoadedModel, x: torch.Tensor, methods: list[str], layer: str, targets: list[int]) -> None:
    """Make ``methods``' maps for ``targets`` ahead of time, one class at a time (a batch would multiply
    the memory a gradient pass holds). Called once a page has drawn everything, so that picking one of
    these classes next only has to draw. Slow methods are skipped; maps that cannot be made are left out
    (the page reports them when asked)."""
    methods = [m for m in methods if m not in SLOW_METHODS]
    for target in targets:
        try:
            CAMS.get_or_compute_many(loaded, x, methods, layer, target)
        except CNNLabError:
            return


def _to_map(attr: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) attribution -> (H, W) in [0, 1]: absolute value, max over colour channels."""
    a = attr.detach().abs().amax(1)[0].numpy()
    return (a / a.max()).astype(np.float32) if a.max() > 0 else np.zeros_like(a, dtype=np.float32)


def saliency(loaded: LoadedModel, x: torch.Tensor, target: int) -> np.ndarray:
    """Vanilla gradient saliency: |d score / d pixel| (Captum's Saliency)."""
    from captum.attr import Saliency

    check_target(loaded, target)
    with model_for_gradients(loaded) as model:
        return _to_map(Saliency(model).attribute(x.clone().requires_grad_(), target=target, abs=True))


def smoothgrad(loaded: LoadedModel, x: torch.Tensor, target: int, samples: int = 16, noise: float = 0.15,
               seed: int = 0) -> np.ndarray:
    """SmoothGrad: saliency averaged over noisy copies of the input (Captum's NoiseTunnel)."""
    from captum.attr import NoiseTunnel, Saliency

    check_target(loaded, target)
    with model_for_gradients(loaded) as model:
        torch.manual_seed(seed)  # NoiseTunnel draws from the global generator; we hold the model's lock
        attr = NoiseTunnel(Saliency(model)).attribute(x.clone().requires_grad_(), nt_type="smoothgrad", nt_samples=samples,
                                                      nt_samples_batch_size=8, stdevs=noise * float(x.std()),
                                                      target=target, abs=True)
    return _to_map(attr)


def _probability(loaded: LoadedModel):
    from core.models import probabilities

    return lambda inp: probabilities(loaded.spec, loaded.model(inp))


def occlusion(loaded: LoadedModel, x: torch.Tensor, target: int, patch: int, stride: int,
              baseline: torch.Tensor | float = 0.0) -> np.ndarray:
    """Drop in the target class probability when a patch is greyed out, per pixel (Captum's Occlusion).

    baseline: the occluder's value in the model's normalised input space (0 = the dataset mean colour).
    Positive = hiding this region lowers the score.
    """
    from captum.attr import Occlusion

    check_target(loaded, target)
    h, w = x.shape[-2:]
    if not 1 <= stride <= patch <= min(h, w):
        raise CNNLabError(f"Occlusion needs 1 <= stride <= patch <= {min(h, w)} (the input size).")
    with loaded.lock, torch.no_grad():
        attr = Occlusion(_probability(loaded)).attribute(
            x, target=target, sliding_window_shapes=(x.shape[1], patch, patch), strides=(x.shape[1], stride, stride),
            baselines=baseline, perturbations_per_eval=16)
    return attr[0].mean(0).numpy().astype(np.float32)


def occlusion_passes(size: int, patch: int, stride: int) -> int:
    """How many forward passes an occlusion map needs (for the progress message)."""
    per_side = (size - patch) // stride + 1 + (1 if (size - patch) % stride else 0)
    return per_side * per_side


# ---------------------------------------------------------------- faithfulness
def pointing_tolerance(side: int) -> int:
    """Zhang et al.'s pointing game allows 15 px at 224 px input; the same share of other sizes."""
    return round(15 * side / 224)


def pointing_game(heatmap: np.ndarray, mask: np.ndarray, tolerance: int | None = None) -> bool:
    """Is the map's peak on the object (within `tolerance` pixels of the mask)?

    The mask is resized to the map (nearest neighbour); tolerance defaults to pointing_tolerance.
    """
    import cv2

    m = cv2.resize(mask.astype(np.uint8), heatmap.shape[::-1], interpolation=cv2.INTER_NEAREST)
    peak = np.unravel_index(np.argmax(heatmap), heatmap.shape)
    return point_on(m.astype(bool), peak, pointing_tolerance(max(heatmap.shape)) if tolerance is None else tolerance)


def point_on(mask: np.ndarray, point: tuple[int, int], tolerance: int) -> bool:
    """Is a pixel (row, col) within ``tolerance`` px (Euclidean) of the mask?"""
    ys, xs = np.nonzero(mask)
    return bool(len(ys)) and bool(np.min((ys - point[0]) ** 2 + (xs - point[1]) ** 2) <= tolerance ** 2)


@dataclass
class PointingScores:
    """The pointing game over scenes: one trial per (scene, class present)."""

    method: str
    layer: str
    trials: int
    cam: float  # share of trials whose map peak lies on that class's shapes
    centre: float  # the same for a constant guess at the image centre
    random: float  # and for a peak drawn uniformly at random (seeded)


def pointing_game_scenes(loaded: LoadedModel, scenes, layer: str, method: str = "Grad-CAM", seed: int = 0,
                         progress=lambda done, total: None) -> PointingScores:
    """For every class present in each scene (core.scenes.Scene), does its CAM's peak fall on that
    class's pixels (within pointing_tolerance)? Scored next to two baselines on the same trials:
    the image centre, and a random pixel. A map that only found "something in the middle" ties
    with the centre guess; one that localises each class beats both."""
    from core.models import preprocess

    rng = np.random.default_rng(seed)
    hits = {"cam": 0, "centre": 0, "random": 0}
    trials = 0
    for i, scene in enumerate(scenes):
        h, w = scene.labels.shape
        tol = pointing_tolerance(max(h, w))
        x = preprocess(scene.image, loaded.spec)
        for k in np.flatnonzero(scene.present()):
            heat = CAMS.get_or_compute(loaded, x, method, layer, int(k))
            big = cv2_resize(heat, (w, h))
            mask = scene.mask(int(k))
            hits["cam"] += point_on(mask, np.unravel_index(np.argmax(big), big.shape), tol)
            hits["centre"] += point_on(mask, (h // 2, w // 2), tol)
            hits["random"] += point_on(mask, (int(rng.integers(h)), int(rng.integers(w))), tol)
            trials += 1
        progress(i + 1, len(scenes))
    share = {k: v / max(1, trials) for k, v in hits.items()}
    return PointingScores(method, layer, trials, share["cam"], share["centre"], share["random"])


def cv2_resize(heat: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A map resized (bilinear) to (width, height), as the overlays draw it."""
    import cv2

    return cv2.resize(np.asarray(heat, np.float32), size, interpolation=cv2.INTER_LINEAR)


# Random-order deletion curves by content (model, input, grid, steps, seed): every class's probability
# at each step. The random order does not depend on the class, so a class switch only reads its column.
_RANDOM_DELETIONS: OrderedDict[tuple, np.ndarray] = OrderedDict()
_RANDOM_DELETIONS_LOCK = threading.Lock()


def deletion_curve(loaded: LoadedModel, x: torch.Tensor, heatmap: np.ndarray, target: int, grid: int = 16,
                   steps: int = 16, order: str = "saliency", seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Target probability as the most salient regions are replaced by a heavily blurred copy of the
    image. Returns (fraction removed, probability).

    The image is cut into grid x grid cells ranked by their mean saliency. Deleting whole cells,
    and filling them with blur rather than a flat colour, keeps the test about *where* the evidence
    is: scattered pixels or flat grey squares create new edges and shapes a CNN reacts to.
    order="random" ranks the cells at random: the baseline to beat. A faithful map makes the curve
    fall faster than the random one (smaller area under it).
    """
    fractions = np.linspace(0, 1, steps + 1)
    if order != "saliency":
        key = (*_content(loaded.spec.key, x), grid, steps, seed)
        with _RANDOM_DELETIONS_LOCK:
            probs = _RANDOM_DELETIONS.get(key)
        if probs is None:
            probs = _deletion_probs(loaded, x, np.random.default_rng(seed).permutation(grid * grid), grid, fractions)
            with _RANDOM_DELETIONS_LOCK:
                _RANDOM_DELETIONS[key] = probs
                while len(_RANDOM_DELETIONS) > 8:
                    _RANDOM_DELETIONS.popitem(last=False)
        return fractions, probs[:, target]
    import cv2

    cells = cv2.resize(heatmap.astype(np.float32), (grid, grid), interpolation=cv2.INTER_AREA).ravel()
    return fractions, _deletion_probs(loaded, x, np.argsort(-cells, kind="stable"), grid, fractions)[:, target]


def _deletion_probs(loaded: LoadedModel, x: torch.Tensor, ranking: np.ndarray, grid: int,
                    fractions: np.ndarray) -> np.ndarray:
    """Every class's probability (steps, classes) as the cells are blurred away in ``ranking``'s order."""
    import cv2

    h, w = x.shape[-2:]
    sigma = max(h, w) / 8
    blurred = torch.from_numpy(np.stack([cv2.GaussianBlur(c, (0, 0), sigma) for c in x[0].numpy()]))
    rows = np.minimum(np.arange(h) * grid // h, grid - 1)
    cols = np.minimum(np.arange(w) * grid // w, grid - 1)
    cell_of_pixel = torch.from_numpy(rows[:, None] * grid + cols[None, :])
    batch = x.repeat(len(fractions), 1, 1, 1)
    for i, f in enumerate(fractions):
        removed = torch.zeros(grid * grid, dtype=torch.bool)
        removed[torch.from_numpy(ranking[: int(round(f * grid * grid))])] = True
        where = removed[cell_of_pixel]
        batch[i][:, where] = blurred[:, where]
    with torch.no_grad():
        prob = _probability(loaded)
        return torch.cat([prob(batch[i:i + 8]) for i in range(0, len(batch), 8)]).numpy()


def area_under(fractions: np.ndarray, values: np.ndarray) -> float:
    return float(np.trapezoid(values, fractions))


def randomized_copy(loaded: LoadedModel, seed: int = 0) -> LoadedModel:
    """A copy of the model with every layer's weights re-initialised (the cascading-randomisation
    sanity check of Adebayo et al.). Copied under the lock so no other call's hooks come along."""
    with loaded.lock:
        model = copy.deepcopy(loaded.model)
    torch.manual_seed(seed)
    for module in model.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
    return LoadedModel(loaded.spec, model.eval(), False, "randomised copy", loaded.class_names)


FLAT = 1e-6  # a map whose values spread less than this is flat: it ranks no pixel above another


def is_flat(heat: np.ndarray) -> bool:
    return float(np.ptp(heat)) < FLAT


def rank_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two maps (1 = same ordering of pixels). Refuses flat maps: a
    constant map has no ordering, so any correlation with it would be meaningless."""
    if is_flat(a) or is_flat(b):
        raise CNNLabError("One of the maps is flat (the same value everywhere), so it ranks no pixel above "
                          "another and there is nothing to compare.")
    from scipy.stats import spearmanr

    return float(spearmanr(a.ravel(), b.ravel()).statistic)
