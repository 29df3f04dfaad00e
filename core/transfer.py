"""Transfer learning (course section 7): backbones cut into stages, a new head, and three strategies.

- feature extractor: the backbone is frozen, its embeddings are computed once and only the head trains;
- fine-tuning: the last N stages train too, at a lower LR than the head (discriminative LRs);
- from scratch: the same architecture, randomly initialised, everything trains.

All training goes through ``core.training.Trainer``; nothing here imports Streamlit.
"""
from __future__ import annotations

import copy
import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

from core.data import EXTRA_SHAPES, ImageDataset, load_digits, make_shapes, make_textures
from core.errors import CNNLabError
from core.training import Split, TrainConfig, Trainer, dataset_tensor

STRATEGIES = ("feature extractor", "fine-tune", "from scratch")
EPOCHS = 10  # per strategy run: each epoch ends with a test-set evaluation
ACTIVATIONS = {"ReLU": nn.ReLU, "GELU": nn.GELU, "Tanh": nn.Tanh}


# ---------------------------------------------------------------- backbones
@dataclass
class Backbone:
    """A pretrained body as named stages (the freeze map's rows), and how to feed it."""

    key: str
    label: str
    body: nn.Sequential  # image -> feature map; children are the stages, in order
    pool: str  # "avg" (global average) or "flatten"
    input_size: int
    in_channels: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    trained: bool
    source: str
    notice: str | None = None

    @property
    def stages(self) -> list[str]:
        return [name for name, _ in self.body.named_children()]

    def stage_params(self) -> dict[str, int]:
        return {name: sum(p.numel() for p in m.parameters()) for name, m in self.body.named_children()}


def _seq(*modules: nn.Module) -> nn.Sequential:
    return nn.Sequential(*modules)


def backbone_from_model(key: str, label: str, model: nn.Module, *, input_size: int, in_channels: int, mean, std,
                        trained: bool, source: str, notice: str | None = None) -> Backbone:
    """Cut a known architecture into stages (its head dropped). Weights are copied, never shared."""
    from core.architectures import ShapesNet, SimpleCNN
    from core.nets import GreyToRGB, SmallResNet, SmallVGG

    m = copy.deepcopy(model).eval()
    if isinstance(m, GreyToRGB):
        m = m.model
    pool = "avg"
    if isinstance(m, SimpleCNN):
        stages = [("conv1", _seq(m.conv1, nn.ReLU(), m.pool)), ("conv2", _seq(m.conv2, nn.ReLU(), nn.MaxPool2d(2)))]
        pool = "flatten"  # its classifier was trained on the flattened 32x8x8 map
    elif isinstance(m, ShapesNet):
        f = m.features
        stages = [("block1", _seq(f.block1, f.pool1)), ("block2", _seq(f.block2, f.pool2)),
                  ("block3", f.block3), ("block4", f.block4)]
    elif isinstance(m, SmallVGG):
        layers = list(m.features)
        stages = [(f"stage{i + 1}", _seq(*layers[i * 7:(i + 1) * 7])) for i in range(len(layers) // 7)]
    elif isinstance(m, SmallResNet):
        blocks = list(m.stages)
        per = len(blocks) // 3
        stages = [("stem", m.stem)] + [(f"stage{i + 1}", _seq(*blocks[i * per:(i + 1) * per])) for i in range(3)]
    elif type(m).__name__ == "ResNet":
        stages = [("stem", _seq(m.conv1, m.bn1, m.relu, m.maxpool))] + \
            [(f"layer{i}", getattr(m, f"layer{i}")) for i in range(1, 5)]
    elif type(m).__name__ == "MobileNetV3":
        f = list(m.features)
        stages = [("stem", f[0]), ("stage1", _seq(*f[1:4])), ("stage2", _seq(*f[4:9])), ("stage3", _seq(*f[9:]))]
    else:
        raise CNNLabError(f"{type(m).__name__} cannot be used as a backbone here.")
    for p in m.parameters():
        p.requires_grad_(True)
    return Backbone(key, label, nn.Sequential(OrderedDict(stages)), pool, input_size, in_channels, tuple(mean),
                    tuple(std), trained, source, notice)


def backbone_from_loaded(loaded) -> Backbone:
    """A registry model (core.models.LoadedModel) as a backbone."""
    spec = loaded.spec
    return backbone_from_model(spec.key, spec.label, loaded.model, input_size=spec.input_size, in_channels=3,
                               mean=spec.mean, std=spec.std, trained=loaded.trained, source=loaded.weights_source,
                               notice=loaded.notice)


# ---------------------------------------------------------------- the transfer model
@dataclass(frozen=True)
class HeadSpec:
    hidden_layers: int = 0
    width: int = 128
    dropout: float = 0.0
    activation: str = "ReLU"


def make_head(in_dim: int, num_classes: int, spec: HeadSpec) -> nn.Sequential:
    layers: list[nn.Module] = []
    d = in_dim
    for _ in range(spec.hidden_layers):
        layers += [nn.Linear(d, spec.width), ACTIVATIONS[spec.activation]()]
        if spec.dropout:
            layers.append(nn.Dropout(spec.dropout))
        d = spec.width
    if spec.dropout and not spec.hidden_layers:
        layers.append(nn.Dropout(spec.dropout))
    layers.append(nn.Linear(d, num_classes))
    return nn.Sequential(*layers)


class Embed(nn.Module):
    """Body then global-average pooling (or flattening): an image -> one feature vector."""

    def __init__(self, body: nn.Sequential, pool: str):
        super().__init__()
        self.body, self.pool = body, pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.body(x)
        return f.mean((2, 3)) if self.pool == "avg" else f.flatten(1)


class TransferNet(nn.Module):
    """Backbone stages + a new head. Frozen stages stay in eval mode even while the net trains,
    so their batch-norm statistics do not drift either."""

    def __init__(self, backbone: Backbone, num_classes: int, head: HeadSpec, trainable_stages: int,
                 reinit: bool = False):
        super().__init__()
        self.embed = Embed(copy.deepcopy(backbone.body), backbone.pool)
        if reinit:
            for m in self.embed.modules():
                if hasattr(m, "reset_parameters"):
                    m.reset_parameters()
        with torch.no_grad():
            dim = self.embed.eval()(torch.zeros(1, backbone.in_channels, backbone.input_size,
                                                backbone.input_size)).shape[1]
        self.head = make_head(dim, num_classes, head)
        stages = list(self.embed.body.children())
        self.frozen = stages[:len(stages) - trainable_stages] if trainable_stages < len(stages) else []
        for stage in self.frozen:
            for p in stage.parameters():
                p.requires_grad_(False)

    def train(self, mode: bool = True) -> "TransferNet":
        super().train(mode)
        for stage in self.frozen:
            stage.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))


def param_counts(net: TransferNet) -> dict[str, int]:
    count = lambda ps: sum(p.numel() for p in ps)  # noqa: E731
    return {"backbone": count(net.embed.parameters()), "head": count(net.head.parameters()),
            "trainable": count(p for p in net.parameters() if p.requires_grad)}


def param_groups(net: TransferNet, lr: float, backbone_factor: float) -> list[dict]:
    """Discriminative LRs: the head at lr, the unfrozen backbone stages at lr * backbone_factor.
    The head's group comes first, so the trainer reports the head's LR."""
    backbone = [p for p in net.embed.parameters() if p.requires_grad]
    groups = [{"params": list(net.head.parameters()), "lr": lr, "name": "head"}]
    if backbone:
        groups.append({"params": backbone, "lr": lr * backbone_factor, "name": "backbone"})
    return groups


# ---------------------------------------------------------------- data
def to_input(ds: ImageDataset, backbone: Backbone) -> torch.Tensor:
    """Images resized to the backbone's input, in [0, 1], with its channel count (grey <-> RGB)."""
    x = dataset_tensor(ds, backbone.input_size, (0.0,) * ds.images.shape[3], (1.0,) * ds.images.shape[3])
    if x.shape[1] == 1 and backbone.in_channels == 3:
        x = x.expand(-1, 3, -1, -1).contiguous()
    elif x.shape[1] == 3 and backbone.in_channels == 1:
        x = (0.299 * x[:, :1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]).contiguous()
    return x


def few_shot(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Indices of up to per_class examples of each class, seeded."""
    rng = np.random.default_rng(seed)
    picks = [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in np.unique(labels)]
    return np.sort(np.concatenate(picks))


def holdout(ds: ImageDataset, fraction: float, seed: int) -> tuple[ImageDataset, ImageDataset]:
    """Split a dataset into a training pool and a test set, stratified where the test set can hold
    every class. Every class keeps an image in the pool, and a class's only image stays there: it
    can still teach, while testing a class that was never seen teaches nothing."""
    from sklearn.model_selection import train_test_split

    counts = np.bincount(ds.labels)
    alone = counts[ds.labels] == 1
    rest = np.flatnonzero(~alone)
    if not len(rest):
        raise CNNLabError("Every class has a single image, so none is left to test on. Give every class two or "
                          "more images (one to train on, one to test), ideally ten or more.")
    n_test = math.ceil(fraction * len(rest))  # what sklearn takes for a float test_size
    n_classes = len(np.unique(ds.labels[rest]))
    stratify = ds.labels[rest] if min(n_test, len(rest) - n_test) >= n_classes else None
    pool, test = train_test_split(rest, test_size=n_test, random_state=seed, stratify=stratify)
    # A random split can send every image of a small class to the test set: one of them comes back.
    back = np.array([test[ds.labels[test] == c][0] for c in np.setdiff1d(ds.labels[test], ds.labels[pool])], int)
    part = lambda i: ImageDataset(ds.images[i], ds.labels[i], ds.class_names, ds.name)  # noqa: E731
    return part(np.sort(np.concatenate([pool, back, np.flatnonzero(alone)]))), part(np.setdiff1d(test, back))


def target_data(target: str) -> tuple[ImageDataset, ImageDataset]:
    """A built-in target task by its menu name: (pool to draw training shots from, fixed test set)."""
    if target == "New shapes (hexagon, heart, arrow)":
        return make_shapes(600, seed=71, classes=EXTRA_SHAPES), make_shapes(150, seed=72, classes=EXTRA_SHAPES)
    if target == "Textures (stripes, checkerboard, dots, blotches)":
        return make_textures(600, seed=71), make_textures(200, seed=72)
    return holdout(load_digits(), 0.2, seed=0)


@dataclass
class Task:
    """A target task on one backbone's input: a pool to draw few-shot training sets from, and a fixed test set."""

    name: str
    class_names: tuple[str, ...]
    pool: Split
    test: Split

    def shots(self, per_class: int, seed: int) -> Split:
        idx = torch.from_numpy(few_shot(self.pool.y.numpy(), per_class, seed))
        return Split(self.pool.x[idx], self.pool.y[idx])


def make_task(pool: ImageDataset, test: ImageDataset, backbone: Backbone, name: str | None = None) -> Task:
    if len(np.unique(pool.labels)) < 2:
        raise CNNLabError("The target task needs at least two classes with images.")
    return Task(name or pool.name, pool.class_names, Split(to_input(pool, backbone), torch.from_numpy(pool.labels)),
                Split(to_input(test, backbone), torch.from_numpy(test.labels)))


# ---------------------------------------------------------------- training the three strategies
@dataclass(frozen=True)
class Budget:
    steps: int = 60  # optimizer steps per run, whatever the number of shots
    lr: float = 3e-3
    batch_size: int = 32
    backbone_factor: float = 0.1  # fine-tuning: backbone LR = head LR x this
    trainable_stages: int = 1  # fine-tuning: the last N stages train
    seed: int = 0


@dataclass
class Outcome:
    strategy: str
    test_acc: float
    train_acc: float
    seconds: float
    seconds_per_epoch: float
    params: dict[str, int]
    history: dict[str, list[float]]
    model: TransferNet
    lrs: dict[str, float] = field(default_factory=dict)  # param group -> LR it started at


def _stats(x: torch.Tensor, backbone: Backbone) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.tensor(backbone.mean[:x.shape[1]]), torch.tensor(backbone.std[:x.shape[1]])


def embeddings(net: TransferNet, x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
               batch_size: int = 256) -> torch.Tensor:
    net.eval()
    with torch.no_grad():
        return torch.cat([net.embed((x[i:i + batch_size] - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1))
                          for i in range(0, len(x), batch_size)])


@dataclass
class Plan:
    """What one strategy trains and on what: the whole net, or only its head on frozen embeddings."""

    net: TransferNet
    model: nn.Module
    train: Split
    val: Split
    mean: torch.Tensor
    std: torch.Tensor
    cfg: TrainConfig
    params: list[dict] | None
    lrs: dict[str, float]  # param group -> LR it peaks at


def plan_strategy(strategy: str, backbone: Backbone, task: Task, train: Split, head: HeadSpec,
                  budget: Budget) -> Plan:
    """The network, data, settings and parameter groups of one strategy (seeded by the budget)."""
    if strategy not in STRATEGIES:
        raise CNNLabError(f"Unknown strategy {strategy!r}; choose from {', '.join(STRATEGIES)}.")
    torch.manual_seed(budget.seed)
    n_classes = len(task.class_names)
    stages = len(backbone.stages)
    trainable = {"feature extractor": 0, "fine-tune": budget.trainable_stages, "from scratch": stages}[strategy]
    net = TransferNet(backbone, n_classes, head, trainable, reinit=strategy == "from scratch")
    mean, std = _stats(train.x, backbone)
    # About `steps` optimizer steps over EPOCHS epochs, whatever the shots: a tiny set is repeated
    # (each copy flipped at random) rather than evaluated on the test set after every 1-batch epoch.
    repeat = max(1, round(budget.steps * budget.batch_size / (EPOCHS * len(train))))
    train = Split(train.x.repeat(repeat, 1, 1, 1), train.y.repeat(repeat))
    batch = min(budget.batch_size, len(train))
    epochs = max(1, round(budget.steps / math.ceil(len(train) / batch)))
    cfg = TrainConfig(optimizer="adam", lr=budget.lr, batch_size=batch, schedule="onecycle", epochs=epochs,
                      flip=strategy != "feature extractor", seed=budget.seed)
    if strategy == "feature extractor":
        # The frozen body's embeddings never change: compute them once, then train the head alone.
        feats = Split(embeddings(net, train.x, mean, std), train.y)
        test_feats = Split(embeddings(net, task.test.x, mean, std), task.test.y)
        return Plan(net, net.head, feats, test_feats, torch.zeros(1), torch.ones(1), cfg, None, {"head": budget.lr})
    groups = param_groups(net, budget.lr, budget.backbone_factor)
    # Each group's peak LR (OneCycle starts them lower and keeps their ratio).
    lrs = {g["name"]: g["lr"] for g in param_groups(net, budget.lr, budget.backbone_factor)}
    return Plan(net, net, train, task.test, mean, std, cfg, groups, lrs)


def train_strategy(strategy: str, backbone: Backbone, task: Task, train: Split, head: HeadSpec, budget: Budget,
                   should_stop: Callable[[], bool] = lambda: False) -> Outcome:
    """Train one strategy on a training split and measure it on the task's test set."""
    start = time.perf_counter()
    plan = plan_strategy(strategy, backbone, task, train, head, budget)
    trainer = Trainer(plan.cfg, plan.model, plan.train, plan.val, task.class_names, plan.mean, plan.std,
                      params=plan.params)
    trainer.run(should_stop)
    seconds = time.perf_counter() - start
    last = trainer.snapshots[-1]
    history = {k: [float(getattr(s, k)) for s in trainer.snapshots] for k in ("train_loss", "val_loss", "val_acc")}
    return Outcome(strategy, last.val_acc, last.train_acc, seconds,
                   trainer.train_seconds / max(1, trainer.pos.epoch), param_counts(plan.net), history,
                   plan.net.eval(), plan.lrs)


# ---------------------------------------------------------------- auto-suggest: linear probes
@dataclass(frozen=True)
class Probe:
    key: str
    label: str
    accuracy: float
    seconds: float
    params: int


def linear_probe(backbone: Backbone, pool: ImageDataset, *, n: int = 200, seed: int = 0) -> Probe:
    """Logistic regression on the frozen backbone's embeddings of n images (3/4 fit, 1/4 scored)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    start = time.perf_counter()
    idx = np.random.default_rng(seed).permutation(len(pool))[:n]
    sub = ImageDataset(pool.images[idx], pool.labels[idx], pool.class_names, pool.name)
    x = to_input(sub, backbone)
    net = TransferNet(backbone, 2, HeadSpec(), 0)
    feats = embeddings(net, x, *_stats(x, backbone)).numpy()
    counts = np.bincount(sub.labels)
    stratify = sub.labels if counts[counts > 0].min() >= 2 else None
    tr, te = train_test_split(np.arange(len(sub)), test_size=0.25, random_state=seed, stratify=stratify)
    scaler = StandardScaler().fit(feats[tr])
    clf = LogisticRegression(max_iter=2000).fit(scaler.transform(feats[tr]), sub.labels[tr])
    acc = float((clf.predict(scaler.transform(feats[te])) == sub.labels[te]).mean())
    params = sum(p.numel() for p in backbone.body.parameters())
    return Probe(backbone.key, backbone.label, acc, time.perf_counter() - start, params)


def rank(probes: list[Probe]) -> list[Probe]:
    """Best probe accuracy first; ties (within 2 points) go to the faster, then the smaller backbone."""
    return sorted(probes, key=lambda p: (-round(p.accuracy / 0.02), p.seconds, p.params))


def recommend(probes: list[Probe], n_classes: int) -> str:
    best = rank(probes)[0]
    chance = 1 / n_classes
    if best.accuracy < chance + 0.15:
        return (f"No candidate separates these classes well (best probe {best.accuracy:.0%}, chance {chance:.0%}): "
                "the task looks far from what these backbones learned, so expect fine-tuning or training from "
                "scratch to matter more than the choice of backbone.")
    others = [p for p in probes if p is not best]
    why = "" if not others else (
        f", ahead of {others[0].label if len(others) == 1 else f'{len(others)} others'}"
        if all(p.accuracy < best.accuracy - 0.02 for p in others) else ", as accurate as the best and cheaper")
    return (f"Use **{best.label}**: its frozen features already reach {best.accuracy:.0%} with a linear probe "
            f"({best.params / 1e6:.2f} M params, probed in {best.seconds:.1f} s){why}.")


def pca_2d(feats: torch.Tensor) -> np.ndarray:
    """2D PCA projection of embeddings (N, D) -> (N, 2)."""
    from sklearn.decomposition import PCA

    return PCA(n_components=2, random_state=0).fit_transform(feats.numpy())


# ---------------------------------------------------------------- comparisons (run as background jobs)
SHOTS = (1, 5, 10, 20, 50)


def compare(backbone: Backbone, task: Task, shots: tuple[int, ...], head: HeadSpec, budget: Budget,
            progress: Callable[[float, str], None], should_stop: Callable[[], bool]) -> dict[int, dict[str, Outcome]]:
    """Every strategy at every shot count on the same test set. Models are kept for the largest
    shot count only (the before/after views use them); a stop returns what has finished."""
    results: dict[int, dict[str, Outcome]] = {}
    total, done = len(shots) * len(STRATEGIES), 0
    for k in shots:
        train = task.shots(k, budget.seed)
        results[k] = {}
        for strategy in STRATEGIES:
            progress(done / total, f"{strategy} with {k} per class ({done + 1} of {total})")
            outcome = train_strategy(strategy, backbone, task, train, head, budget, should_stop)
            if should_stop():
                return {k: r for k, r in results.items() if r}
            if k != max(shots):
                outcome.model = None
            results[k][strategy] = outcome
            done += 1
    return results


def probe_all(backbones: list[Backbone], pool: ImageDataset, progress: Callable[[float, str], None],
              should_stop: Callable[[], bool], n: int = 200, seed: int = 0) -> list[Probe]:
    probes = []
    for i, b in enumerate(backbones):
        if should_stop():
            break
        progress(i / len(backbones), f"Probing {b.label}")
        probes.append(linear_probe(b, pool, n=n, seed=seed))
    return rank(probes)


def export_bytes(outcome: Outcome, backbone: Backbone, class_names: tuple[str, ...], head: HeadSpec) -> bytes:
    """The fine-tuned model's state dict with what it takes to rebuild it (loads with weights_only=True)."""
    import io

    buf = io.BytesIO()
    torch.save({"format": "cnnlab-transfer-1", "backbone": backbone.key, "strategy": outcome.strategy,
                "class_names": list(class_names), "input_size": backbone.input_size,
                "mean": list(backbone.mean), "std": list(backbone.std), "head": head.__dict__.copy(),
                "state_dict": {k: v.detach().clone() for k, v in outcome.model.state_dict().items()}}, buf)
    return buf.getvalue()


def feature_map_pair(original: TransferNet, tuned: TransferNet, image: torch.Tensor,
                     backbone: Backbone) -> tuple[torch.Tensor, torch.Tensor]:
    """The last stage's feature maps (C, h, w) of one image (C, H, W in [0, 1]) before and after fine-tuning."""
    mean, std = _stats(image[None], backbone)
    x = (image[None] - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)
    with torch.no_grad():
        return original.eval().embed.body(x)[0], tuned.eval().embed.body(x)[0]


def pca_pair(original: TransferNet, tuned: TransferNet, task: Task, backbone: Backbone) -> dict[str, np.ndarray]:
    """2D PCA of the test set's embeddings, before and after fine-tuning."""
    mean, std = _stats(task.test.x, backbone)
    return {"before fine-tuning": pca_2d(embeddings(original, task.test.x, mean, std)),
            "after fine-tuning": pca_2d(embeddings(tuned, task.test.x, mean, std))}
