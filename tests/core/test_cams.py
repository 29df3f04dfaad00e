"""torchcam's maps under the shared model's lock, and their agreement with pytorch-grad-cam."""
import threading

import numpy as np
import pytest

from core import cams
from core.scenes import lesson_scene
from core.errors import CNNLabError
from core.images import sample_photo
from core.models import load_model, preprocess


@pytest.fixture(scope="module")
def shapesnet():
    return load_model("shapesnet")


def _x(loaded, photo):
    return preprocess(photo, loaded.spec)


def _untouched(loaded) -> bool:
    m = loaded.model
    return not any(mod._forward_hooks or mod._forward_pre_hooks or mod._backward_hooks for mod in m.modules()) \
        and not any(p.requires_grad or p.grad is not None for p in m.parameters()) and not m.training


@pytest.mark.parametrize("key,layer", [("shapesnet", "features.block4"), ("shapesnet", "features.block3"),
                                       ("resnet18", "layer4")])
def test_pytorch_grad_cam_and_torchcam_agree(key, layer):
    loaded = load_model(key)  # ResNet-18 has random weights offline: agreement is about the code, not the model
    photos = (sample_photo("Cat (chelsea)"), lesson_scene(seed=3).image)
    for photo in photos if key == "shapesnet" else photos[:1]:  # one 224 px photo is enough for ResNet-18
        x = _x(loaded, photo)
        target = int(loaded.model(x).argmax())
        a = cams.agreement(loaded, x, layer, target)
        assert a.pytorch_grad_cam.shape == a.torchcam.shape == tuple(x.shape[-2:])
        assert a.pytorch_grad_cam.std() > 0.05  # a real map, not a constant one
        assert a.correlation >= 0.99
    assert _untouched(loaded)


def test_a_constant_map_does_not_fake_agreement():
    flat, ramp = np.zeros((4, 4)), np.arange(16.0).reshape(4, 4)
    assert cams.correlation(flat, ramp) == 0.0 and cams.correlation(ramp, 2 * ramp + 1) == pytest.approx(1.0)


def test_every_torchcam_method_gives_a_map_and_restores_the_model(shapesnet):
    x = _x(shapesnet, lesson_scene(seed=0).image)
    for method in cams.TORCHCAM_METHODS:
        heat = cams.torchcam_map(shapesnet, x, method, "features.block4", 3)
        assert heat.shape == (64, 64) and heat.min() == 0.0 and heat.max() == pytest.approx(1.0)
    assert _untouched(shapesnet)


def test_cam_needs_a_gap_head():
    simple = load_model("simplecnn_shapes")
    x = _x(simple, lesson_scene(seed=0).image)
    why = cams.unavailable("CAM (torchcam)", simple, x, "conv2")
    assert why and "global average pooling" in why
    with pytest.raises(CNNLabError, match="global average pooling"):
        cams.torchcam_map(simple, x, "CAM (torchcam)", "conv2", 0)
    assert cams.gap_head(load_model("shapesnet").model, 64) == "fc"


def test_score_family_is_refused_where_it_would_take_minutes():
    resnet = load_model("resnet18")
    x = _x(resnet, sample_photo("Cat (chelsea)"))
    assert "masked forward passes" in cams.unavailable("SS-CAM (torchcam)", resnet, x, "layer4")


def test_bad_layer_and_class_are_messages(shapesnet):
    x = _x(shapesnet, lesson_scene(seed=0).image)
    with pytest.raises(CNNLabError, match="no layer named"):
        cams.torchcam_map(shapesnet, x, "CAM (torchcam)", "nope", 0)
    with pytest.raises(CNNLabError, match="out of range"):
        cams.torchcam_map(shapesnet, x, "CAM (torchcam)", "features.block4", 9)
    with pytest.raises(CNNLabError, match="not a spatial map"):
        cams.torchcam_map(shapesnet, x, "SmoothGrad-CAM++ (torchcam)", "pool", 0)


def test_concurrent_sessions_get_their_own_maps(shapesnet):
    """Threads share the cached model; the lock keeps each call's hooks to itself."""
    xs = [_x(shapesnet, lesson_scene(seed=s).image) for s in range(4)]
    expected = [cams.torchcam_map(shapesnet, x, "SmoothGrad-CAM++ (torchcam)", "features.block4", 3) for x in xs]
    results = [None] * 4

    def work(i):
        results[i] = cams.torchcam_map(shapesnet, xs[i], "SmoothGrad-CAM++ (torchcam)", "features.block4", 3)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, expected):
        np.testing.assert_allclose(got, want, atol=1e-5)
    assert _untouched(shapesnet)
