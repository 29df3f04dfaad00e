"""Home's default view is a lesson: what it shows before anyone touches it is right.

Offline, Home opens on the shipped ShapesNet and a shapes scene, and the model names every shape in
it; a real photo gets "none of my classes"; with ImageNet weights in the cache it opens on ResNet-18
and the cat instead."""
import pytest

from core.data import SHAPE_CLASSES
from core.scenes import lesson_scene
from tests.pages.apptest import open_page, texts


def test_offline_home_opens_on_shapesnet_and_finds_every_shape_in_the_scene():
    at = open_page()
    assert not at.exception and not at.error and not at.warning
    assert at.query_params["model"] == "shapesnet" and at.query_params["source"] == "Synthetic shapes"
    present = [SHAPE_CLASSES[k] for k in sorted(set(k for k, *_ in lesson_scene(seed=0).objects))]
    found = next(s for s in texts(at.success) if s.startswith("Found:"))
    assert found.startswith(f"Found: **{', '.join(n for n in SHAPE_CLASSES if n in present)}**")
    assert not any("None of my classes" in i for i in texts(at.info))


@pytest.mark.parametrize("photo", ["Cat (chelsea)", "Coffee cup", "Coins (grey)"])
def test_a_photo_with_the_shipped_model_says_none_of_my_classes(photo):
    at = open_page(source="Sample photo", photo=photo)
    assert not at.exception and not at.error
    assert any(i.startswith("**None of my classes.**") for i in texts(at.info))
    assert not any(s.startswith("Found:") for s in texts(at.success))


def test_with_imagenet_weights_cached_home_opens_on_resnet18_and_the_cat(tmp_path, monkeypatch):
    import torch
    import torchvision

    from core import weights

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    path = weights.cached_path("resnet18")
    path.parent.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18().state_dict(), path)  # stands in for the real file
    at = open_page()
    assert not at.exception and not at.error
    assert at.query_params["model"] == "resnet18" and at.query_params["source"] == "Sample photo"
    assert at.query_params["photo"] == "Cat (chelsea)"
    assert not any("random weights" in w for w in texts(at.warning))
