"""Bias lab: the colour cue is exactly as strong as asked, and a CNN trained on it learns the colour."""
import numpy as np
import pytest

from core import shortcut


def test_cue_strength_matches_the_requested_correlation():
    perfect = shortcut.make_biased_shapes(300, 1.0, seed=1)
    assert (shortcut.background_class(perfect) == perfect.labels).all()
    unrelated = shortcut.make_biased_shapes(1000, 0.0, seed=2)
    assert abs(shortcut.colour_only_accuracy(unrelated) - 0.2) < 0.05  # chance with five classes
    half = shortcut.make_biased_shapes(1000, 0.5, seed=3)
    assert abs(shortcut.colour_only_accuracy(half) - (0.5 + 0.5 * 0.2)) < 0.05


def test_every_background_hue_has_the_same_brightness():
    rgb = shortcut.hue_rgb(shortcut.class_hues())
    luma = rgb @ np.array([0.299, 0.587, 0.114])
    assert np.allclose(luma, shortcut.LUMA, atol=1e-3)
    assert len({tuple(np.round(c, 2)) for c in rgb}) == 5  # five different colours
    assert (rgb > 0).all() and (rgb < 1).all()  # in gamut: nothing clipped


def test_biased_data_is_deterministic_and_has_masks():
    a, b = shortcut.make_biased_shapes(20, 0.8, seed=5), shortcut.make_biased_shapes(20, 0.8, seed=5)
    assert np.array_equal(a.images, b.images) and a.masks.shape == (20, 32, 32) and a.masks.any((1, 2)).all()
    with pytest.raises(ValueError):
        shortcut.make_biased_shapes(5, 1.5)


@pytest.mark.slow
def test_a_perfect_cue_is_learned_instead_of_the_shape_and_hue_turns_fix_it():
    budget = shortcut.Budget(n_train=3000, n_test=500, epochs=8)
    plain = shortcut.train_shortcut_model(1.0, False, budget=budget, seed=0)
    assert plain.matched_acc > 0.95
    assert plain.broken_acc < plain.matched_acc - 0.5  # collapses to about chance
    assert plain.cam_on_shape < plain.shape_area  # its Grad-CAM looks at the background, not the shape
    fixed = shortcut.train_shortcut_model(1.0, True, budget=budget, seed=0)
    assert fixed.broken_acc > plain.broken_acc + 0.3
    assert fixed.cam_on_shape > 2 * fixed.shape_area  # now it looks at the shape
    assert len(fixed.cams) == shortcut.EXAMPLES and fixed.cams[0].shape == (32, 32)
