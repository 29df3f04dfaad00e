"""The Transfer Learning page's default view is a lesson: it opens on the shipped ShapesNet (trained
weights, no warning) and the new-shapes task, and the parameter counts it shows are the model's: the
backbone is ShapesNet without its classifier, the freeze table's stages are its blocks, and each
strategy trains what the text says (the head only; the head and the last stage; everything)."""
import re
from functools import partial

import numpy as np
from torch import nn

from core import cache
from tests.pages import apptest
from tests.pages.apptest import texts

PAGE = "pages/transfer.py"
open_page = partial(apptest.open_page, PAGE)
TARGET = "New shapes (hexagon, heart, arrow)"


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_the_counts_shown_are_shapesnets_and_each_strategy_trains_what_the_text_says():
    at = open_page()
    assert not at.exception and not at.error and not at.warning  # trained weights: no "random weights" notice
    assert at.query_params["backbone"] == "shapesnet" and at.query_params["target"] == TARGET
    features = cache.get_model("shapesnet").model.features
    blocks = {name: _count(m) for name, m in features.named_children() if _count(m)}
    backbone = _count(features)
    weights = next(c for c in texts(at.caption) if c.startswith("Weights: "))
    assert f"Stages: {', '.join(blocks)}; {backbone:,} backbone params; input 64x64, 3 channel(s)." in weights
    table = at.dataframe[0].value
    assert dict(zip(table["stage"], table["params"])) == blocks
    assert list(table["fine-tune"]) == ["frozen"] * (len(blocks) - 1) + ["trains"]  # unfreeze the last 1 stage
    assert set(table["feature extractor"]) == {"frozen"}

    last_channels = [m for m in features.modules() if isinstance(m, nn.Conv2d)][-1].out_channels
    head = last_channels * 3 + 3  # one linear layer on the pooled features, 3 classes
    last = list(blocks.values())[-1]
    assert (f"Head: {head:,} params (for 3 classes) next to the backbone's {backbone:,}. Trainable: feature "
            f"extractor {head:,}, fine-tune {head + last:,}, from scratch {head + backbone:,}.") in texts(at.caption)


def test_the_task_line_counts_the_default_tasks_images():
    at = open_page()
    pool, test = cache.transfer_data(TARGET)
    line = next(c for c in texts(at.caption) if "images to draw training shots from" in c)
    counts = np.bincount(pool.labels)
    assert line == (f"3 classes (hexagon, heart, arrow); a pool of {len(pool)} images to draw training shots from, "
                    f"{len(test)} test images. Smallest class: {counts.min()} images.")
    assert list(pool.class_names) == ["hexagon", "heart", "arrow"] and len(counts) == 3
    assert re.search(r"Compare the three at 10 per class", " ".join(b.label for b in at.button))
