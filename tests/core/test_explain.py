import threading

import numpy as np
import pytest
import torch

from core import explain
from core.data import make_shapes
from core.errors import CNNLabError
from core.models import load_model, preprocess


@pytest.fixture(scope="module")
def shapes_model():
    return load_model("shapesnet")


@pytest.fixture(scope="module")
def held_out():
    return make_shapes(200, seed=777)


def _no_hooks(model):
    return not any(m._forward_hooks or m._backward_hooks or m._forward_pre_hooks for m in model.modules())


@pytest.fixture(scope="module")
def pointing(shapes_model):
    from core.scorecard import pointing_scenes

    return explain.pointing_game_scenes(shapes_model, pointing_scenes(60), "features.block4")


def test_gradcam_beats_the_centre_guess_and_random_peaks_on_scenes(pointing):
    """For every class present in 60 held-out scenes, its Grad-CAM's peak must land on that class's
    shapes far more often than a guess at the centre, which a single centred shape would reward."""
    assert pointing.trials > 120
    assert pointing.cam >= 0.8 and pointing.centre <= 0.4 and pointing.random <= 0.3
    assert pointing.cam - pointing.centre >= 0.4


def test_pointing_game_rules():
    heat = np.zeros((64, 64))
    heat[10, 10] = 1.0
    mask = np.zeros((64, 64), bool)
    mask[12:20, 12:20] = True
    assert not explain.pointing_game(heat, mask, tolerance=0)
    assert explain.pointing_game(heat, mask)  # 15 px at 224 is 4 px at 64: the peak is 2 px away
    assert explain.pointing_tolerance(224) == 15 and explain.pointing_tolerance(64) == 4
    assert explain.point_on(mask, (9, 12), 3) and not explain.point_on(mask, (9, 12), 2)  # 3 px above the mask
    assert not explain.point_on(np.zeros((8, 8), bool), (0, 0), 100)  # no object: never a hit


def test_occluding_the_object_hurts_more_than_occluding_background(shapes_model, held_out):
    img, mask, label = held_out.images[0], held_out.masks[0], int(held_out.labels[0])
    x = preprocess(img, shapes_model.spec)
    occ = explain.occlusion(shapes_model, x, label, patch=12, stride=4)
    assert occ[mask].mean() > occ[~mask].mean()
    ys, xs = np.nonzero(mask)
    cy, cx = int(ys.mean()), int(xs.mean())
    far = np.unravel_index(np.argmax(np.where(mask, -1, np.abs(np.indices(mask.shape) -
                                                                np.array([cy, cx])[:, None, None]).sum(0))), mask.shape)
    assert occ[cy, cx] > occ[far]


def test_concurrent_cams_equal_the_ones_computed_alone():
    loaded = load_model("resnet18")  # random weights here; the maps are still deterministic
    rng = np.random.default_rng(0)
    jobs = [(torch.from_numpy(rng.normal(size=(1, 3, 224, 224)).astype(np.float32)), cls) for cls in (3, 500, 999, 42)]
    alone = [explain.cam(loaded, x, "Grad-CAM", "layer4", c) for x, c in jobs]
    together: dict[int, np.ndarray] = {}
    errors = []

    def work(i):
        try:
            together[i] = explain.cam(loaded, jobs[i][0], "Grad-CAM", "layer4", jobs[i][1])
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i, expected in enumerate(alone):
        np.testing.assert_array_equal(together[i], expected)
    assert _no_hooks(loaded.model) and not any(p.requires_grad for p in loaded.model.parameters())


@pytest.mark.parametrize("method", list(explain.CAM_METHODS))
def test_every_method_restores_the_model(shapes_model, held_out, method):
    model = shapes_model.model
    model.train()
    model.features.block1[0].weight.requires_grad_(True)
    try:
        heat = explain.cam(shapes_model, preprocess(held_out.images[1], shapes_model.spec), method,
                           "features.block4", int(held_out.labels[1]))
        assert heat.shape == (64, 64) and 0 <= heat.min() and heat.max() <= 1 and heat.max() > 0
        assert model.training and model.features.block1[0].weight.requires_grad
        assert not model.features.block2[0].weight.requires_grad
        assert all(p.grad is None for p in model.parameters()) and _no_hooks(model)
    finally:
        model.eval()
        model.features.block1[0].weight.requires_grad_(False)


def test_bad_requests_are_clear_errors(shapes_model):
    x = torch.zeros(1, 3, 64, 64)
    with pytest.raises(CNNLabError, match="not a spatial map"):
        explain.cam(shapes_model, x, "Grad-CAM", "fc", 0)
    with pytest.raises(CNNLabError, match="out of range"):
        explain.cam(shapes_model, x, "Grad-CAM", "features.block4", 5)
    with pytest.raises(CNNLabError, match="out of range"):
        explain.saliency(shapes_model, x, -1)
    with pytest.raises(CNNLabError, match="Unknown method"):
        explain.cam(shapes_model, x, "Magic-CAM", "features.block4", 0)
    with pytest.raises(CNNLabError, match="no layer named"):
        explain.cam(shapes_model, x, "Grad-CAM", "features.block9", 0)
    with pytest.raises(CNNLabError, match="stride <= patch"):
        explain.occlusion(shapes_model, x, 0, patch=4, stride=8)


def test_layer_listing(shapes_model):
    shapes = explain.layer_shapes(shapes_model, torch.zeros(1, 3, 64, 64))
    assert shapes["features.block4"] == (64, 16, 16) and shapes["fc"] == (5,)
    layers = explain.spatial_layers(shapes)
    assert "features.block4" in layers and "fc" not in layers and "pool" not in layers


def test_cache_is_keyed_by_content(shapes_model, held_out):
    cache = explain.CamCache(size=2)
    x = preprocess(held_out.images[2], shapes_model.spec)
    first = cache.get_or_compute(shapes_model, x, "Grad-CAM", "features.block4", 1)
    assert cache.get_or_compute(shapes_model, x.clone(), "Grad-CAM", "features.block4", 1) is first
    other = cache.get_or_compute(shapes_model, x, "Grad-CAM", "features.block4", 2)
    assert other is not first
    cache.get_or_compute(shapes_model, x, "Eigen-CAM", "features.block4", 1)
    assert len(cache._items) == 2  # bounded


def test_prefetch_makes_the_maps_a_class_switch_will_ask_for(shapes_model, held_out, monkeypatch):
    cache = explain.CamCache()
    monkeypatch.setattr(explain, "CAMS", cache)
    x = preprocess(held_out.images[3], shapes_model.spec)
    live = ["Grad-CAM", "Eigen-CAM", explain.SALIENCY]
    explain.prefetch(shapes_model, x, live, "features.block4", [0, 2, 4])
    assert len(cache._items) == 9
    for target in (0, 2, 4):
        made = cache.get_or_compute_many(shapes_model, x, live, "features.block4", target)
        np.testing.assert_allclose(made["Grad-CAM"], explain.cam(shapes_model, x, "Grad-CAM", "features.block4", target),
                                   atol=1e-6)
        np.testing.assert_allclose(made[explain.SALIENCY], explain.saliency(shapes_model, x, target), atol=1e-6)
    assert len(cache._items) == 9  # every one was a hit
    explain.prefetch(shapes_model, x, ["Score-CAM"], "features.block4", [0])  # slow methods wait for their button
    explain.prefetch(shapes_model, x, ["Grad-CAM"], "no.such.layer", [0])  # an impossible map is left out
    assert len(cache._items) == 9


@pytest.mark.parametrize("layer", ["features.block4", "features.block2"])
def test_maps_made_in_one_pass_equal_each_method_alone(layer, shapes_model, held_out):
    loaded = shapes_model
    x = preprocess(held_out.images[5], loaded.spec)
    target = int(held_out.labels[5])
    methods = ["Eigen-CAM", "Grad-CAM", "Grad-CAM++", "XGrad-CAM", "Layer-CAM", "Score-CAM"]
    alone = {}
    for m in methods:
        import pytorch_grad_cam
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        with explain.model_for_gradients(loaded) as model:  # the library's own call, one method at a time
            with getattr(pytorch_grad_cam, explain.CAM_METHODS[m])(
                    model=model, target_layers=[model.get_submodule(layer)]) as engine:
                alone[m] = engine(input_tensor=x, targets=[ClassifierOutputTarget(target)])[0]
    together = explain.cams(loaded, x, methods, layer, target)
    assert list(together) == methods and _no_hooks(loaded.model)
    for m in methods:
        np.testing.assert_allclose(together[m], alone[m], atol=1e-5, err_msg=m)
    assert len({round(float(together[m].std()), 6) for m in methods}) >= 4  # not one map six times
    passes = []  # the five besides Score-CAM: one forward pass for all of them
    handle = loaded.model.register_forward_hook(lambda *_: passes.append(1))
    try:
        explain.cams(loaded, x, methods[:5], layer, target)
    finally:
        handle.remove()
    assert len(passes) == 1


def test_random_order_deletion_is_made_once_for_every_class(shapes_model, held_out):
    x = preprocess(held_out.images[7], shapes_model.spec)
    heat = explain.cam(shapes_model, x, "Grad-CAM", "features.block4", 0)
    passes = []
    handle = shapes_model.model.register_forward_hook(lambda *_: passes.append(1))
    try:
        curves = [explain.deletion_curve(shapes_model, x, heat, k, order="random") for k in range(5)]
    finally:
        handle.remove()
    assert len(passes) == 3  # 17 steps in batches of 8, for the first class only
    probs = np.stack([p for _, p in curves])
    assert len({round(float(p[0]), 6) for p in probs}) == 5  # each class reads its own column
    fresh = explain._deletion_probs(shapes_model, x, np.random.default_rng(0).permutation(256), 16, curves[0][0])
    np.testing.assert_allclose(probs.T, fresh, atol=1e-6)
    _, other_seed = explain.deletion_curve(shapes_model, x, heat, 0, order="random", seed=1)
    assert not np.allclose(other_seed, curves[0][1])


def test_deletion_beats_random_order_on_average(shapes_model, held_out):
    ours, random = [], []
    for img, label in zip(held_out.images[:24], held_out.labels[:24]):
        x = preprocess(img, shapes_model.spec)
        heat = explain.cam(shapes_model, x, "Grad-CAM", "features.block4", int(label))
        f, p = explain.deletion_curve(shapes_model, x, heat, int(label))
        fr, pr = explain.deletion_curve(shapes_model, x, heat, int(label), order="random")
        assert p[0] == pytest.approx(pr[0]) and f[-1] == 1.0
        ours.append(explain.area_under(f, p))
        random.append(explain.area_under(fr, pr))
    assert np.mean(ours) < np.mean(random)


def test_sanity_check_maps_change_and_the_original_is_untouched(shapes_model, held_out):
    x = preprocess(held_out.images[3], shapes_model.spec)
    before = [p.clone() for p in shapes_model.model.parameters()]
    trained = explain.cam(shapes_model, x, "Grad-CAM", "features.block4", int(held_out.labels[3]))
    scrambled_model = explain.randomized_copy(shapes_model)
    scrambled = explain.cam(scrambled_model, x, "Grad-CAM", "features.block4", int(held_out.labels[3]))
    assert explain.rank_similarity(trained, scrambled) < 0.5
    assert all(torch.equal(a, b) for a, b in zip(before, shapes_model.model.parameters()))
    assert explain.rank_similarity(trained, trained) == pytest.approx(1.0)


def test_rank_similarity_refuses_flat_maps():
    with pytest.raises(CNNLabError, match="flat"):
        explain.rank_similarity(np.zeros((8, 8)), np.random.default_rng(0).random((8, 8)))


def test_saliency_and_smoothgrad_are_normalised_maps(shapes_model, held_out):
    x = preprocess(held_out.images[4], shapes_model.spec)
    for heat in (explain.saliency(shapes_model, x, 0), explain.smoothgrad(shapes_model, x, 0, samples=4)):
        assert heat.shape == (64, 64) and heat.max() == pytest.approx(1.0) and heat.min() >= 0
    np.testing.assert_array_equal(explain.smoothgrad(shapes_model, x, 0, samples=4, seed=1),
                                  explain.smoothgrad(shapes_model, x, 0, samples=4, seed=1))
