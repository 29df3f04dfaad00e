"""The Training Monitor's architectures: shapes for colour and grey input, knobs, known sizes."""
import pytest
import torch

from core.errors import CNNLabError
from core.nets import ARCHS, build_net


@pytest.mark.parametrize("arch", list(ARCHS))
@pytest.mark.parametrize("channels", [1, 3])
def test_every_arch_classifies_colour_and_grey_at_its_sizes(arch, channels):
    for size in ARCHS[arch].sizes:
        model = build_net(arch, 7, channels, width=8, depth=2, dropout=0.5).eval()
        assert model(torch.rand(2, channels, size, size)).shape == (2, 7)


def test_simplecnn_has_the_course_parameter_count():
    # conv1 3*16*9+16, conv2 16*32*9+32, fc 32*8*8*5+5
    assert sum(p.numel() for p in build_net("simplecnn", 5, 3).parameters()) == 448 + 4640 + 10245


def test_width_and_depth_change_the_small_nets():
    def params(arch, **kw):
        return sum(p.numel() for p in build_net(arch, 5, 3, **kw).parameters())
    assert params("vgg", width=16, depth=3) > params("vgg", width=8, depth=3) > params("vgg", width=8, depth=2)
    assert params("resnet", width=16, depth=2) > params("resnet", width=16, depth=1)
    blocks = [m for m in build_net("resnet", 5, 3, depth=2).modules() if type(m).__name__ == "BasicBlock"]
    assert len(blocks) == 6  # 3 stages x depth


def test_dropout_is_placed_before_the_classifier():
    model = build_net("vgg", 5, 3, dropout=0.4)
    assert [m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)] == [0.4]


def test_seed_makes_initialisation_reproducible():
    a, b = build_net("resnet", 5, 3, seed=3), build_net("resnet", 5, 3, seed=3)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_unknown_arch_and_single_class_are_refused():
    with pytest.raises(CNNLabError, match="Unknown architecture"):
        build_net("alexnet", 5, 3)
    with pytest.raises(CNNLabError, match="at least 2 classes"):
        build_net("vgg", 1, 3)
