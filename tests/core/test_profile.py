import io
import math

import pytest
import torch
from torch import nn

from core import export, scaling
from core.blocks import BLOCKS, block_dot
from core.errors import CNNLabError
from core.profile import (ARCHS, GLOBAL_RF, TORCHVISION_ARCHS, allowed_sizes, build_meta, profile, profile_module,
                          receptive_field_curve, smallest_input, stage_summary, table)


@pytest.mark.parametrize("key", TORCHVISION_ARCHS)
def test_totals_match_torchvision_published_figures(key):
    spec = ARCHS[key]
    prof = profile(key)
    assert prof.total_params == spec.ref_params
    assert abs(prof.total_macs / 1e9 - spec.ref_gmacs) / spec.ref_gmacs <= 0.01
    assert prof.output_shape == (1000,)


@pytest.mark.parametrize("key", list(ARCHS))
def test_layer_table_sums_to_the_totals(key):
    prof = profile(key)
    assert sum(r.params for r in prof.rows) == prof.total_params
    assert sum(r.macs for r in prof.rows) == prof.total_macs
    records = table(prof.rows, prof.total_macs)
    assert sum(r["MAC share"] for r in records) == pytest.approx(1.0)
    assert sum(s["layers"] for s in stage_summary(prof)) == len(prof.rows)


def test_known_receptive_fields_of_vgg16():
    fields = {name: (rf, jump) for name, _, rf, jump in profile("vgg16").fields}
    assert fields["features.0"] == (3, 1) and fields["features.2"] == (5, 1)
    assert fields["features.28"] == (196, 16)  # conv5_3
    assert fields["features.30"] == (212, 32)  # pool5: the commonly quoted 212 px


def _rf_of(model: nn.Module, size: int = 32) -> list[float]:
    """Receptive fields of the conv, pool and linear layers, in forward order."""
    prof = profile_module(model.to("meta"), size)
    return [rf for _, kind, rf, _ in prof.fields if kind.startswith(("Conv", "MaxPool", "Linear"))]


def test_receptive_field_rules_on_hand_built_nets():
    assert _rf_of(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 3))) == [3, 5]
    assert _rf_of(nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.Conv2d(4, 4, 3))) == [3, 7]
    assert _rf_of(nn.Sequential(nn.Conv2d(3, 4, 3, dilation=2))) == [5]
    assert _rf_of(nn.Sequential(nn.Conv2d(3, 4, 3), nn.MaxPool2d(2), nn.Conv2d(4, 4, 3))) == [3, 4, 8]

    class Branches(nn.Module):
        def __init__(self):
            super().__init__()
            self.small, self.large = nn.Conv2d(3, 2, 1), nn.Conv2d(3, 2, 5, padding=2)
            self.after = nn.Conv2d(4, 1, 1)

        def forward(self, x):
            return self.after(torch.cat([self.small(x), self.large(x)], 1))

    assert _rf_of(Branches()) == [1, 5, 5]  # the concatenation sees the larger branch's field
    rfs = _rf_of(nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2)))
    assert rfs == [3, GLOBAL_RF]  # after global pooling, the linear layer sees the whole input


def test_attention_makes_the_field_global_and_ssd_stages():
    prof = profile("vit_b_16")
    rows = {r.name: r for r in prof.rows}
    assert rows["conv_proj"].rf == 16 and rows["conv_proj"].jump == 16
    assert rows["encoder.layers.encoder_layer_0.self_attention"].rf == GLOBAL_RF
    assert [label for label, _ in profile("resnet50").stages] == ["112x112", "56x56", "28x28", "14x14", "7x7"]
    curve = receptive_field_curve(profile("resnet50"))
    assert curve[-1] == ("layer4.2.conv3", 427)


def test_too_small_inputs_give_a_clear_message():
    with pytest.raises(CNNLabError, match="smallest input it accepts is 75x75"):
        profile("inception_v3", 64)
    assert smallest_input("simplecnn") == 32 and smallest_input("vit_b_16") == 16
    with pytest.raises(CNNLabError, match="cannot"):
        profile("simplecnn", 64)
    with pytest.raises(CNNLabError, match="Unknown architecture"):
        profile("alexnet")


def test_resolution_changes_cost_as_pixels():
    small, big = profile("resnet18", 224), profile("resnet18", 448)  # every map exactly doubles per side
    assert small.total_params == big.total_params
    assert big.total_macs / small.total_macs == pytest.approx(4, rel=0.05)
    vit = profile("vit_b_16", 112)
    assert vit.total_params < ARCHS["vit_b_16"].ref_params  # fewer position embeddings
    assert allowed_sizes("simplecnn") == [32] and 299 in allowed_sizes("inception_v3")
    assert all(s % 16 == 0 for s in allowed_sizes("vit_b_16"))


def test_meta_build_allocates_nothing():
    model = build_meta("vgg16")
    assert all(p.device.type == "meta" for p in model.parameters())


def test_separable_convs_and_compound_scaling():
    def cost(cfg):
        p = scaling.profile(cfg)
        return p.total_params, p.total_macs

    base = scaling.TinyCNN()
    p0, m0 = cost(base)
    p_sep, m_sep = cost(scaling.TinyCNN(separable=True))
    assert p_sep < p0 / 5 and m_sep < m0 / 5
    p_w, m_w = cost(base.scaled(2, 1, 1))
    assert p_w / p0 == pytest.approx(4, rel=0.1)  # conv weights grow with channels squared
    _, m_r = cost(base.scaled(1, 1, 2))
    assert m_r / m0 == pytest.approx(4, rel=0.05)  # and compute with pixels
    assert base.scaled(1, 2, 1).depth == 4


def test_onnx_export_runs_in_onnxruntime_and_matches():
    model = scaling.build(scaling.TinyCNN(width=8, resolution=32)).eval()
    data = export.to_onnx(model, 32)
    assert data[:2] != b"" and export.onnx_max_diff(data, model, 32) < 1e-4


def test_torchscript_reloads_and_matches():
    model = scaling.build(scaling.TinyCNN(width=8, resolution=32)).eval()
    loaded = torch.jit.load(io.BytesIO(export.to_torchscript(model, 32)))
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))


def test_export_refuses_huge_models_before_working():
    with pytest.raises(CNNLabError, match="138 M parameters"):
        export.to_onnx(build_meta("vgg16"), 224)


def test_latency_is_measured():
    tiny, big = scaling.build(scaling.TinyCNN(width=8)), scaling.build(scaling.TinyCNN(width=64))
    fast, slow = export.compare_latency_ms([(tiny, 96), (big, 96)])
    assert 0 < fast < slow and math.isfinite(slow)
    assert export.latency_ms(tiny, 64, runs=3) > 0


@pytest.mark.parametrize("family,expected", [
    ("VGG", "64 x 112 x 112"), ("ResNet", "add (F(x) + x)\\n256 x 56 x 56"),
    ("Inception", "concatenate channels\\n256 x 28 x 28"), ("MobileNet", "depthwise Conv 3x3"),
    ("EfficientNet", "SqueezeExcitation"), ("ConvNeXt", "depthwise Conv 7x7"),
])
def test_block_diagrams_carry_real_shapes(family, expected):
    dot = block_dot(family)
    assert dot.startswith("digraph") and expected in dot
    assert BLOCKS[family].arch in ARCHS
