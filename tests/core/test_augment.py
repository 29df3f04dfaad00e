"""Batch augmentation: each operation does what its name says, per image, reproducibly."""
import torch

from core.augment import Augment, apply, hue_rotation, preview


def batch(n=8, c=3, size=12, seed=0):
    return torch.rand(n, c, size, size, generator=torch.Generator().manual_seed(seed))


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_off_is_identity():
    x = batch()
    assert not Augment().active and torch.equal(apply(x, Augment(), gen()), x)


def test_random_crop_is_a_window_of_the_zero_padded_image():
    x, p = batch(), 3
    out = apply(x, Augment(crop_padding=p), gen())
    padded = torch.nn.functional.pad(x, (p, p, p, p))
    offsets = set()
    for i in range(len(x)):
        matches = [(dy, dx) for dy in range(2 * p + 1) for dx in range(2 * p + 1)
                   if torch.equal(out[i], padded[i, :, dy:dy + 12, dx:dx + 12])]
        assert matches, "every output must be some 12x12 window of the padded input"
        offsets.add(matches[0])
    assert len(offsets) > 1  # each image drew its own offset


def test_flip_mirrors_some_images_and_leaves_the_rest():
    x = batch(32)
    out = apply(x, Augment(flip=True), gen())
    flipped = [torch.equal(o, xi.flip(2)) for o, xi in zip(out, x)]
    kept = [torch.equal(o, xi) for o, xi in zip(out, x)]
    assert all(f or k for f, k in zip(flipped, kept)) and 0 < sum(flipped) < 32


def test_colour_jitter_stays_in_range_and_varies_per_image():
    x = torch.full((6, 3, 8, 8), 0.5)
    x[:, 0] = 0.8
    out = apply(x, Augment(jitter=0.4), gen())
    assert float(out.min()) >= 0 and float(out.max()) <= 1
    means = out.mean((1, 2, 3))
    assert len(set(means.tolist())) == 6
    grey = apply(torch.full((4, 1, 8, 8), 0.5), Augment(jitter=0.4), gen())  # no saturation on 1 channel
    assert grey.shape == (4, 1, 8, 8)


def test_same_seed_same_augmentation_and_input_untouched():
    x = batch()
    before = x.clone()
    aug = Augment(crop_padding=2, flip=True, jitter=0.3)
    assert torch.equal(apply(x, aug, gen(5)), apply(x, aug, gen(5)))
    assert torch.equal(x, before)


def test_preview_keeps_the_original_first():
    x = batch(3)
    views = preview(x, Augment(flip=True, jitter=0.2), views=4)
    assert views.shape == (3, 4, 3, 12, 12) and torch.equal(views[:, 0], x)
    assert Augment(crop_padding=4, flip=True).describe() == "random crop (padding 4), horizontal flip"


def test_hue_turn_keeps_luma_and_a_full_turn_is_identity():
    x = batch(16)
    luma = 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
    mid = 0.4 + 0.2 * x  # low chroma: a turned colour stays in gamut, so clamping never bites
    out = apply(mid, Augment(hue=0.5), gen())
    assert not torch.allclose(out, mid)
    out_luma = 0.299 * out[:, 0] + 0.587 * out[:, 1] + 0.114 * out[:, 2]
    mid_luma = 0.4 + 0.2 * luma
    assert torch.allclose(out_luma, mid_luma, atol=1e-4)
    full = hue_rotation(torch.tensor([1.0, 0.0]))
    assert torch.allclose(full, torch.eye(3).expand(2, 3, 3), atol=1e-5)


def test_hue_turn_moves_red_towards_green_and_leaves_grey():
    grey = torch.full((1, 3, 1, 1), 0.5)
    red = torch.tensor([0.7, 0.3, 0.3]).view(1, 3, 1, 1)
    third = hue_rotation(torch.tensor([1 / 3]))[0]
    assert torch.allclose(third @ grey.view(3), grey.view(3), atol=1e-5)
    turned = third @ red.view(3)
    assert turned.argmax() != 0  # red is no longer the strongest channel
    assert "hue turned up to ±180°" in Augment(hue=0.5).describe()
