import numpy as np
import pytest
import torch

from core.viz import channel_grid, colorize, filter_grid, normalize01, overlay, tile


def test_normalize01_handles_constant_and_nan():
    assert normalize01(np.full((3, 3), 7.0)).max() == 0.0
    out = normalize01(np.array([0.0, np.nan, 2.0]))
    np.testing.assert_allclose(out, [0.0, 0.0, 1.0])


def test_colorize_gray_is_a_ramp():
    out = colorize(np.array([[0.0, 1.0]]), "gray")
    np.testing.assert_array_equal(out[0], [[0, 0, 0], [255, 255, 255]])


def test_overlay_endpoints():
    photo = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    heat = np.random.default_rng(1).random((5, 5))
    np.testing.assert_array_equal(overlay(photo, heat, 0.0), photo)
    full = overlay(photo, heat, 1.0, "jet")
    assert full.shape == photo.shape and not np.array_equal(full, photo)


def test_tile_layout():
    tiles = [np.full((4, 6, 3), i, np.uint8) for i in range(5)]
    grid = tile(tiles, cols=3, pad=1)
    assert grid.shape == (2 * 4 + 1, 3 * 6 + 2, 3)
    assert grid[0, 0, 0] == 0 and grid[5, 7, 0] == 4  # 5th tile: row 1, column 1
    with pytest.raises(ValueError):
        tile([], 3)


def test_filter_grid_maps_zero_to_grey_and_sign_to_brightness():
    w = torch.zeros(2, 3, 3, 3)
    w[1, :, 0, 0] = 1.0
    w[1, :, 2, 2] = -1.0
    grid = filter_grid(w, tile_px=3)
    assert grid[1, 1, 0] == 128  # first filter all zeros -> mid grey
    second = grid[:, 5:8]
    assert second[0, 0, 0] == 255 and second[2, 2, 0] == 0


def test_channel_grid_size():
    assert channel_grid(torch.rand(10, 4, 4), [3, 1, 2], tile_px=8).shape == (8, 3 * 8 + 4, 3)


def test_diverging_table_matches_the_exact_blend():
    from core.viz import diverging

    a = np.random.default_rng(0).normal(size=(64, 80)).astype(np.float32)
    rgb, vmax = diverging(a)
    t = np.clip(a / vmax, -1, 1)[..., None]
    white, red, blue = np.array([255, 255, 255.0]), np.array([178, 24, 43.0]), np.array([33, 102, 172.0])
    exact = np.round(np.where(t >= 0, white + t * (red - white), white - t * (blue - white)))
    assert vmax == float(np.abs(a).max()) and np.abs(rgb.astype(int) - exact).max() <= 1
    ends, _ = diverging(np.array([[-2.0, 0.0, 2.0]]))
    assert ends[0].tolist() == [[33, 102, 172], [255, 255, 255], [178, 24, 43]]
    assert diverging(np.full((3, 3), np.nan))[0].tolist() == [[[255, 255, 255]] * 3] * 3
