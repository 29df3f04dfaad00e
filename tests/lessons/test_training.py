"""The Training Monitor's default view (before any run) is a lesson: the data line states what the split
really holds (6000 synthetic shapes, 20% held out, stratified, five classes at 32x32), and the network
it names is built the way its caption says."""
import re
from functools import partial

import numpy as np
import torch
from torch import nn

from core.data import SHAPE_CLASSES, named_dataset
from core.nets import build_net
from core.training import split_dataset
from tests.pages import apptest
from tests.pages.apptest import texts

PAGE = "pages/training.py"
open_page = partial(apptest.open_page, PAGE)


def test_the_data_line_states_what_the_default_split_holds():
    at = open_page()
    assert not at.exception and not at.error and not at.warning
    line = next(c for c in texts(at.caption) if " training and " in c and "validation images" in c)
    n_train, n_val, n_classes, names, size = re.match(
        r"Synthetic shapes: (\d+) training and (\d+) validation images of (\d+) classes \((.*)\), resized to "
        r"(\d+)x\d+\.$", line).groups()
    n = at.number_input(key="tr_n_Synthetic shapes").value
    share = at.slider(key="tr_val").value / 100
    ds = named_dataset("Synthetic shapes", n)
    train, val, *_ = split_dataset(ds, size=int(size), val_fraction=share, limit=n, seed=0)
    assert (int(n_train), int(n_val)) == (len(train), len(val)) == (4800, 1200)
    assert names.split(", ") == list(ds.class_names) == list(SHAPE_CLASSES) and int(n_classes) == 5
    assert tuple(train.x.shape[1:]) == (3, 32, 32)
    per_class = np.bincount(val.y.numpy(), minlength=5) / len(val)
    train_share = np.bincount(train.y.numpy(), minlength=5) / len(train)
    assert np.abs(per_class - train_share).max() < 0.01  # stratified: both splits hold the classes alike
    assert not any("batch size" in w for w in texts(at.warning))  # 32 < 4800: many steps per epoch


def test_the_default_network_is_built_as_its_caption_says():
    at = open_page()
    assert at.selectbox(key="tr_arch").value == "simplecnn"
    assert "conv(16) -> pool -> conv(32) -> pool -> linear; 32x32 input, no batch norm." in texts(at.caption)
    model = build_net("simplecnn", 5, 3)
    calls = []  # the layers a forward pass goes through, in order
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            m.register_forward_hook(lambda mod, i, o: calls.append(f"conv({mod.out_channels})"))
        elif isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
            m.register_forward_hook(lambda mod, i, o: calls.append("pool"))
        elif isinstance(m, nn.Linear):
            m.register_forward_hook(lambda mod, i, o: calls.append("linear"))
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 5)
    assert calls == ["conv(16)", "pool", "conv(32)", "pool", "linear"]
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    assert at.select_slider(key="tr_width").disabled and at.slider(key="tr_depth").disabled  # no knobs to turn
