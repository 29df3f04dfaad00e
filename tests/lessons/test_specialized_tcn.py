"""The Specialized CNNs page's 1D part, in its default view, is a lesson: the kernel output it plots is
what PyTorch's conv1d gives for the signal it plots, with the length the formula and the printed
Conv1d line state; the default TCN (kernel 2, dilations 1, 2, 4, 8) sees the 16 steps the formula
gives, no more and no less; the causal stack ignores the future and the centred one does not; and the
forecaster is the TCN its text describes."""
import inspect
import re
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F

from core import forecast, temporal
from tests.lessons.charts import traces
from tests.pages import apptest
from tests.pages.apptest import texts

PAGE = "pages/specialized.py"
open_page = partial(apptest.open_page, PAGE)


def test_the_plotted_kernel_output_is_conv1d_of_the_plotted_signal():
    at = open_page()
    assert not at.exception and not at.error and not at.warning
    family, kind = next(iter(temporal.FAMILIES.items()))
    signal = temporal.signal(family, kind[0], 256, np.random.default_rng(0), 0.05)
    kernel = next(iter(temporal.KERNELS_1D.values()))
    shown_in, shown_out = traces(at)[0]
    np.testing.assert_allclose(shown_in["y"], signal, rtol=1e-6)
    expected = F.conv1d(torch.tensor(signal, dtype=torch.float64)[None, None],
                        torch.tensor(kernel, dtype=torch.float64)[None, None])[0, 0].numpy()
    np.testing.assert_allclose(shown_out["y"], expected, rtol=1e-5, atol=1e-6)
    # no padding: output i covers inputs i..i+4, drawn at the window's centre
    np.testing.assert_allclose(shown_out["x"], np.arange(len(expected)) + (len(kernel) - 1) / 2)
    code = next(c for c in texts(at.code) if c.startswith("nn.Conv1d("))
    assert code.endswith(f"# input (1, 1, 256) -> output (1, 1, {len(expected)})")
    formula = next(f for f in texts(at.latex) if "L_{out}" in f)
    assert re.search(rf"= {len(expected)}\s*\$*$", formula) and len(expected) == 256 - len(kernel) + 1


def test_the_default_tcn_sees_exactly_its_receptive_field_and_the_causal_one_ignores_the_future():
    at = open_page()
    k, dilations = 2, [1, 2, 4, 8]
    rf = 1 + (k - 1) * sum(dilations)
    formula = next(f for f in texts(at.latex) if "RF = " in f)
    assert f"= 1 + 1\\cdot(1 + 2 + 4 + 8) = {rf}" in formula and rf == 16
    t = rf + 8 - 1
    assert (f"Checked with autograd: the gradient of output step {t} is non-zero for exactly {rf} input steps "
            f"({t - rf + 1} to {t}).") in texts(at.caption)
    line = next(c for c in texts(at.caption) if c.startswith("Causal stack:"))
    causal, cut, centred = map(int, re.match(r"Causal stack: (\d+) outputs up to step (\d+) changed .*Centred "
                                             r"stack: (\d+) of them changed", line).groups())
    assert cut == 30 and causal == 0 and centred > 0
    bars = traces(at, "bar")[0]
    assert bars[0]["name"].startswith("causal") and (bars[0]["y"][:cut + 1] == 0).all() and (bars[0]["y"][cut + 1:] > 0).any()


def test_the_forecaster_is_the_tcn_its_text_describes():
    at = open_page()
    text = next(m for m in texts(at.markdown) if m.startswith("A causal TCN (kernel 3, dilations 1-16"))
    defaults = inspect.signature(forecast.forecast).parameters
    k, dilations = defaults["kernel_size"].default, defaults["dilations"].default
    assert (k, dilations) == (3, (1, 2, 4, 8, 16))
    assert f"receptive field {1 + (k - 1) * sum(dilations)} steps" in text
