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
    assert scene.objects
    for kind, y, x, size in scene.objects:
        window = scene.labels[max(0, y - size // 2):y + size // 2, max(0, x - size // 2):x + size // 2]
        assert (window == kind).any()
    assert set(np.unique(scene.labels)) <= {tiling.BACKGROUND, 0, 1, 2, 3, 4}


def test_the_stitched_map_names_most_shapes_and_averages_overlaps():
    model = load_model("shapesnet")
    scene = tiling.make_scene(576, 768, seed=1)
    tiles = tiling.classify_tiles(model, scene.image, 96, 0.0)
    assert tiles.probs.shape == (6, 8, 5)
    assert np.allclose(tiles.pixel_probs.astype(np.float32).sum(-1), 1, atol=1e-2)
    assert tiling.object_accuracy(scene, tiles) >= 0.8
    acc, n = tiling.tile_accuracy(scene, tiles)
    assert n > 0 and acc >= 0.8
    labels = tiling.map_labels(tiles, min_conf=1.01)
    assert (labels == tiling.BACKGROUND).all()  # nothing is that confident
