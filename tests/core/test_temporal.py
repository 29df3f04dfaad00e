"""1D, causal/dilated and transposed convolution: the properties the Specialized CNNs page teaches."""
import numpy as np
import pytest
import torch
from torch import nn

from core import temporal
from core.errors import CNNLabError


@pytest.mark.parametrize("kernel,dilations", [(2, [1, 2, 4, 8]), (3, [1, 2, 4]), (3, [1, 1, 1]), (5, [1, 3])])
def test_receptive_field_formula_matches_the_gradient(kernel, dilations):
    torch.manual_seed(0)
    model = temporal.TCN(kernel, dilations, causal=True)
    t = 60
    seen = temporal.empirical_receptive_field(model, 80, t)
    rf = temporal.receptive_field(kernel, dilations)
    assert rf == 1 + (kernel - 1) * sum(dilations)
    assert seen.max() == t and seen.min() == t - rf + 1 and len(seen) == rf  # every step in the window matters
    assert temporal.dependency_tree(kernel, dilations, t)[0] == list(seen)


def test_causal_output_ignores_the_future_and_a_centred_conv_does_not():
    torch.manual_seed(0)
    signal = np.random.default_rng(0).normal(size=64).astype(np.float32)
    t = 30
    causal = temporal.perturbation_effect(temporal.TCN(3, [1, 2, 4], causal=True), signal, t)
    centred = temporal.perturbation_effect(temporal.TCN(3, [1, 2, 4], causal=False), signal, t)
    assert np.all(causal[:t + 1] == 0) and causal[t + 1:].max() > 0
    assert centred[:t + 1].max() > 0


def test_causal_conv_keeps_the_length():
    conv = temporal.CausalConv1d(1, 4, kernel_size=3, dilation=4)
    assert conv(torch.zeros(2, 1, 50)).shape == (2, 4, 50)


@pytest.mark.parametrize("size", [1, 3, 4, 7])
@pytest.mark.parametrize("kernel", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("padding", [0, 1, 2])
@pytest.mark.parametrize("output_padding", [0, 1, 2])
def test_transposed_output_size_matches_torch(size, kernel, stride, padding, output_padding):
    spec = temporal.Transposed(size, kernel, stride, padding, output_padding)
    try:
        spec.validate()
    except CNNLabError:  # torch refuses these too, or returns an empty map
        try:
            out = nn.ConvTranspose2d(1, 1, kernel, stride, padding, output_padding)(torch.zeros(1, 1, size, size))
        except RuntimeError:
            return
        assert out.numel() == 0
        return
    out = nn.ConvTranspose2d(1, 1, kernel, stride, padding, output_padding)(torch.zeros(1, 1, size, size))
    assert out.shape[-1] == spec.output_size() == spec.landing().shape[0]


def test_transposed_overlap_is_a_checkerboard_when_kernel_is_not_a_multiple_of_stride():
    uneven = temporal.Transposed(4, 3, 2, 0).landing()
    even = temporal.Transposed(4, 4, 2, 1).landing()
    assert set(np.unique(uneven[2:-2, 2:-2])) == {1, 2, 4}  # the checkerboard artefact's source
    assert set(np.unique(even[1:-1, 1:-1])) == {4}
    footprint = temporal.Transposed(3, 3, 2, 0).footprint(1, 2)
    assert footprint.sum() == 9 and footprint[2:5, 4:7].all()  # input (1, 2) lands at stride * (1, 2)


def test_conv1d_presets_do_what_they_say():
    step = np.r_[np.zeros(10), np.ones(10)].astype(np.float32)
    diff = temporal.conv1d(step, temporal.KERNELS_1D["derivative (difference)"])
    assert np.argmax(diff) in (8, 9) and diff.max() == pytest.approx(1.0)
    smooth = temporal.conv1d(np.ones(20, np.float32), temporal.KERNELS_1D["moving average (smoothing)"])
    assert np.allclose(smooth, 1.0) and len(smooth) == 16
    assert len(temporal.conv1d(np.ones(20, np.float32), [1, 1, 1], stride=2, padding=1, dilation=2)) == 9
    with pytest.raises(CNNLabError, match="spans 9 samples"):
        temporal.conv1d(np.ones(5, np.float32), [1, 1, 1], dilation=4)


@pytest.mark.parametrize("family", list(temporal.FAMILIES))
def test_signals_are_balanced_and_seeded(family):
    x, y = temporal.make_signals(30, family=family, seed=1)
    x2, _ = temporal.make_signals(30, family=family, seed=1)
    assert x.shape == (30, 256) and np.bincount(y).tolist() == [10, 10, 10] and np.array_equal(x, x2)


def test_motion_classes_differ_in_the_way_the_names_say():
    rng = np.random.default_rng(0)
    still, walk, run = (temporal.activity_like(k, 500, rng, 0.0) for k in ("still", "walking", "running"))
    assert still.std() < 0.05 < walk.std() < run.std()  # running jolts hardest
    assert abs(still.mean() - 1.0) < 0.05  # standing still reads 1 g


def test_one_layer_cost_grows_with_dimensions():
    (p1, m1), (p2, m2), (p3, m3) = (temporal.conv_cost(d) for d in (1, 2, 3))
    assert (p1, p2, p3) == (16 * 32 * 3 + 32, 16 * 32 * 9 + 32, 16 * 32 * 27 + 32)
    assert (m1, m2, m3) == (16 * 32 * 3 * 32, 16 * 32 * 9 * 32 ** 2, 16 * 32 * 27 * 32 ** 3)


def test_kernel_text_is_parsed_or_refused():
    assert temporal.parse_kernel("1, -2 ,1") == [1.0, -2.0, 1.0]
    for bad in ("", "a, b", "1, nan", ",".join(["1"] * 16)):
        with pytest.raises(CNNLabError):
            temporal.parse_kernel(bad)


@pytest.mark.slow
def test_motion_classifier_learns_too():
    result = temporal.train_signal_cnn(family="motion sensor (accelerometer-like)", n_train=300, n_test=150, epochs=6)
    assert result.accuracy >= 0.9 and result.class_names == ("still", "walking", "running")


@pytest.mark.slow
def test_signal_classifier_reaches_90_percent_held_out():
    """Budget: 600 synthetic signals (noise 0.05, seed 0), 8 epochs of Adam with OneCycle (LR 5e-3), batch 32;
    300 test signals from a disjoint seed. About 3 s; seeded: 98.3%."""
    result = temporal.train_signal_cnn()
    assert result.accuracy >= 0.90 and min(result.per_class.values()) >= 0.85
    cam = result.explain(0, int(result.test_y[0]))
    assert cam.shape == (256,) and cam.max() == pytest.approx(1.0) and cam.min() >= 0


def test_grad_cam_1d_on_a_model_with_a_known_answer():
    """features = identity + ReLU, head = mean over time then +1 (class 0) / -1 (class 1): Grad-CAM for
    class 0 is the signal itself (normalised), and for class 1 nothing (all evidence is against it)."""
    class Known(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv1d(1, 1, 1, bias=False), nn.ReLU())
            self.head = nn.Sequential(nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(1, 2, bias=False))
            with torch.no_grad():
                self.features[0].weight.fill_(1.0)
                self.head[2].weight.copy_(torch.tensor([[1.0], [-1.0]]))

        def forward(self, x):
            return self.head(self.features(x))

    signal = torch.zeros(1, 256)
    signal[0, 100], signal[0, 200] = 1.0, 0.5
    cam = temporal.grad_cam_1d(Known(), signal, 0)
    assert int(cam.argmax()) == 100 and cam[200] == pytest.approx(0.5) and cam[50] == 0
    assert not temporal.grad_cam_1d(Known(), signal, 1).any()


def test_untrained_tcns_are_made_once_seeded_and_leave_the_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = temporal.untrained_tcn(3, (1, 2, 4))
    assert torch.equal(torch.rand(1), before)  # forking the RNG kept the caller's stream
    assert temporal.untrained_tcn(3, (1, 2, 4)) is a and not a.training
    torch.manual_seed(0)
    fresh = temporal.TCN(3, [1, 2, 4])
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), fresh.parameters()))
    seen = temporal.empirical_receptive_field(a, 30, 29)
    assert len(seen) == temporal.receptive_field(3, [1, 2, 4]) and all(p.grad is None for p in a.parameters())


def test_tree_edges_join_each_step_to_the_steps_it_reads():
    tree = temporal.dependency_tree(2, [1, 2], 5)  # [[2, 3, 4, 5], [3, 5], [5]]
    xs, ys = temporal.tree_edges(2, [1, 2], tree)
    edges = {(xs[i], ys[i], xs[i + 1], ys[i + 1]) for i in range(0, len(xs), 3)}
    assert edges == {(5, 2, 5, 1), (5, 2, 3, 1), (5, 1, 5, 0), (5, 1, 4, 0), (3, 1, 3, 0), (3, 1, 2, 0)}
    assert xs[2::3] == [None] * (len(xs) // 3)
