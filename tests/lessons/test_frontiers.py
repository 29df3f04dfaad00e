"""The Research frontiers page's default view (no button pressed) is a lesson: a ViT reads 196 patches of
768 numbers plus a class token (as torchvision's ViT-B/16 does); the cost table is torchvision's models
counted by the flop counter, ConvNeXt at about a quarter of ViT's compute; at the default 448px the CNNs
cost 4x (pixels) while ViT costs more, its attention share growing; and 50% global magnitude pruning
zeroes half the conv and linear weights at little cost in accuracy."""
import copy
from functools import partial

import torch
import torchvision
from torch import nn
from torch.nn.utils import prune

from core import cache
from tests.lessons.charts import traces
from tests.pages import apptest
from tests.pages.apptest import captions, texts

PAGE = "pages/frontiers.py"
open_page = partial(apptest.open_page, PAGE)
MODELS = {"ViT-B/16": "vit_b_16", "ResNet-50": "resnet50", "ConvNeXt-Tiny": "convnext_tiny"}


def test_the_vit_tokens_and_the_cost_table_are_torchvisions():
    at = open_page()
    assert not at.exception and not at.error and not at.warning
    with torch.device("meta"):
        vit = torchvision.models.vit_b_16()
        tokens = vit._process_input(torch.empty(1, 3, 224, 224))  # patchify + linear embedding
    assert tokens.shape == (1, 196, 768) and 16 * 16 * 3 == 768
    assert captions(at)[0].startswith("Resized to 224x224: 14 x 14 = 196 patches")
    assert "The first row of tokens: each is one patch, 768 numbers long before the linear embedding maps it to " \
           "768." in texts(at.caption)
    table = at.dataframe[0].value.set_index("model")
    assert table.loc["ViT-B/16", "mixes information by"] == "global self-attention over 197 tokens"  # + class token
    for label, key in MODELS.items():
        with torch.device("meta"):
            params = sum(p.numel() for p in getattr(torchvision.models, key)().parameters())
        assert round(table.loc[label, "params (M)"] * 1e6) == params
        assert abs(table.loc[label, "GMACs at 224"] / table.loc[label, "torchvision's GMACs"] - 1) < 0.001
    quarter = table.loc["ConvNeXt-Tiny", "GMACs at 224"] / table.loc["ViT-B/16", "GMACs at 224"]
    assert 0.2 < quarter < 0.3  # "at a quarter of the cost"


def test_at_448px_convolution_costs_4x_and_attention_grows_faster():
    at = open_page()
    assert at.select_slider(key="fr_res").value == 448
    shown = {m.label: m for m in at.metric}
    for cnn in ("ResNet-50", "ConvNeXt-Tiny"):
        assert abs(float(shown[cnn].proto.delta.lstrip("x").split()[0]) - 4.0) <= 0.1  # (448 / 224)^2 pixels
    assert float(shown["ViT-B/16"].proto.delta.lstrip("x").split()[0]) > 4.2
    assert shown["Attention share of ViT"].proto.delta == f"{(448 // 16) ** 2 + 1:,} tokens"
    curves = {t["name"]: dict(zip(t["x"], t["y"])) for t in traces(at)[0]}
    attention, vit = curves["ViT-B/16: attention matrices alone"], curves["ViT-B/16"]
    assert abs(attention[448] / attention[224] - (785 / 197) ** 2) < 0.05 * (785 / 197) ** 2  # the square of the tokens
    assert attention[448] / vit[448] > attention[224] / vit[224]
    assert shown["Attention share of ViT"].value == f"{attention[448] / vit[448]:.0%}"


def test_half_the_weights_pruned_costs_little_accuracy():
    at = open_page()
    assert at.slider(key="fr_sparsity").value == 50
    shown = {m.label: m for m in at.metric}
    model = copy.deepcopy(cache.get_model("shapesnet").model)
    layers = [(m, "weight") for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    prune.global_unstructured(layers, pruning_method=prune.L1Unstructured, amount=0.5)
    weights = sum(m.weight.numel() for m, _ in layers)
    zeros = sum(int((m.weight == 0).sum()) for m, _ in layers)
    total = sum(p.numel() for p in model.parameters())  # weight_orig stands in for each pruned weight
    assert shown["Measured sparsity"].value == f"{zeros / weights:.1%}" == "50.0%"
    assert shown["Nonzero parameters"].value == f"{total - zeros:,}" and shown["Nonzero parameters"].proto.delta == \
        f"of {total:,}"
    accuracy = float(shown["Accuracy"].value.rstrip("%")) / 100
    drop = float(shown["Accuracy"].proto.delta.split()[0])
    assert accuracy >= 0.9 and -5 <= drop <= 0.5
