"""MLP-Mixer: mixes tokens and channels with plain MLPs; convolution wins on little data."""
import pytest
import torch

from core import mixer


def test_mixer_shapes_and_has_no_convolution_after_the_patch_embedding():
    model = mixer.MLPMixer()
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 5)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs == [model.embed] and model.embed.stride == (4, 4)
    block = model.blocks[0]
    assert block.token_mlp[0].in_features == 64  # 8x8 patches: the token MLP spans all of them


@pytest.mark.slow
def test_the_cnn_beats_the_mixer_on_the_same_small_budget():
    cnn, mix = mixer.compare(n_train=2000, epochs=6, seed=0)
    assert cnn.params < mix.params
    assert cnn.accuracy > mix.accuracy + 0.1
