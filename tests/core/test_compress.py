"""Pruning reaches the asked sparsity; int8 keeps accuracy and shrinks the weights."""
import pytest
import torch

from core import compress
from core.data import make_shapes
from core.errors import CNNLabError
from core.models import load_model
from core.training import dataset_tensor


@pytest.fixture(scope="module")
def shapesnet():
    return load_model("shapesnet").model


@pytest.fixture(scope="module")
def held_out():
    test = make_shapes(400, seed=4242)
    return dataset_tensor(test, 64, (0.5,) * 3, (0.5,) * 3), torch.from_numpy(test.labels)


@pytest.mark.parametrize("target", [0.0, 0.3, 0.5, 0.9, 0.95])
def test_pruning_reaches_the_requested_sparsity(shapesnet, target):
    pruned = compress.pruned(shapesnet, target)
    assert compress.sparsity(pruned) == pytest.approx(target, abs=1e-4)
    weights = sum(getattr(m, n).numel() for m, n in compress.prunable(pruned))
    zeros = round(target * weights)
    assert compress.nonzero_params(pruned) == sum(p.numel() for p in shapesnet.parameters()) - zeros
    assert compress.sparsity(shapesnet) == 0.0  # the shared model is untouched
    assert not any(hasattr(m, "weight_orig") for m in pruned.modules())  # pruning made permanent


def test_light_pruning_keeps_accuracy_and_heavy_pruning_breaks_it(shapesnet, held_out):
    full = compress.accuracy(shapesnet, *held_out)
    assert compress.accuracy(compress.pruned(shapesnet, 0.3), *held_out) >= full - 0.02
    assert compress.accuracy(compress.pruned(shapesnet, 0.95), *held_out) < 0.5
    with pytest.raises(CNNLabError):
        compress.pruned(shapesnet, 1.0)


def test_int8_is_within_one_point_of_float32_and_about_four_times_smaller(shapesnet, held_out):
    calib = dataset_tensor(make_shapes(100, seed=4343), 64, (0.5,) * 3, (0.5,) * 3)
    int8 = compress.quantize_int8(shapesnet, calib)
    x, y = held_out
    assert abs(compress.accuracy(int8, x, y) - compress.accuracy(shapesnet, x, y)) <= 0.01  # the stated tolerance
    ratio = compress.weight_bytes(shapesnet) / compress.weight_bytes(int8)
    assert 3.0 < ratio < 4.0  # int8 weights, with float biases and per-channel scales on top
    with torch.no_grad():
        agree = (int8(x).argmax(1) == shapesnet(x).argmax(1)).float().mean()
    assert agree >= 0.98


@pytest.mark.slow
def test_compiled_int8_matches_its_reference(shapesnet, held_out):
    calib = dataset_tensor(make_shapes(100, seed=4343), 64, (0.5,) * 3, (0.5,) * 3)
    int8 = compress.quantize_int8(shapesnet, calib)
    x = held_out[0][:8]
    fast, why = compress.compiled(int8, x)
    assert fast is not None, why
    with torch.no_grad():
        assert torch.equal(fast(x).argmax(1), int8(x).argmax(1))
    rows = compress.latency_table([("a", shapesnet), ("b", fast)], x, 8)
    assert rows[0]["speed vs float32 eager"] == 1.0 and rows[1]["ms per batch"] > 0
