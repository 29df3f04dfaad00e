"""TorchLens tracing: every operation, and which of them module hooks would miss."""
import torch

from core import tracing
from core.models import load_model


def _hooked_outputs(model, x) -> int:
    """What forward hooks on every module see: one output per module call."""
    seen = []
    handles = [m.register_forward_hook(lambda *_: seen.append(1)) for n, m in model.named_modules() if n]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return len(seen)


def test_simplecnn_functional_relus_and_flatten_are_invisible_to_hooks():
    loaded = load_model("simplecnn_shapes")
    x = torch.randn(1, 3, 32, 32)
    t = tracing.trace(loaded, x)
    assert [op.func for op in t.compute_ops] == ["conv2d", "relu", "max_pool2d", "conv2d", "relu", "max_pool2d",
                                               "flatten", "dropout", "linear"]
    assert sorted(op.func for op in t.missed_by_hooks) == ["flatten", "relu", "relu"]
    assert len(t.compute_ops) - len(t.missed_by_hooks) == _hooked_outputs(loaded.model, x)
    assert t.compute_ops[0].shape == (1, 16, 32, 32) and t.compute_ops[0].thumbnail.shape == (72, 72, 3)
    assert not any(m._forward_hooks for m in loaded.model.modules())


def test_resnet_residual_additions_are_traced_and_drawn():
    loaded = load_model("resnet18")
    t = tracing.trace(loaded, torch.randn(1, 3, 64, 64))
    adds = [op for op in t.compute_ops if op.func == "__iadd__"]
    assert len(adds) == 8 and not any(op.hook_visible for op in adds)  # one per basic block
    assert all(len(op.parents) == 2 for op in adds)  # the block's output and its shortcut
    dot = tracing.graph_dot(t)
    assert dot.startswith("digraph") and f'"{adds[0].parents[1]}" -> "{adds[0].label}"' in dot
    assert dot.count("->") == sum(len(op.parents) for op in t.ops)
