"""Time estimates for the job buttons, from throughput measured on this server.

seconds = (fixed + per_unit x units) x speed x correction x share, where
- fixed and per_unit (``assets/job_costs.json``) were fitted per kind by
  ``scripts/calibrate_estimates.py`` from two small real runs, in CPU seconds (which other
  programs on a shared machine barely change, unlike wall time);
- units is the job's size from its settings (core.jobs);
- speed is this server's wall seconds per reference CPU second now: a tiny calibration run here
  (``probe_seconds``: a few training steps of a small CNN) timed on the wall clock, over the same
  probe's CPU seconds in the calibration; re-timed every PROBE_EVERY_S, so it follows the load;
- correction learns from earlier finished runs of the kind here (a running mean of actual/predicted);
- share is how many jobs would run at once on these cores (core.executor.Executor.share).
A kind without fitted costs (``int8_timing``: its first run compiles) shows the last time it took
here, or nothing until it has run once.
"""
from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from core import jobs

COSTS_FILE = Path(__file__).resolve().parent.parent / "assets" / "job_costs.json"
_lock = threading.Lock()
PROBE_EVERY_S = 300.0
_probe: tuple[float, float] | None = None  # (when, seconds)
_correction: dict[str, float] = {}
_last_seconds: dict[str, float] = {}


@functools.cache
def costs() -> dict:
    """{"probe_cpu_s": the probe's CPU seconds, "kinds": {kind: {"fixed_s", "per_unit_s"}}} (CPU seconds)."""
    return json.loads(COSTS_FILE.read_text()) if COSTS_FILE.exists() else {"probe_cpu_s": 1.0, "kinds": {}}


def probe_seconds(clock: Callable[[], float] = time.perf_counter) -> float:
    """Seconds (on ``clock``) for 4 Adam steps of SimpleCNN on 64 random images at 32 px here, the
    median of 5: on the wall clock it sees the load other work puts on the cores, as a job would."""
    import torch

    from core.nets import build_net

    model = build_net("simplecnn", 5, 3, seed=0)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    x, y = torch.rand(64, 3, 32, 32, generator=torch.Generator().manual_seed(0)), torch.arange(64) % 5
    times = []
    for _ in range(5):
        start = clock()
        for _ in range(4):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        times.append(clock() - start)
    return sorted(times)[2]


def speed() -> float:
    """This server's time per unit of work relative to the reference machine, re-measured every
    PROBE_EVERY_S so that the estimates follow the load on a shared server."""
    global _probe
    with _lock:
        if _probe is None or time.monotonic() - _probe[0] > PROBE_EVERY_S:
            _probe = (time.monotonic(), probe_seconds())
    return _probe[1] / costs()["probe_cpu_s"]


def alone(kind: str, settings: Mapping) -> float | None:
    """Seconds the job would take alone on this server, or None when there is no basis yet."""
    k = jobs.KINDS.get(kind)
    cost = costs()["kinds"].get(kind)
    if k is None or k.units is None or cost is None:
        return _last_seconds.get(kind)
    try:
        units = k.units(settings)
    except (KeyError, TypeError):  # settings that are not the kind's (a run started outside the pages)
        return None
    return (cost["fixed_s"] + cost["per_unit_s"] * units) * speed() * _correction.get(kind, 1.0)


def estimate(kind: str, settings: Mapping, share: float = 1.0) -> float | None:
    seconds = alone(kind, settings)
    return None if seconds is None else seconds * share


def observe(kind: str, settings: Mapping, seconds: float, share: float) -> None:
    """A finished run of the kind here took ``seconds`` while sharing the cores ``share`` ways."""
    took = seconds / max(1.0, share)
    _last_seconds[kind] = took
    cost, k = costs()["kinds"].get(kind), jobs.KINDS.get(kind)
    if cost is None or k is None or k.units is None:
        return
    try:
        predicted = (cost["fixed_s"] + cost["per_unit_s"] * k.units(settings)) * speed()
    except (KeyError, TypeError):
        return
    ratio = min(4.0, max(0.25, took / predicted))
    _correction[kind] = ratio if kind not in _correction else 0.5 * (_correction[kind] + ratio)


def describe(seconds: float | None) -> str:
    """'about 40 s here', or '' without an estimate."""
    if seconds is None:
        return ""
    from core.executor import format_seconds

    return f"about {format_seconds(seconds)} here"


# ---------------------------------------------------------------- small real runs of every kind
def samples() -> dict[str, Callable[[int], tuple[dict, Callable]]]:
    """For each kind with fitted costs: scale -> (settings, run(progress, should_stop)) of a small
    real job. ``scripts/calibrate_estimates.py`` fits the costs on scales 1 and 3; the estimate
    test checks scale 2 against the estimate."""
    from dataclasses import asdict

    from core import data, models, shortcut, temporal, transfer
    from core.training import TrainConfig

    def registered(kind: str, make: Callable[[int], dict]):
        def sample(scale: int):
            settings = make(scale)
            return settings, lambda p, stop: jobs.run(kind, settings, p, stop)
        return sample

    def training(scale: int):
        cfg = TrainConfig(arch="simplecnn", epochs=scale, batch_size=32, lr=3e-3, seed=0)
        settings = {"cfg": asdict(cfg), "data": {"source": "Synthetic shapes", "limit": 400, "val": 0.2,
                                                "size": 32, "channels": 3, "classes": 5}}
        return settings, lambda p, stop: _train_shapes(cfg, 400, stop)

    shapesnet = functools.cache(lambda: transfer.backbone_from_loaded(models.load_model("shapesnet")))
    task = functools.cache(lambda: transfer.make_task(data.make_shapes(120, seed=71, classes=data.EXTRA_SHAPES),
                                                      data.make_shapes(60, seed=72, classes=data.EXTRA_SHAPES),
                                                      shapesnet()))
    vgg = functools.cache(_random_vgg19)
    photo = functools.cache(lambda: data.shapes_scene(seed=0))
    return {
        "training": training,
        "bias_lab": registered("bias_lab", lambda s: {"correlation": 1.0,
                                                      "budget": shortcut.Budget(250 * s, 100, 2)}),
        "bias_sweep": registered("bias_sweep", lambda s: {"budget": shortcut.Budget(100 * s, 100, 1)}),
        "mixer": registered("mixer", lambda s: {"n_train": 200 * s, "epochs": 2}),
        "nas": registered("nas", lambda s: {"strategy": "random", "trials": s, "seed": 0, "epochs": 1}),
        "segmentation": registered("segmentation", lambda s: {"task": "object vs background",
                                                              "n_train": 100 * s, "epochs": 2}),
        "signal_cnn": registered("signal_cnn", lambda s: {"family": next(iter(temporal.FAMILIES)), "noise": 0.05,
                                                          "n_train": 150 * s, "epochs": 2}),
        "style": registered("style", lambda s: {"features": vgg(), "content": photo(), "style": photo()[::-1].copy(),
                                                "size": 64, "steps": 4 * s}),
        "transfer": registered("transfer", lambda s: {"backbone": shapesnet(), "task": task(), "shots": (5,),
                                                      "head": transfer.HeadSpec(),
                                                      "budget": transfer.Budget(steps=10 * s)}),
        "probe": registered("probe", lambda s: {"backbones": [shapesnet()], "pool": data.make_shapes(
            400, seed=71, classes=data.EXTRA_SHAPES), "n": 100 * s}),
    }


def _train_shapes(cfg, limit: int, should_stop):
    from core.data import make_shapes
    from core.nets import build_net
    from core.training import Trainer, split_dataset

    ds = make_shapes(limit, seed=2026)
    train, val, mean, std, _ = split_dataset(ds, size=32, val_fraction=0.2, limit=limit, seed=cfg.seed)
    model = build_net(cfg.arch, len(ds.class_names), 3, width=cfg.width, depth=cfg.depth, seed=cfg.seed)
    return Trainer(cfg, model, train, val, ds.class_names, mean, std).run(should_stop)


def _random_vgg19():
    """VGG19's conv layers with random weights: the same arithmetic as the trained ones, no download."""
    import torchvision

    from core import style

    return style.freeze(torchvision.models.vgg19().features)
