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
    present = {SHAPE_CLASSES[k] for k, *_ in lesson_scene(seed=0).objects}
    found = next(s for s in texts(at.success) if s.startswith("Found:"))
    assert set(found.split("**")[1].split(", ")) == present  # every shape in the scene, and nothing else
    assert not any("None of my classes" in i for i in texts(at.info))


@pytest.mark.parametrize("photo", ["Cat (chelsea)", "Coffee cup", "Astronaut"])
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


def _open_with_mirror(tmp_path, monkeypatch, name: str, served: bytes):
    """Home on a fresh server whose only weights source is a local mirror serving ``served`` as ResNet-18."""
    from core import weights
    from tests.inputs import weights_server

    httpd, base = weights_server.start()
    weights_server.Handler.files[name] = served
    monkeypatch.setenv("CNNLAB_OFFLINE", "0")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv(weights.MIRROR_ENV, base)
    monkeypatch.setattr(weights, "file_name", lambda key: name if key == "resnet18" else key)
    monkeypatch.setattr(weights, "_downloads", {})
    try:
        return open_page()
    finally:
        httpd.shutdown()


def test_online_home_downloads_resnet18_with_progress_and_opens_on_the_cat(tmp_path, monkeypatch):
    """The real download path, against a local server serving a fabricated checkpoint."""
    from core import weights
    from tests.inputs import weights_server

    name, body, _ = weights_server.resnet18_checkpoint()
    at = _open_with_mirror(tmp_path, monkeypatch, name, body)
    assert not at.exception and not at.error and not at.warning
    assert at.query_params["model"] == "resnet18" and at.query_params["photo"] == "Cat (chelsea)"
    assert any(c.startswith(f"Downloaded {name}") for c in texts(at.caption))
    assert weights.available("resnet18")


def test_a_broken_download_falls_back_to_the_shipped_model_with_a_message(tmp_path, monkeypatch):
    from tests.inputs import weights_server

    name, body, _ = weights_server.resnet18_checkpoint()
    at = _open_with_mirror(tmp_path, monkeypatch, name, body[:-10] + b"0123456789")  # damaged on the way
    assert not at.exception and not at.error
    assert any("damaged or not the published file" in w for w in texts(at.warning))
    assert at.query_params["model"] == "shapesnet" and at.query_params["source"] == "Synthetic shapes"
    assert any(s.startswith("Found:") for s in texts(at.success))  # the shipped model's lesson, not noise
