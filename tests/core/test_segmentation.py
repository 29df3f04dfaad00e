"""The FCN: any input size, IoU computed right, and a held-out mean IoU from a small live budget."""
import numpy as np
import pytest
import torch

from core import segmentation
from core.data import make_shapes


def test_label_maps_for_both_tasks():
    ds = make_shapes(4, seed=1)
    binary = segmentation.label_maps(ds, "object vs background")
    classes = segmentation.label_maps(ds, "which shape, per pixel")
    assert set(np.unique(binary)) == {0, 1} and np.array_equal(binary == 1, ds.masks)
    for i in range(4):
        assert set(np.unique(classes[i])) == {0, ds.labels[i] + 1}


def test_iou_on_known_maps():
    truth = np.array([[0, 0, 1, 1]])
    pred = np.array([[0, 1, 1, 1]])
    iou = segmentation.iou_per_class(pred, truth, 3)
    assert iou[0] == pytest.approx(1 / 2) and iou[1] == pytest.approx(2 / 3) and np.isnan(iou[2])


@pytest.mark.parametrize("skips", [True, False])
def test_fcn_has_no_fixed_input_size(skips):
    model = segmentation.TinyFCN(skips, num_classes=6).eval()
    for h, w in ((64, 64), (128, 192), (40, 24)):
        assert model(torch.zeros(1, 3, h, w)).shape == (1, 6, h, w)
    assert not any(isinstance(m, torch.nn.Linear) for m in model.modules())


@pytest.mark.slow
def test_fcn_segments_held_out_shapes():
    """Budget: 600 synthetic shapes, 4 epochs of Adam with OneCycle (LR 0.01), batch 32, flips, seed 0; 200
    held-out shapes from a disjoint seed. About 10 s; seeded mean IoU (background, shape) 0.874."""
    result = segmentation.train_fcn(n_train=600, epochs=4)
    assert result.mean_iou >= 0.85 and result.iou[1] >= 0.75
    scene = segmentation.predict(result.model, make_shapes(1, size=128, seed=3).images)
    assert scene.shape == (1, 128, 128)
