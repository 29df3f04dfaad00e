"""The Model Explorer's default view is a lesson: ResNet-50 at 224px, and every number it shows is what
torchvision's model and `torch.utils.flop_counter` give (2 FLOPs per MAC, as the text says); the layer
table sums to the totals; compute grows with the square of the side; the Blocks tab shows ResNet's
bottleneck."""
import re
from functools import partial

import torch
import torchvision
from torch.utils.flop_counter import FlopCounterMode

from tests.pages import apptest
from tests.pages.apptest import texts

PAGE = "pages/model_explorer.py"
open_page = partial(apptest.open_page, PAGE)


def _resnet50_params_and_macs() -> tuple[int, int]:
    with torch.device("meta"):
        model = torchvision.models.resnet50()
        x = torch.empty(1, 3, 224, 224)
    with FlopCounterMode(display=False) as counter:
        model(x)
    return sum(p.numel() for p in model.parameters()), counter.get_total_flops() // 2


def test_the_totals_are_torchvisions_and_the_flop_counters_and_the_table_sums_to_them():
    at = open_page()
    assert not at.exception and not at.error and not at.warning
    assert at.selectbox(key="mx_arch").value == "resnet50"
    params, macs = _resnet50_params_and_macs()
    shown = {m.label: m.value for m in at.metric}
    assert shown["Parameters"] == f"{params:,}" == "25,557,032"
    assert shown["MACs at this size"] == f"{macs / 1e9:.3f} G"
    table = next(c for c in texts(at.caption) if "The table sums to the totals above" in c)
    assert f"{params:,} params, {macs:,} MACs." in table
    stages = [e.label for e in at.expander if e.label.startswith("Stage ")]
    stage_params = [int(re.search(r"layers, ([\d,]+) params", s).group(1).replace(",", "")) for s in stages]
    assert len(stages) >= 4 and sum(stage_params) == params


def test_compute_grows_with_the_square_of_the_side():
    at = open_page()
    line = next(c for c in texts(at.caption) if "a CNN's cost grows with the number of pixels" in c)
    side, compute = map(float, re.search(r"the side grows ([\d.]+)x and compute ([\d.]+)x", line).groups())
    assert side > 1.5 and abs(compute / side ** 2 - 1) < 0.15


def test_the_blocks_tab_shows_resnets_bottleneck():
    at = open_page()
    assert "ResNet-50 belongs to the ResNet family; its key block is shown first." in texts(at.caption)
    assert at.radio(key="mx_family_resnet50").value == "ResNet"
    assert any(m.startswith("**ResNet: bottleneck") and "`ResNet-50`" in m for m in texts(at.markdown))
