"""Tiling: tiles cover the image, the cap refuses runaway settings, the stitched map finds the shapes."""
import numpy as np
import pytest

from core import tiling
from core.errors import CNNLabError
from core.models import load_model


def test_tile_origins_cover_to_the_far_edge():
    assert tiling.tile_origins(100, 40, 40) == [0, 40, 60]
    assert tiling.tile_origins(120, 40, 20) == [0, 20, 40, 60, 80]
    assert tiling.tile_origins(30, 40, 20) == [0]  # a tile bigger than the image: one tile


def test_overlap_sets_the_stride_and_the_cap_refuses_too_many_tiles():
    rows, cols = tiling.tile_grid(512, 512, 64, 0.5)
    assert rows[:3] == [0, 32, 64] and len(rows) * len(cols) == 15 * 15
    with pytest.raises(CNNLabError, match="limit here is 3,000"):
        tiling.tile_grid(2048, 2048, 32, 0.75)
    with pytest.raises(CNNLabError, match="Overlap"):
        tiling.tile_grid(512, 512, 64, 1.0)
    with pytest.raises(CNNLabError, match="64 to 2048"):
        tiling.make_scene(4096, 512)


def test_scene_labels_match_its_objects():
    scene = tiling.make_scene(384, 480, seed=3)
    assert scene.image.shape == (384, 480, 3) and scene.labels.shape == (384, 480)
    assert len(scene.objects) == round(tiling.DENSITY * 384 * 480) or len(scene.objects) > 5
    for kind, y, x, size in scene.objects:
        assert tiling.SHAPE_PX[0] <= size <= tiling.SHAPE_PX[1]
        window = scene.labels[max(0, y - size // 2):y + size // 2, max(0, x - size // 2):x + size // 2]
        assert (window == kind).any()
    assert set(np.unique(scene.labels)) <= {tiling.BACKGROUND, 0, 1, 2, 3, 4}


def test_map_scores_count_background_as_a_class():
    truth = np.full((10, 10), tiling.BACKGROUND)
    truth[:5, :5] = 2
    all_background = np.full_like(truth, tiling.BACKGROUND)
    score = tiling.score_map(truth, all_background, 5)
    assert score.pixel_accuracy == 0.75  # a trivial map still gets most pixels right...
    assert score.iou[0] == 0.75 and score.iou[3] == 0.0 and score.mean_iou == pytest.approx(0.375)  # ...not IoU
    assert tiling.score_map(truth, truth, 5).mean_iou == 1.0


@pytest.fixture(scope="module")
def shapes_model():
    return load_model("shapesnet")


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_default_stitched_map_is_near_the_true_map(shapes_model, seed):
    """The tiling lab's defaults (768x1024, 96 px tiles, 50% overlap, score 0.3, CAM placement, best tile)."""
    scene = tiling.make_scene(768, 1024, seed=seed)
    tiles = tiling.classify_tiles(shapes_model, scene.image, 96, 0.5)
    assert tiles.probs.shape == (len(tiles.rows), len(tiles.cols), 5)
    score = tiling.score_map(scene.labels, tiling.map_labels(tiles), 5)
    assert score.mean_iou >= 0.5 and score.pixel_accuracy >= 0.9  # measured 0.54-0.56 and 0.94-0.95
    everything_background = tiling.score_map(scene.labels, np.full_like(scene.labels, tiling.BACKGROUND), 5)
    assert everything_background.mean_iou < 0.2  # the trivial map fails the same bar


def test_placing_scores_by_cam_beats_spreading_them_over_the_tile(shapes_model):
    scene = tiling.make_scene(512, 512, seed=4)
    placed = tiling.classify_tiles(shapes_model, scene.image, 96, 0.5)
    spread = tiling.classify_tiles(shapes_model, scene.image, 96, 0.5, localise=False)
    np.testing.assert_array_equal(placed.probs, spread.probs)  # the same tiles, the same scores
    iou = [tiling.score_map(scene.labels, tiling.map_labels(t, 0.5), 5).mean_iou for t in (placed, spread)]
    assert iou[0] > iou[1] + 0.1


def test_stitching_keeps_the_best_tile_or_the_mean(shapes_model):
    scene = tiling.make_scene(384, 384, seed=6)
    best = tiling.classify_tiles(shapes_model, scene.image, 96, 0.5)
    mean = tiling.classify_tiles(shapes_model, scene.image, 96, 0.5, stitch="mean")
    assert best.stitch == "max" and mean.stitch == "mean"
    assert (best.pixel_scores.astype(np.float32) >= mean.pixel_scores.astype(np.float32) - 1e-3).all()
    with pytest.raises(CNNLabError, match="Unknown stitching"):
        tiling.classify_tiles(shapes_model, scene.image, 96, 0.5, stitch="median")


def test_the_threshold_changes_the_map_and_its_scores(shapes_model):
    scene = tiling.make_scene(512, 512, seed=5)
    tiles = tiling.classify_tiles(shapes_model, scene.image, 96, 0.5)
    low, high = (tiling.map_labels(tiles, c) for c in (0.5, 0.95))
    assert (high == tiling.BACKGROUND).sum() > (low == tiling.BACKGROUND).sum()
    assert tiling.score_map(scene.labels, low, 5).mean_iou != tiling.score_map(scene.labels, high, 5).mean_iou
    assert (tiling.map_labels(tiles, 1.01) == tiling.BACKGROUND).all()  # nothing scores above 1
