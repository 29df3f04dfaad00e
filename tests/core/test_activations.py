import numpy as np
import pytest
import torch

from core import activations as act
from core.models import load_model

PARAMS = {"slope": 0.07, "alpha": 1.3}
POINTS = np.array([-4.0, -1.5, -0.3, 0.2, 0.9, 3.5])  # avoids x = 0, where ReLU-type kinks live


@pytest.mark.parametrize("name", list(act.ACTIVATIONS))
def test_derivative_matches_autograd(name):
    a = act.ACTIVATIONS[name]
    p = PARAMS.get(a.param, 0.0) if a.param else 0.0
    x = torch.tensor(POINTS, dtype=torch.float64, requires_grad=True)
    a.forward(x, p).sum().backward()
    np.testing.assert_allclose(a.derivative(POINTS, p), x.grad.numpy(), rtol=1e-6, atol=1e-9)


def test_curves_cover_the_range_and_use_parameters():
    out = act.curves(["Leaky ReLU", "ELU", "ReLU"], -2, 2, PARAMS, n=5)
    np.testing.assert_allclose(out["x"], [-2, -1, 0, 1, 2])
    np.testing.assert_allclose(out["Leaky ReLU"][0], [-0.14, -0.07, 0, 1, 2])
    np.testing.assert_allclose(out["ELU"][0][0], 1.3 * (np.exp(-2) - 1))
    np.testing.assert_allclose(out["ReLU"][1], [0, 0, 0, 1, 1])
    with pytest.raises(ValueError):
        act.curves(["ReLU"], 1, 1, PARAMS)


def test_dead_units_and_the_fast_sweep_agree():
    rng = np.random.default_rng(0)
    pre = rng.normal(size=(8, 6, 5, 5))
    pre[:, 2] -= 10  # channel 2 is far below zero: dead at bias 0
    biases = np.linspace(-3, 3, 13)
    zero, dead = act.dead_curve(pre, biases)
    for b, z, d in zip(biases, zero, dead):
        units = act.dead_units(pre, b)
        assert units.zero_fraction == pytest.approx(z) and units.dead_channels == pytest.approx(d)
    assert act.dead_units(pre, 0.0).dead_channels == pytest.approx(1 / 6)
    assert np.all(np.diff(zero) <= 0)  # a higher bias never kills more


def test_leaky_relu_keeps_every_channel_alive():
    pre = np.random.default_rng(1).normal(size=(4, 5, 3, 3)) - 20
    assert act.dead_units(pre, 0.0, "ReLU").dead_channels == 1.0
    assert act.dead_units(pre, 0.0, "Leaky ReLU").dead_channels == 0.0


def test_preactivations_of_the_shipped_model_are_conv_bn_output():
    loaded = load_model("shapesnet")
    x = torch.randn(2, 3, 64, 64)
    pre = act.preactivations(loaded.model.features, x, "block2")
    with torch.no_grad():
        h = loaded.model.features.pool1(loaded.model.features.block1(x))
        expected = loaded.model.features.block2[1](loaded.model.features.block2[0](h))
    torch.testing.assert_close(pre, expected)
    assert float(pre.min()) < 0  # before the ReLU, so negatives are still there
    with pytest.raises(KeyError):
        act.preactivations(loaded.model.features, x, "block9")


def test_apply_runs_the_real_function():
    out = act.apply("ReLU", np.array([-1.0, 2.0]), PARAMS)
    np.testing.assert_array_equal(out, [0, 2])
