"""The Activation Lab's default view is a lesson: the dashed curves are the derivatives of the solid ones
(what autograd gives), ReLU zeroes exactly the negative pre-activations of the real feature map, and
the dying-ReLU numbers match their curve: at bias 0 few channels are dead, Leaky ReLU has none, and a
large negative bias zeroes most outputs and kills many channels."""
import re
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F

from tests.lessons.charts import traces
from tests.pages import apptest
from tests.pages.apptest import texts

PAGE = "pages/activations.py"
open_page = partial(apptest.open_page, PAGE)
AUTOGRAD = {"ReLU": F.relu, "Leaky ReLU": lambda x: F.leaky_relu(x, 0.1), "GELU": F.gelu}


def _charts(at) -> list[dict[str, dict[str, np.ndarray]]]:
    """Each plotly chart's lines as {trace name: {"x": ..., "y": ...}}."""
    return [{t.get("name"): t for t in chart} for chart in traces(at)]


def test_the_dashed_curves_are_the_derivatives_autograd_computes():
    at = open_page()
    assert not at.exception and not at.error and not at.warning
    curves = _charts(at)[0]
    assert set(curves) == {*AUTOGRAD, *(f"{n}'" for n in AUTOGRAD)}
    for name, f in AUTOGRAD.items():
        x = torch.tensor(curves[name]["x"], dtype=torch.float64, requires_grad=True)
        y = f(x)
        y.sum().backward()
        np.testing.assert_allclose(curves[name]["y"], y.detach().numpy(), atol=1e-6)
        grad = x.grad.numpy()
        kink = np.abs(x.detach().numpy()) < 1e-9  # ReLU's derivative at exactly 0 is a convention
        np.testing.assert_allclose(curves[f"{name}'"]["y"][~kink], grad[~kink], atol=1e-3)
    assert min(curves["Leaky ReLU'"]["y"]) == 0.1 and min(curves["ReLU'"]["y"]) == 0  # ReLU's gradient can vanish


def test_relu_zeroes_exactly_the_negative_values_of_the_real_feature_map():
    at = open_page()
    line = next(m for m in texts(at.markdown) if "of the values are negative" in m)
    negative, zero = map(int, re.search(r"Before: (\d+)% of the values are negative\. After ReLU: (\d+)% are exactly "
                                        r"zero", line).groups())
    assert 5 <= negative <= 95 and zero == negative


def test_dying_relu_numbers_match_their_curve_and_a_negative_bias_kills_the_layer():
    at = open_page()
    assert at.slider(key="act_bias").value == 0.0
    shown = {m.label: float(m.value.rstrip("%")) / 100 for m in at.metric}
    curve = _charts(at)[-1]
    bias = curve["ReLU outputs = 0"]["x"]
    at0 = int(np.argmin(np.abs(bias)))
    assert abs(shown["ReLU outputs that are 0"] - curve["ReLU outputs = 0"]["y"][at0]) < 0.001
    assert abs(shown["Dead channels with ReLU"] - curve["dead channels (ReLU)"]["y"][at0]) < 0.005
    assert shown["Dead channels with ReLU"] <= 0.1 and shown["Dead channels with Leaky ReLU"] == 0
    dead = curve["dead channels (ReLU)"]["y"]
    assert (np.diff(dead) <= 0).all()  # a bigger bias never kills more channels
    assert bias[0] == -4 and dead[0] >= shown["Dead channels with ReLU"] + 0.25  # at bias -4 many channels die
    assert curve["ReLU outputs = 0"]["y"][0] >= 0.9
