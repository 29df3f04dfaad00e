"""The Convolution Playground's default view is a lesson: the size formula it fills in gives the shape
it reports, the nn.Conv2d line it prints computes that shape and the pixel it explains, and the
course's 5x5 example shows what PyTorch's conv2d returns.

It opens on the coffee cup (341 x 512), Sobel x, 3x3, stride 1, "same" padding, channels summed."""
import re
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core import cache, conv
from tests.pages import apptest
from tests.pages.apptest import texts

PAGE = "pages/convolution.py"
open_page = partial(apptest.open_page, PAGE)


def _formula_result(latex: str) -> int:
    return int(re.search(r"= (\d+)\s*\$*$", latex).group(1))


def test_the_formula_the_shape_and_the_printed_layer_agree():
    at = open_page()
    assert not at.exception and not at.error and not at.warning
    assert at.query_params["kernel"] == "Sobel x" and at.query_params["padding"] == "same"
    image = conv.working_image(cache.sample_photo("Coffee cup"))
    h, w, _ = image.shape
    shape = next(re.search(r"-> output \*\*(\d+) x (\d+) x (\d+)\*\*", m) for m in texts(at.markdown)
                 if "-> output" in m)
    c_out, h_out, w_out = map(int, shape.groups())
    h_formula = next(f for f in texts(at.latex) if "H_{out}" in f)
    w_formula = next(f for f in texts(at.latex) if "W_{out}" in f)  # the photo is not square
    assert f"\\frac{{{h} + 2" in h_formula and f"\\frac{{{w} + 2" in w_formula
    assert (_formula_result(h_formula), _formula_result(w_formula)) == (h_out, w_out) == (h, w)  # "same" keeps size

    layer = eval(next(c for c in texts(at.code) if c.startswith("nn.Conv2d(")), {"nn": nn})
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(conv.KERNEL_PRESETS["Sobel x"]).expand_as(layer.weight))
        out = layer(torch.from_numpy(image).permute(2, 0, 1)[None])[0]
    assert tuple(out.shape) == (c_out, h_out, w_out) == (1, h, w)

    box = next(e for e in at.expander if e.label == "How the boxed output is computed")
    row, col, value = re.match(r"Output \((\d+), (\d+)\) = (-?[\d.]+)\. ", box.markdown[0].value).groups()
    assert (int(row), int(col)) == (h_out // 2, w_out // 2)  # the centre pixel is explained by default
    assert abs(float(value) - float(out[0, int(row), int(col)])) <= 6e-5  # shown to 4 decimals
    assert any(f"Sum of products = **{value}**, the same as the feature map's {value}." == m for m in texts(at.markdown))
    breakdown = next(f for f in texts(at.latex) if r"\odot" in f)
    products = re.findall(r"\\begin\{bmatrix\}(.*?)\\end\{bmatrix\}", breakdown)[2]
    shown_sum = sum(float(v) for row in products.split(r"\\") for v in row.split("&"))
    assert abs(shown_sum - float(value)) <= 9 * 5e-4  # the shown products (3 decimals) add up to the pixel


def test_the_worked_example_is_what_conv2d_computes_and_flipping_changes_every_sign():
    at = open_page()
    x = torch.from_numpy(conv.SEED_INPUT)[None, None]
    k = torch.from_numpy(conv.SEED_KERNEL)[None, None]
    expected = F.conv2d(x, k)[0, 0].numpy()
    assert any("so the output is 3x3." in m for m in texts(at.markdown))
    first = next(m for m in texts(at.markdown) if m.startswith("Step 1: window at row 0, column 0."))
    assert first.endswith(f"= **{expected[0, 0]:g}** -> output[0, 0].")
    box = next(e for e in at.expander if e.label == "Cross-correlation or convolution?")
    pytorch, textbook = (d.value.to_numpy(dtype=float) for d in box.dataframe)
    np.testing.assert_array_equal(pytorch, expected)
    np.testing.assert_array_equal(textbook, -expected)
    assert (expected != 0).all()  # so "every output changes sign" is visible in every cell
    assert any("gives **4**; average pooling gives 2.5." in m for m in texts(at.markdown))
