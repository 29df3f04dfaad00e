import threading

import numpy as np
import pytest
import torch
from torch import nn

from core.features import conv_layers, feature_maps, first_conv, strongest_channels
from core.models import REGISTRY, LoadedModel, SimpleCNN, load_model

SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def _sobel_model() -> LoadedModel:
    model = SimpleCNN(5).eval()
    with torch.no_grad():
        model.conv1.weight.zero_()
        model.conv1.bias.zero_()
        model.conv1.weight[0, 0] = SOBEL_X  # channel 0 of conv1: horizontal gradient of the red plane
    return LoadedModel(REGISTRY["simplecnn_shapes"], model, True, "test", ("a",) * 5)


def test_sobel_feature_map_on_a_step_edge():
    x = torch.zeros(1, 3, 32, 32)
    x[..., 16:] = 1.0  # dark left half, bright right half: a vertical step edge
    maps, logits = feature_maps(_sobel_model(), x, ["conv1"])
    response = maps["conv1"][0]
    assert logits.shape == (1, 5)
    # Sobel-x responds 1+2+1 = 4 on the two columns beside the edge, 0 on flat regions.
    np.testing.assert_allclose(response[8, 14:18].numpy(), [0, 4, 4, 0])
    assert float(response[1:-1, :14].abs().max()) == 0.0
    assert float(response[1:-1, 18:-1].abs().max()) == 0.0


def test_conv_layers_and_shapes_for_simplecnn():
    loaded = load_model("simplecnn_shapes")
    assert conv_layers(loaded.model) == ["conv1", "conv2"]
    assert first_conv(loaded.model) is loaded.model.conv1
    maps, _ = feature_maps(loaded, torch.rand(1, 3, 32, 32), ["conv1", "conv2"])
    assert maps["conv1"].shape == (16, 32, 32) and maps["conv2"].shape == (32, 16, 16)


def test_feature_maps_are_captured_before_inplace_relu():
    """ShapesNet's convs feed ReLU(inplace=True); the hook must keep the pre-ReLU values."""
    loaded = load_model("shapesnet")
    x = torch.randn(1, 3, 64, 64)
    maps, _ = feature_maps(loaded, x, ["features.block1.0"])
    expected = loaded.model.features.block1[0](x)[0]
    torch.testing.assert_close(maps["features.block1.0"], expected)
    assert float(maps["features.block1.0"].min()) < 0


def test_hooks_are_removed_even_after_an_error():
    loaded = load_model("simplecnn_shapes")
    try:
        feature_maps(loaded, torch.rand(1, 3, 7, 7), ["conv1"])  # wrong size: fc fails
    except RuntimeError:
        pass
    assert all(not m._forward_hooks for m in loaded.model.modules())
    assert not loaded.lock.locked()


def test_concurrent_callers_on_one_shared_model_get_their_own_maps():
    loaded = load_model("shapesnet")
    inputs = [torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(i)) for i in range(8)]
    serial = [feature_maps(loaded, x, ["features.block4.0"])[0]["features.block4.0"] for x in inputs]
    results: dict[int, torch.Tensor] = {}

    def worker(i):
        results[i] = feature_maps(loaded, inputs[i], ["features.block4.0"])[0]["features.block4.0"]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(8):
        torch.testing.assert_close(results[i], serial[i])


def test_strongest_channels_order():
    fmap = torch.zeros(4, 2, 2)
    fmap[2] += 5
    fmap[0] += 1
    assert strongest_channels(fmap, 2) == [2, 0]


def test_first_conv_requires_a_conv():
    with pytest.raises(ValueError, match="no Conv2d"):
        first_conv(nn.Linear(2, 2))
