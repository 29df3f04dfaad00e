"""Every kind of background job the pages start: how to run it from its settings, and its size.

A page starts a job by kind and settings (plain data: numbers, names, arrays, datasets, models),
so the settings are at once the job's key (core.executor.job_key), what runs, and what the time
estimate is computed from (core.estimates). ``units`` is each kind's measure of work: roughly the
images pushed through its networks, scaled by their multiply-accumulates where the network varies.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from core import mixer, nas, segmentation, shortcut, style, temporal, transfer


@dataclass(frozen=True)
class Kind:
    run: Callable[..., Any] | None  # run(progress, should_stop, **settings); None: the page supplies the work
    units: Callable[[Mapping], float] | None  # the job's size from its settings; None: no estimate
    local: bool = False  # runs in the server process even when a Ray cluster is configured


_GMACS: dict[tuple, float] = {}


def _gmacs(module_key: tuple, build: Callable, shape: tuple[int, ...]) -> float:
    """Forward GMACs of one input through build()'s module, counted once per module_key."""
    if module_key not in _GMACS:
        import torch
        from torch.utils.flop_counter import FlopCounterMode

        model = build()
        was_training = model.training
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            model.eval()(torch.zeros(shape))
        model.train(was_training)
        _GMACS[module_key] = counter.get_total_flops() / 2e9  # FLOPs count a multiply-add as two
    return _GMACS[module_key]


def net_gmacs(arch: str, width: int, depth: int, size: int, channels: int, classes: int) -> float:
    """Forward GMACs per image of a Training Monitor network."""
    from core.nets import build_net

    return _gmacs(("net", arch, width, depth, size, channels, classes),
                  lambda: build_net(arch, classes, channels, width=width, depth=depth), (1, channels, size, size))


def backbone_gmacs(b: transfer.Backbone) -> float:
    key = ("backbone", b.key, b.input_size, sum(p.numel() for p in b.body.parameters()))
    return _gmacs(key, lambda: b.body, (1, b.in_channels, b.input_size, b.input_size))


def training_units(s: Mapping) -> float:
    """Epochs x (3 x training images, for forward and backward, + validation images) x GMACs."""
    cfg, d = s["cfg"], s["data"]
    n_val = max(1, round(d["limit"] * d["val"]))
    n_train = d["limit"] - n_val
    return cfg["epochs"] * (3 * n_train + n_val) * net_gmacs(cfg["arch"], cfg["width"], cfg["depth"], d["size"],
                                                              d["channels"], d["classes"])


def _shortcut_units(s: Mapping, models: int) -> float:
    b = s.get("budget", shortcut.Budget())
    return models * (b.n_train * b.epochs + 3 * b.n_test)


def _transfer_units(s: Mapping) -> float:
    """Per shot count and strategy: the optimizer steps' batches and EPOCHS test-set passes."""
    budget, task = s["budget"], s["task"]
    per_strategy = budget.steps * budget.batch_size * 3 + transfer.EPOCHS * len(task.test)
    return len(s["shots"]) * len(transfer.STRATEGIES) * per_strategy * backbone_gmacs(s["backbone"])


def _train_signal_cnn(progress, should_stop, **settings):
    progress(0.0, "Training the 1D CNN...")
    return temporal.train_signal_cnn(should_stop=should_stop, **settings)


def _signal_units(s: Mapping) -> float:
    n = len(s["data"][0]) * 0.75 if s.get("data") is not None else s.get("n_train", 600)
    return n * s.get("epochs", 8)


KINDS: dict[str, Kind] = {
    "training": Kind(None, training_units),  # core.runs.TrainingRun
    "bias_lab": Kind(lambda p, stop, **s: shortcut.run_lab(progress=p, should_stop=stop, **s),
                     lambda s: _shortcut_units(s, 2)),
    "bias_sweep": Kind(lambda p, stop, **s: shortcut.sweep(progress=p, should_stop=stop, **s),
                       lambda s: _shortcut_units(s, len(shortcut.SWEEP))),
    "mixer": Kind(lambda p, stop, **s: mixer.compare(progress=p, should_stop=stop, **s),
                  lambda s: s["n_train"] * s.get("epochs", 10)),
    "nas": Kind(lambda p, stop, **s: nas.search(progress=p, should_stop=stop, **s),
                lambda s: s["trials"] * s.get("epochs", nas.EPOCHS)),
    "segmentation": Kind(lambda p, stop, **s: segmentation.compare_skips(progress=p, should_stop=stop, **s),
                         lambda s: 2 * s.get("n_train", 1000) * s.get("epochs", 6)),
    "signal_cnn": Kind(_train_signal_cnn, _signal_units),
    "style": Kind(lambda p, stop, **s: style.stylize(progress=p, should_stop=stop, **s),
                  lambda s: s.get("steps", 80) * s.get("size", 192) ** 2 / 1e4),
    "transfer": Kind(lambda p, stop, **s: transfer.compare(progress=p, should_stop=stop, **s), _transfer_units),
    "probe": Kind(lambda p, stop, **s: transfer.probe_all(progress=p, should_stop=stop, **s),
                  lambda s: s.get("n", 200) * sum(backbone_gmacs(b) for b in s["backbones"])),
    "int8_timing": Kind(None, None, local=True),  # compiled graphs are cached per server process
}


def run(kind: str, settings: Mapping, progress, should_stop):
    """Run a registered kind (what a Ray worker calls: only the kind's name and settings travel)."""
    return KINDS[kind].run(progress, should_stop, **settings)
