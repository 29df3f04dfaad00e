"""Style transfer: Gram matrices, the offline switch-off, and an optimisation that moves the picture."""
import numpy as np
import pytest
import torch
from torchvision.models.vgg import cfgs, make_layers

from core import style, weights
from core.errors import CNNLabError
from core.images import sample_photo


def test_gram_matrix_of_a_known_map():
    feat = torch.tensor([[1.0, 2.0], [0.0, 1.0]]).view(1, 2, 1, 2)  # 2 channels, 1x2 positions
    expected = torch.tensor([[5.0, 2.0], [2.0, 1.0]]) / (2 * 1 * 2)
    assert torch.allclose(style.gram(feat), expected)


def test_offline_without_cached_weights_the_lab_is_off_and_says_why():
    features, why = style.vgg19_features()
    assert features is None and "VGG19's ImageNet weights are not in" in why


def test_cached_weights_are_loaded_into_the_conv_layers(tmp_path, monkeypatch):
    """A checkpoint in the hub cache (here a re-initialised VGG19's conv layers) is picked up."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    torch.manual_seed(0)
    convs = make_layers(cfgs["E"])
    path = weights.cached_path("vgg19")
    path.parent.mkdir(parents=True)
    torch.save({f"features.{k}": v for k, v in convs.state_dict().items()}, path)
    features, source = style.vgg19_features()
    assert features is not None and "local cache" in source
    assert torch.equal(features[0].weight, convs[0].weight)
    assert len(features) == style.CONTENT_LAYER + 8  # up to relu5_1
    assert not any(p.requires_grad for p in features.parameters())


def test_stylize_moves_the_image_towards_the_style_and_respects_bounds():
    torch.manual_seed(0)
    features = style.freeze(make_layers(cfgs["E"]))  # random filters: only the mechanics are tested
    content, painting = sample_photo("Astronaut"), sample_photo("Hubble deep field")
    result = style.stylize(features, content, painting, size=48, steps=6, lr=0.05)
    assert result.image.shape == (48, 48, 3) and result.image.dtype == np.uint8
    assert result.style_loss[-1] < result.style_loss[0]
    assert not any(p.grad is not None for p in features.parameters())
    with pytest.raises(CNNLabError, match="image size"):
        style.stylize(features, content, painting, size=2000)
    with pytest.raises(CNNLabError, match="Steps"):
        style.stylize(features, content, painting, steps=0)
