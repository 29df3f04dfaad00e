"""The segmentation lab's claim: with no dense layer the same trained network labels a bigger scene
whole, and its mask there is near the truth (the page shows the IoU on that scene)."""
import numpy as np
import pytest

from core import segmentation


@pytest.mark.slow
def test_the_default_fcn_gives_a_bigger_scene_a_mask_near_the_truth():
    """The lab's default budget (1,000 training images, 6 epochs) and its default bigger scene (seed 0)."""
    result = segmentation.train_fcn(task="object vs background", skips=True, n_train=1000, epochs=6)
    scene = segmentation.big_scene(0)
    pred = segmentation.predict(result.model, scene.image[None])[0]
    assert pred.shape == (128, 192)
    truth = segmentation.scene_labels(scene, "object vs background")
    iou = segmentation.iou_per_class(pred, truth, 2)
    assert np.nanmean(iou) >= 0.8 and iou[1] >= 0.65
    assert np.nanmean(segmentation.iou_per_class(np.zeros_like(truth), truth, 2)) < 0.5  # all background fails
