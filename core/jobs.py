"""Every kind of background job the pages start: how to run it from its settings, and its size.

A page starts a job by kind and settings (plain data: numbers, names, arrays, datasets, models),
so the settings are at once the job's key (core.executor.job_key), what runs, and what its time
estimate is computed from (core.estimates). ``size(settings)`` is ``(variant, units)``. Units are
the job's work, counted so that its time grows with them in proportion: images through the
network, a training image counting 3 (forward and backward, about twice the forward's cost) and a
scored one 1, over all epochs; steps x pixels for style transfer. The variant is what sets the
cost of one unit (the network, the backbone, the task), so a rate measured on one variant is never
used for another.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from core import mixer, nas, segmentation, shortcut, style, temporal, transfer

Size = tuple[Hashable, float]  # (variant, units)
TRAIN, SCORE = 3, 1  # units per training image pass (forward + backward) and per scored image


@dataclass(frozen=True)
class Kind:
    run: Callable[..., Any] | None  # run(progress, should_stop, **settings); None: the page supplies the work
    size: Callable[[Mapping], Size] | None  # None: no estimate (a past run does not predict the next)
    local: bool = False  # runs in the server process even when a Ray cluster is configured


def training_size(s: Mapping) -> Size:
    """Training Monitor runs: every epoch trains on the training split and scores the validation
    split; per network, input and batch size."""
    cfg, d = s["cfg"], s["data"]
    n_val = max(1, round(d["limit"] * d["val"]))
    variant = (cfg["arch"], cfg["width"], cfg["depth"], d["size"], d["channels"], d["classes"], cfg["batch_size"])
    return variant, cfg["epochs"] * (TRAIN * (d["limit"] - n_val) + SCORE * n_val)


def _shortcut_size(s: Mapping, models: int) -> Size:
    """Per model: its training epochs (each scoring up to 200 matched images), then the matched and
    the broken test sets."""
    b = s.get("budget", shortcut.Budget())
    per_model = b.epochs * (TRAIN * b.n_train + SCORE * min(200, b.n_test)) + 2 * SCORE * b.n_test
    return (), models * per_model


def _mixer_size(s: Mapping) -> Size:
    """Two models, each trained for its epochs (scoring 200 images after each) and scored on 1,000."""
    epochs = s.get("epochs", 10)
    return (), 2 * (epochs * (TRAIN * s.get("n_train", 4000) + SCORE * 200) + SCORE * 1000)


def _nas_size(s: Mapping) -> Size:
    """Each trial trains a candidate on the digits and scores it on the rest. Candidates differ in
    cost, so a search's time follows its trials only on average."""
    n_test = 1797 - nas.N_TRAIN
    return (), s["trials"] * (s.get("epochs", nas.EPOCHS) * TRAIN * nas.N_TRAIN + SCORE * n_test)


def _segmentation_size(s: Mapping) -> Size:
    """The FCN with and without skips, each trained and then scored on the test scenes."""
    per_model = s.get("epochs", 6) * TRAIN * s.get("n_train", 1000) + SCORE * s.get("n_test", 200)
    return s["task"], 2 * per_model


def _transfer_size(s: Mapping) -> Size:
    """Per shot count and strategy: the optimizer steps' images and EPOCHS test-set passes."""
    budget, task, backbone = s["budget"], s["task"], s["backbone"]
    per_strategy = TRAIN * budget.steps * budget.batch_size + SCORE * transfer.EPOCHS * len(task.test)
    return (backbone.key, backbone.input_size), len(s["shots"]) * len(transfer.STRATEGIES) * per_strategy


def _signal_size(s: Mapping) -> Size:
    """Training signals x epochs, then the test signals; per signal length (an upload: its own
    length, 3 of 4 signals train)."""
    epochs = s.get("epochs", 8)
    if s.get("data") is not None:
        signals = s["data"][0]
        return ("upload", signals.shape[-1]), epochs * TRAIN * 0.75 * len(signals) + SCORE * 0.25 * len(signals)
    return ("family", s["family"]), epochs * TRAIN * s.get("n_train", 600) + SCORE * s.get("n_test", 300)


def _style_size(s: Mapping) -> Size:
    """Adam steps x the painted image's pixels (its long side is ``size``)."""
    h, w = s["content"].shape[:2]
    size = s.get("size", 192)
    return (), s.get("steps", 80) * size * (size * min(h, w) / max(h, w))


def _probe_size(s: Mapping) -> Size:
    """Each backbone embeds the probe's images once."""
    return tuple((b.key, b.input_size) for b in s["backbones"]), SCORE * min(s.get("n", 200), len(s["pool"]))


KINDS: dict[str, Kind] = {
    "training": Kind(None, training_size),  # core.runs.TrainingRun
    "bias_lab": Kind(lambda p, stop, **s: shortcut.run_lab(progress=p, should_stop=stop, **s),
                     lambda s: _shortcut_size(s, 2)),
    "bias_sweep": Kind(lambda p, stop, **s: shortcut.sweep(progress=p, should_stop=stop, **s),
                       lambda s: _shortcut_size(s, len(shortcut.SWEEP))),
    "mixer": Kind(lambda p, stop, **s: mixer.compare(progress=p, should_stop=stop, **s), _mixer_size),
    "nas": Kind(lambda p, stop, **s: nas.search(progress=p, should_stop=stop, **s), _nas_size),
    "segmentation": Kind(lambda p, stop, **s: segmentation.compare_skips(progress=p, should_stop=stop, **s),
                         _segmentation_size),
    "signal_cnn": Kind(lambda p, stop, **s: temporal.train_signal_cnn(progress=p, should_stop=stop, **s),
                       _signal_size),
    "style": Kind(lambda p, stop, **s: style.stylize(progress=p, should_stop=stop, **s), _style_size),
    "transfer": Kind(lambda p, stop, **s: transfer.compare(progress=p, should_stop=stop, **s), _transfer_size),
    "probe": Kind(lambda p, stop, **s: transfer.probe_all(progress=p, should_stop=stop, **s), _probe_size),
    # Its time is compiling, once per server and batch size: a past run does not predict the next.
    "int8_timing": Kind(None, None, local=True),
    # A session's own Pipeline object (its stages are drawn as they finish), writing logs on this server.
    "pipeline": Kind(None, None, local=True),
}


def run(kind: str, settings: Mapping, progress, should_stop):
    """Run a registered kind (what a Ray worker calls: only the kind's name and settings travel)."""
    return KINDS[kind].run(progress, should_stop, **settings)
