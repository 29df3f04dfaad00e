"""MLP-Mixer: mixes tokens and channels with plain MLPs (the lab's outcome: tests/lessons/test_frontiers_mixer.py)."""
import torch

from core import mixer


def test_mixer_shapes_and_has_no_convolution_after_the_patch_embedding():
    model = mixer.MLPMixer()
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 5)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs == [model.embed] and model.embed.stride == (4, 4)
    block = model.blocks[0]
    assert block.token_mlp[0].in_features == 64  # 8x8 patches: the token MLP spans all of them
