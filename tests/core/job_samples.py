"""Small real jobs of every kind with a size (core.jobs), at a scale: what the estimate tests and
the Ray tests run. ``SAMPLES[kind](scale)`` -> settings; the work grows with the scale."""
from __future__ import annotations

import functools

from core import data, models, scenes, shortcut, style, temporal, transfer
from core.data import make_shapes
from core.nets import build_net
from core.runs import TrainingRun
from core.training import TrainConfig, Trainer, split_dataset

TRAIN_IMAGES = 400


@functools.cache
def shapesnet() -> transfer.Backbone:
    return transfer.backbone_from_loaded(models.load_model("shapesnet"))


@functools.cache
def transfer_task() -> transfer.Task:
    return transfer.make_task(data.make_shapes(120, seed=71, classes=data.EXTRA_SHAPES),
                              data.make_shapes(30, seed=72, classes=data.EXTRA_SHAPES), shapesnet())


@functools.cache
def random_vgg19():
    """VGG19's conv layers with random weights: the same arithmetic as the trained ones, no download."""
    import torchvision

    return style.freeze(torchvision.models.vgg19().features)


@functools.cache
def photo():
    return scenes.lesson_scene(seed=0).image


@functools.cache
def probe_pool():
    return data.make_shapes(400, seed=71, classes=data.EXTRA_SHAPES)


SAMPLES = {
    "bias_lab": lambda s: {"correlation": 1.0, "budget": shortcut.Budget(100 * s, 40, 2)},
    "bias_sweep": lambda s: {"budget": shortcut.Budget(40 * s, 30, 1)},
    "mixer": lambda s: {"n_train": 100 * s, "epochs": 2},
    # Candidates differ in cost: the larger search repeats the smaller one's candidates and adds more.
    "nas": lambda s: {"strategy": "random", "trials": s, "seed": 0, "epochs": 1},
    "segmentation": lambda s: {"task": "object vs background", "n_train": 48 * s, "n_test": 24, "epochs": 1},
    "signal_cnn": lambda s: {"family": next(iter(temporal.FAMILIES)), "noise": 0.05, "n_train": 100 * s,
                             "n_test": 100, "epochs": 2},
    "style": lambda s: {"features": random_vgg19(), "content": photo(), "style": photo()[::-1].copy(),
                        "size": 64, "steps": 4 * s},
    "transfer": lambda s: {"backbone": shapesnet(), "task": transfer_task(), "shots": (5,),
                           "head": transfer.HeadSpec(), "budget": transfer.Budget(steps=5 * s, batch_size=16)},
    "probe": lambda s: {"backbones": [shapesnet()], "pool": probe_pool(), "n": 100 * s},
}

def training_run(epochs: int, name: str = "sample", images: int = TRAIN_IMAGES) -> TrainingRun:
    """A Training Monitor run keyed as the page keys it: SimpleCNN on synthetic shapes at 32 px."""
    cfg = TrainConfig(arch="simplecnn", epochs=epochs, batch_size=32, lr=3e-3, seed=0)
    ds = make_shapes(images, seed=2026)
    train, val, mean, std, _ = split_dataset(ds, size=32, val_fraction=0.2, limit=images, seed=cfg.seed)
    model = build_net(cfg.arch, len(ds.class_names), 3, width=cfg.width, depth=cfg.depth, seed=cfg.seed)
    key = {"data": {"source": ds.name, "limit": images, "val": 0.2, "size": 32, "channels": 3,
                    "classes": len(ds.class_names)}, "tensorboard": False, "wandb": False}
    return TrainingRun(name, Trainer(cfg, model, train, val, ds.class_names, mean, std), ds.name, key=key,
                       tensorboard=False)

