import numpy as np
import pytest
import torch

from core import explain, lesions, temporal
from core.models import load_model, model_card


def test_template_and_brain_mask_come_from_the_installed_package():
    grid, brain = lesions.template()
    assert grid.shape == (64, 64, 64) and brain.dtype == bool
    assert 0.05 < brain.mean() < 0.4 and grid[brain].mean() > grid[~brain].mean()


def test_synthetic_sets_are_balanced_and_deterministic():
    a, b = lesions.make_set(6, 9), lesions.make_set(6, 9)
    assert [s.label for s in a] == [0, 1, 0, 1, 0, 1]
    np.testing.assert_array_equal(a[1].volume, b[1].volume)
    assert not a[0].mask.any() and a[1].mask.sum() > 50


def test_insert_lesion_changes_only_a_box():
    vol = np.zeros((40, 50, 60), np.float32)
    out, mask = lesions.insert_lesion(vol, (20, 25, 30), 4.0, 2.0)
    assert out[20, 25, 30] == pytest.approx(2.0) and out[0, 0, 0] == 0 and vol.max() == 0
    assert mask[20, 25, 30] and not mask[20, 25, 35] and mask.sum() == pytest.approx(4 / 3 * np.pi * 64, rel=0.15)


def test_native_index_is_the_centre_of_a_grid_cell():
    shape = (197, 233, 189)
    assert lesions.native_index((31, 31, 31), shape) == (96, 114, 93)  # int((31 + 0.5) * n / 64)
    assert lesions.native_index((63, 63, 63), shape) == (195, 231, 187)
    assert lesions.native_index((0, 0, 0), (64, 64, 64)) == (0, 0, 0)


def test_3d_convs_cost_more():
    p2, m2 = temporal.conv_cost(2)
    p3, m3 = temporal.conv_cost(3)
    assert p2 == 16 * 32 * 9 + 32 and p3 == 16 * 32 * 27 + 32
    assert m2 == 16 * 32 * 9 * 32 ** 2 and m3 == 16 * 32 * 27 * 32 ** 3


def test_shipped_3d_model_card_and_accuracy():
    card = model_card("lesion3d")
    assert card["test_accuracy"] >= 0.95 and card["cam_pointing_game"] >= 0.85
    loaded = load_model("lesion3d")
    test = lesions.make_set(40, 4242)
    x = lesions.as_batch([s.volume for s in test])
    with torch.no_grad():
        pred = loaded.model(x).argmax(1).numpy()
    assert (pred == np.array([s.label for s in test])).mean() >= 0.85


def test_3d_gradcam_is_a_volume_map_and_leaves_the_model_clean():
    loaded = load_model("lesion3d")
    sample = lesions.make_set(2, 31337)[1]
    cam = explain.cam(loaded, torch.from_numpy(sample.volume)[None, None], "Grad-CAM", loaded.spec.target_layer, 1)
    assert cam.shape == (64, 64, 64) and 0 <= cam.min() and cam.max() == pytest.approx(1.0, abs=1e-3)
    assert not any(m._forward_hooks or m._backward_hooks for m in loaded.model.modules())
    big = lesions.upsample(cam, (97, 115, 93))
    assert big.shape == (97, 115, 93) and big.dtype == np.uint8
    assert lesions.peak(np.pad(np.ones((1, 1, 1)), ((3, 0), (4, 0), (5, 0)))) == (3, 4, 5)


def test_cell_cover_is_the_share_of_each_cell_inside_the_lesion():
    masks = torch.zeros(1, 64, 64, 64, dtype=torch.bool)
    masks[0, 4:8, 8:12, 60:62] = True  # half of cell (1, 2, 15)
    cells = lesions.cell_cover(masks)
    assert cells.shape == (1, 16, 16, 16) and cells[0, 1, 2, 15] == 0.5 and cells.sum() == 0.5


def test_lesion_score_is_the_strongest_cell_and_the_loss_uses_the_mask():
    model = lesions.Lesion3DNet().eval()
    x = torch.rand(2, 1, 64, 64, 64)
    with torch.no_grad():
        evidence = model.evidence_map(x)
        p = model(x).softmax(1)[:, 1]
    assert evidence.shape == (2, 16, 16, 16)
    assert torch.allclose(p, torch.sigmoid(evidence.amax((1, 2, 3))), atol=1e-6)
    y = torch.tensor([0, 1])
    empty, spot = torch.zeros(2, 64, 64, 64, dtype=torch.bool), torch.zeros(2, 64, 64, 64, dtype=torch.bool)
    spot[1, 30:34, 30:34, 30:34] = True
    assert lesions.lesion_loss(model, x, y, empty) != lesions.lesion_loss(model, x, y, spot)


def test_lesion_training_is_deterministic_for_a_seed():
    samples = lesions.make_set(4, 11)
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        runs.append(lesions.fit_lesion_net(lesions.Lesion3DNet(), samples, epochs=1, lr=1e-3, batch_size=2, seed=5))
    assert runs[0] == runs[1]


@pytest.mark.slow
def test_3d_gradcam_peak_falls_inside_the_lesion():
    """The 3D pointing game on fresh held-out volumes (a seed the model never saw): Grad-CAM's peak voxel
    must lie inside the inserted lesion's mask on at least 85% of the positives."""
    loaded = load_model("lesion3d")
    positives = [s for s in lesions.make_set(80, 4243) if s.label == 1]
    hits = [bool(s.mask[lesions.peak(explain.cam(loaded, torch.from_numpy(s.volume)[None, None], "Grad-CAM",
                                                 loaded.spec.target_layer, 1))]) for s in positives]
    assert sum(hits) / len(hits) >= 0.85
