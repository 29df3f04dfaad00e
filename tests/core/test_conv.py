import itertools
import re

import numpy as np
import pytest
import torch
from torch import nn

from core import conv
from core.conv import ConvSettings
from core.errors import CNNLabError


def test_seed_worked_example_matches_hand_computation():
    steps = conv.worked_steps()
    assert len(steps) == 9
    result = conv.step_result(steps, 8, (3, 3))
    # By hand: each entry is (left column sum) - (right column sum) of its 3x3 window. Rows 0-2 have
    # column sums 8, 8, 3, 2, 5, so the first output row is 8-3, 8-2, 3-5.
    np.testing.assert_array_equal(result, [[5, 6, -2], [5, 2, 1], [4, -3, -5]])
    assert steps[0].products.tolist() == [[1, 0, -0.0], [4, 0, -2], [3, 0, -1]] and steps[0].total == 5
    partial = conv.step_result(steps, 3, (3, 3))
    assert np.isnan(partial[1, 1]) and partial[1, 0] == 5


def test_flipping_this_kernel_negates_the_output():
    flipped = conv.worked_steps(conv.SEED_INPUT, conv.SEED_KERNEL[::-1, ::-1])
    np.testing.assert_array_equal(conv.step_result(flipped, 8, (3, 3)), -conv.step_result(conv.worked_steps(), 8, (3, 3)))


def test_worked_example_equals_torch_conv2d():
    x = torch.tensor(conv.SEED_INPUT, dtype=torch.float32).view(1, 1, 5, 5)
    k = torch.tensor(conv.SEED_KERNEL, dtype=torch.float32).view(1, 1, 3, 3)
    np.testing.assert_array_equal(torch.nn.functional.conv2d(x, k)[0, 0].numpy(),
                                  conv.step_result(conv.worked_steps(), 8, (3, 3)))


def test_sobel_x_on_a_vertical_step_edge_responds_only_at_the_edge():
    img = np.zeros((16, 16, 1), np.float32)
    img[:, 8:] = 1.0
    out = conv.convolve(img, conv.KERNEL_PRESETS["Sobel x"], ConvSettings(padding="valid", channels="per channel"))[0]
    assert out.shape == (14, 14)
    # Valid output column j covers input columns j..j+2; the edge lies between columns 7 and 8.
    np.testing.assert_array_equal(out[:, 6], 4.0)
    np.testing.assert_array_equal(out[:, 7], 4.0)
    assert np.count_nonzero(out) == 2 * 14


@pytest.mark.parametrize("n,k,s,p,d", [
    (n, k, s, p, d) for n, k, s, p, d in itertools.product((5, 8, 17), (3, 5, 7), (1, 2, 3), (0, 1, 3), (1, 2))
])
def test_output_size_matches_torch_conv2d(n, k, s, p, d):
    expected = conv.output_size(n, k, s, p, d)
    layer = nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d, bias=False)
    if expected < 1:
        with pytest.raises(RuntimeError):
            layer(torch.zeros(1, 1, n, n))
        with pytest.raises(CNNLabError, match="output would be empty"):
            conv.convolve(np.zeros((n, n, 1), np.float32), np.zeros((k, k)),
                          ConvSettings(k, s, "explicit", p, "zeros", d, "grey"))
    else:
        assert layer(torch.zeros(1, 1, n, n)).shape[-1] == expected
        out = conv.convolve(np.zeros((n, n, 3), np.float32), np.zeros((k, k)),
                            ConvSettings(k, s, "explicit", p, "zeros", d, "per channel"))
        assert out.shape == (3, expected, expected)


@pytest.mark.parametrize("border", conv.BORDERS)
@pytest.mark.parametrize("channels", conv.CHANNEL_MODES)
def test_convolve_equals_a_real_conv2d(border, channels):
    rng = np.random.default_rng(0)
    img = rng.random((12, 10, 3)).astype(np.float32)
    kernel = rng.normal(size=(3, 3))
    st = ConvSettings(3, 2, "same", 0, border, 2, channels)
    out = conv.convolve(img, kernel, st)
    x = torch.from_numpy(img.transpose(2, 0, 1)).unsqueeze(0)
    if channels == "grey":
        x = torch.from_numpy(conv.to_grey(img).astype(np.float32).transpose(2, 0, 1)).unsqueeze(0)
    c = x.shape[1]
    groups, c_out = (c, c) if channels == "per channel" else (1, 1)
    layer = nn.Conv2d(c, c_out, 3, stride=2, padding=st.pad, dilation=2, groups=groups, bias=False,
                      padding_mode=border)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(kernel).float().expand_as(layer.weight))
        np.testing.assert_allclose(out, layer(x)[0].numpy(), rtol=1e-5, atol=1e-5)
    assert conv.conv2d_line(st, 3).startswith(f"nn.Conv2d({c}, {c_out}, kernel_size=3, stride=2, padding=2")


def test_pixel_breakdown_sums_to_the_output():
    rng = np.random.default_rng(2)
    img = rng.random((7, 7, 3)).astype(np.float32)
    kernel = rng.normal(size=(3, 3))
    for mode in conv.CHANNEL_MODES:
        for border in conv.BORDERS:
            st = ConvSettings(3, 1, "same", 0, border, 1, mode)
            out = conv.convolve(img, kernel, st)
            for r, c in [(0, 0), (3, 2), (6, 6)]:  # corners read the padding
                values, products, total = conv.pixel_breakdown(img, kernel, st, r, c, channel=1)
                assert values.shape == products.shape == (3, 3)
                assert total == pytest.approx(out[1 if mode == "per channel" else 0, r, c], abs=1e-4)


def test_receptive_field_includes_padding_and_dilation():
    rows, cols = conv.receptive_field(0, 3, ConvSettings(3, 2, "explicit", 1, "zeros", 2))
    assert rows.tolist() == [-1, 1, 3] and cols.tolist() == [5, 7, 9]


def test_same_padding_keeps_the_size_at_stride_one():
    for k in conv.KERNEL_SIZES:
        for d in (1, 2, 3):
            st = ConvSettings(k, 1, "same", 0, "zeros", d)
            assert conv.output_size(20, k, 1, st.pad, d) == 20


@pytest.mark.parametrize("kernel,message", [
    (np.array([[1, np.nan, 0], [0, 1, 0], [0, 0, 1]]), "NaN"),
    (np.array([[np.inf, 0, 0], [0, 1, 0], [0, 0, 1]]), "NaN"),
    (np.ones((2, 2)), "square with size"),
    (np.ones((3, 4)), "square with size"),
    (np.full((3, 3), 1e9), "between"),
])
def test_bad_kernels_are_refused_with_a_message(kernel, message):
    with pytest.raises(CNNLabError, match=message):
        conv.convolve(np.zeros((8, 8, 3), np.float32), kernel, ConvSettings())


def test_kernel_larger_than_the_image_is_a_message_not_a_crash():
    with pytest.raises(CNNLabError, match="output would be empty"):
        conv.convolve(np.zeros((4, 4, 3), np.float32), np.ones((7, 7)), ConvSettings(7, 1, "valid"))
    with pytest.raises(CNNLabError, match="Reflect padding"):
        conv.convolve(np.zeros((2, 2, 3), np.float32), np.ones((7, 7)), ConvSettings(7, 1, "same", border="reflect"))


def test_pooling_seed_example_and_shrinkage():
    patch = np.array([[[1.0, 3.0], [2.0, 4.0]]])
    assert conv.pool(patch, "max")[0, 0, 0] == 4
    assert conv.pool(patch, "average")[0, 0, 0] == 2.5
    fmap = np.arange(2 * 8 * 6, dtype=float).reshape(2, 8, 6)
    assert conv.pool(fmap, "max", 2, 2).shape == (2, 4, 3)
    assert conv.pool(fmap, "max", 3, 1).shape == (2, 6, 4)
    np.testing.assert_allclose(conv.pool(fmap, "global average")[:, 0, 0], fmap.mean((1, 2)))
    with pytest.raises(CNNLabError, match="smaller than"):
        conv.pool(np.zeros((1, 2, 2)), "max", 3, 1)


def test_kernel_url_round_trip_and_rejects_junk():
    k = conv.kernel_of_size("sharpen", 5)
    np.testing.assert_array_equal(conv.kernel_from_param(conv.kernel_to_param(k)), k)
    assert conv.kernel_of_size("sharpen", 5)[2, 2] == 5 and conv.kernel_of_size("sharpen", 5)[0].sum() == 0
    for junk, message in [("1,2,3", "needs 9"), ("a,b", "comma-separated"), (",".join(["nan"] * 9), "NaN")]:
        with pytest.raises(CNNLabError, match=message):
            conv.kernel_from_param(junk)


def test_formula_shows_the_live_numbers():
    text = conv.formula_latex(224, ConvSettings(7, 2, "explicit", 3, "zeros", 1))
    assert r"{224 + 2\cdot3 - 1\cdot(7-1) - 1}{2}" in text and text.endswith("= 112")


def test_working_image_caps_the_long_side():
    img = conv.working_image(np.zeros((1000, 600, 3), np.uint8))
    assert img.shape == (512, 307, 3) and img.dtype == np.float32


def test_formula_names_the_axis_it_is_for():
    settings = ConvSettings(3, 1, "same", 0, "zeros", 1)
    assert r"\frac{W_{in} + 2p_W - d_W(k_W-1) - 1}{s_W}" in conv.formula_latex(512, settings, "W")
    assert r"\frac{H_{in} + 2p_H" in conv.formula_latex(341, settings) and "W" not in conv.formula_latex(341, settings)


def test_breakdown_latex_shows_values_kernel_and_products_that_sum_to_the_output():
    values = np.array([[0.5, -0.25, 0.0], [1.0, 2.0, 3.0], [0.1234, 0.0, -0.0001]])
    kernel = conv.kernel_of_size("Sobel x", 3)
    products = values * kernel
    text = conv.breakdown_latex(values, kernel, products, float(products.sum()))
    matrices = re.findall(r"\\begin\{bmatrix\}(.*?)\\end\{bmatrix\}", text)
    parsed = [np.array([[float(v) for v in row.split("&")] for row in m.split(r"\\")]) for m in matrices]
    np.testing.assert_allclose(parsed[0], values, atol=5e-4)
    np.testing.assert_allclose(parsed[1], kernel)
    np.testing.assert_allclose(parsed[2], products, atol=5e-4)
    assert text.endswith(f"{products.sum():.4f}") and "-0.000" not in text  # a rounded -0.0001 reads 0.000
    big = conv.breakdown_latex(np.ones((7, 7)), np.ones((7, 7)), np.ones((7, 7)), 49.0)
    assert big.startswith(r"\begin{aligned}") and big.count("bmatrix") == 6  # products on a second line
