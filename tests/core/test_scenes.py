"""Scenes: exact per-pixel labels, shapes apart and in bounds; natural pictures with no class."""
import numpy as np
import pytest

from core.data import SHAPE_CLASSES
from core.scenes import (BACKGROUND, MIX, NATURAL_STYLES, draw_scene, lesson_scene, make_scenes, natural_image,
                         training_mix)


def test_scenes_are_deterministic_by_seed():
    a, b, c = make_scenes(5, seed=1), make_scenes(5, seed=1), make_scenes(5, seed=2)
    assert all(np.array_equal(x.image, y.image) and np.array_equal(x.labels, y.labels) for x, y in zip(a, b))
    assert not np.array_equal(a[0].image, c[0].image)


def test_labels_objects_and_presence_agree():
    for scene in make_scenes(40, seed=3, count=(1, 5)):
        assert 1 <= len(scene.objects) <= 5 and scene.image.shape == (64, 64, 3)
        present = scene.present()
        assert set(np.unique(scene.labels)) - {BACKGROUND} == set(np.flatnonzero(present))
        for k, y, x, d in scene.objects:
            assert 6 <= d <= 45 and scene.labels[y, x] in (k, BACKGROUND)  # a star's centre may be a gap
            assert scene.mask(k).sum() > 0


def test_shapes_never_touch():
    """Touching shapes would merge into one region: there are at least as many 8-connected regions as
    shapes (a tiny star's tips may even split off into more)."""
    import cv2

    for scene in make_scenes(30, seed=4, count=(4, 5)):
        n, _ = cv2.connectedComponents((scene.labels != BACKGROUND).astype(np.uint8), connectivity=8)
        assert n - 1 >= len(scene.objects)


def test_empty_and_rectangular_scenes():
    empty = draw_scene(np.random.default_rng(0), 64, count=(0, 0))
    assert not empty.objects and (empty.labels == BACKGROUND).all() and not empty.present().any()
    wide = draw_scene(np.random.default_rng(0), (128, 192), count=(6, 6), sizes=(10, 20), scale=1.0)
    assert wide.image.shape == (128, 192, 3) and wide.labels.shape == (128, 192)
    assert all(10 <= d <= 20 for *_, d in wide.objects)


@pytest.mark.parametrize("seed", range(5))
def test_the_lesson_scene_holds_every_class_once(seed):
    scene = lesson_scene(seed=seed)
    assert scene.image.shape == (256, 256, 3) and scene.present().all()
    assert sorted(k for k, *_ in scene.objects) == list(range(len(SHAPE_CLASSES)))
    assert all(scene.mask(k).sum() > 500 for k in range(len(SHAPE_CLASSES)))  # big enough to see
    assert np.array_equal(scene.image, lesson_scene(seed=seed).image)


def test_natural_pictures_are_varied_photos_without_labels():
    rng = np.random.default_rng(0)
    pictures = [natural_image(64, rng) for _ in range(60)]
    assert all(p.shape == (64, 64, 3) and p.dtype == np.uint8 for p in pictures)
    assert np.std([p.mean() for p in pictures]) > 15  # bright and dark, not one look
    assert sum(p.std() > 8 for p in pictures) > 45  # mostly structured, not flat fields
    for style in NATURAL_STYLES:
        img = style(128, np.random.default_rng(1))
        assert img.shape == (128, 128, 3) and np.isfinite(img).all()


def test_training_mix_follows_its_recipe():
    images, targets, labels = training_mix(2000, seed=5)
    assert images.shape == (2000, 64, 64, 3) and targets.shape == (2000, len(SHAPE_CLASSES))
    assert labels.shape == (2000, 64, 64)
    for t, lab in zip(targets[:200], labels[:200]):  # the label maps hold exactly the classes present
        assert set(np.flatnonzero(t)) == set(np.unique(lab[lab >= 0]))
    counts = targets.sum(1)
    # one-hot singles + scenes with 1+ classes vs. nothing at all (empty and natural)
    assert abs(np.mean(counts == 0) - (MIX["empty"] + MIX["natural"])) < 0.04
    assert abs(np.mean(counts >= 1) - (MIX["single"] + MIX["scene"])) < 0.04
    assert set(np.unique(targets)) == {0.0, 1.0}
