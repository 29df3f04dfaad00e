"""The key block of each CNN family as a Graphviz diagram, with shapes from a real (meta) run."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from core.profile import ARCHS, build_meta


@dataclass(frozen=True)
class Node:
    id: str
    module: str | None  # path inside the block whose output shape labels the node; None = derived
    label: str | None = None  # fixed label for ops that are not modules (add, concat, input)
    inputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class BlockSpec:
    family: str
    arch: str
    path: str  # the block module inside the architecture
    title: str
    nodes: tuple[Node, ...]
    caption: str


def _chain(*pairs: tuple[str, str | None], start: str = "in") -> list[Node]:
    nodes, prev = [], start
    for node_id, module in pairs:
        nodes.append(Node(node_id, module, None, (prev,)))
        prev = node_id
    return nodes


BLOCKS: dict[str, BlockSpec] = {b.family: b for b in (
    BlockSpec("VGG", "vgg16", "features", "VGG: a stack of 3x3 convs, then a pool", (
        Node("in", None, "input"),
        *_chain(("c1", "0"), ("r1", "1"), ("c2", "2"), ("r2", "3"), ("p", "4"))),
        "Two 3x3 convs see a 5x5 patch with fewer weights than one 5x5 conv; the pool halves the map."),
    BlockSpec("ResNet", "resnet50", "layer1.0", "ResNet: bottleneck with a skip connection", (
        Node("in", None, "input"),
        *_chain(("c1", "conv1"), ("b1", "bn1"), ("r1", None), ("c2", "conv2"), ("b2", "bn2"), ("r2", None),
                ("c3", "conv3"), ("b3", "bn3")),
        Node("ds", "downsample", None, ("in",)),
        Node("add", None, "add (F(x) + x)", ("b3", "ds")),
        Node("out", None, "ReLU", ("add",))),
        "The block learns a residual F(x) that is added to its input, so gradients have a short path back. "
        "Here the skip needs a 1x1 conv because the channel count changes (64 -> 256)."),
    BlockSpec("Inception", "googlenet", "inception3a", "Inception: parallel branches, concatenated", (
        Node("in", None, "input"),
        Node("b1", "branch1", None, ("in",)),
        Node("b2a", "branch2.0", None, ("in",)), Node("b2b", "branch2.1", None, ("b2a",)),
        Node("b3a", "branch3.0", None, ("in",)), Node("b3b", "branch3.1", None, ("b3a",)),
        Node("b4a", "branch4.0", None, ("in",)), Node("b4b", "branch4.1", None, ("b4a",)),
        Node("cat", None, "concatenate channels", ("b1", "b2b", "b3b", "b4b"))),
        "Each branch looks at a different scale; 1x1 convs shrink the channels first to keep the cost down. "
        "(torchvision's GoogLeNet uses 3x3 where the paper drew 5x5 in the third branch.)"),
    BlockSpec("MobileNet", "mobilenet_v2", "features.3", "MobileNet-V2: inverted residual", (
        Node("in", None, "input"),
        *_chain(("e", "conv.0"), ("d", "conv.1"), ("p", "conv.2"), ("b", "conv.3")),
        Node("add", None, "add (skip)", ("b", "in"))),
        "Expand with a 1x1 conv, filter each channel alone with a 3x3 depthwise conv, project back with "
        "a 1x1 conv. The depthwise + pointwise pair is the depthwise-separable convolution."),
    BlockSpec("EfficientNet", "efficientnet_b0", "features.2.1", "EfficientNet: MBConv with squeeze-and-excitation", (
        Node("in", None, "input"),
        *_chain(("e", "block.0"), ("d", "block.1"), ("se", "block.2"), ("p", "block.3")),
        Node("add", None, "add (skip, stochastic depth)", ("p", "in"))),
        "MobileNet's inverted residual plus squeeze-and-excitation, which reweights channels using a "
        "summary of the whole map."),
    BlockSpec("ConvNeXt", "convnext_tiny", "features.1.0", "ConvNeXt: a CNN block with Transformer habits", (
        Node("in", None, "input"),
        *_chain(("d", "block.0"), ("perm", "block.1"), ("ln", "block.2"), ("up", "block.3"), ("g", "block.4"),
                ("down", "block.5"), ("back", "block.6")),
        Node("add", None, "add (layer scale, skip)", ("back", "in"))),
        "A 7x7 depthwise conv, LayerNorm instead of BatchNorm, a 4x wider MLP with GELU: ViT-style choices "
        "inside a pure convolutional network."),
)}


def _describe(module: nn.Module) -> str:
    if isinstance(module, nn.Conv2d):
        k = module.kernel_size[0]
        kind = "depthwise " if module.groups > 1 and module.groups == module.in_channels else ""
        stride = f", stride {module.stride[0]}" if module.stride[0] > 1 else ""
        return f"{kind}Conv {k}x{k}{stride}\\n{module.in_channels} -> {module.out_channels}"
    if isinstance(module, nn.Sequential) and module and isinstance(module[0], nn.Conv2d):
        inner = _describe(module[0])
        rest = " + ".join(type(m).__name__ for m in list(module)[1:])
        return f"{inner}\\n+ {rest}" if rest else inner
    if isinstance(getattr(module, "conv", None), nn.Conv2d):  # GoogLeNet's BasicConv2d: conv + BN + ReLU
        return f"{_describe(module.conv)}\\n+ BatchNorm + ReLU"
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        k = module.kernel_size if isinstance(module.kernel_size, int) else module.kernel_size[0]
        s = module.stride if isinstance(module.stride, int) else module.stride[0]
        return f"{type(module).__name__[:3]}Pool {k}x{k}, stride {s}"
    if isinstance(module, nn.Linear):
        return f"Linear\\n{module.in_features} -> {module.out_features}"
    return type(module).__name__


def block_dot(family: str) -> str:
    """Graphviz DOT source for a family's key block, every node labelled with its output shape."""
    spec = BLOCKS[family]
    model = build_meta(spec.arch)
    block = model.get_submodule(spec.path)
    shapes: dict[str, tuple[int, ...]] = {}

    def grab(name):
        def hook(_m, _i, out):
            shapes.setdefault(name, tuple(out.shape[1:]))
        return hook

    handles = [block.get_submodule(n.module).register_forward_hook(grab(n.module)) for n in spec.nodes if n.module]
    def grab_input(_m, args):  # a pre-hook must return None, or it replaces the block's input
        shapes.setdefault("<in>", tuple(args[0].shape[1:]))

    handles.append(block.register_forward_pre_hook(grab_input))
    size = ARCHS[spec.arch].input_size
    with torch.no_grad():
        model(torch.empty(1, 3, size, size, device="meta"))
    for h in handles:
        h.remove()

    node_shape: dict[str, tuple[int, ...]] = {}
    lines = ['digraph G {', 'rankdir=TB; node [shape=box, style="rounded,filled", fillcolor="#eef2ff", '
             'fontname="Helvetica", fontsize=11]; edge [fontname="Helvetica", fontsize=9];']
    for n in spec.nodes:
        if n.module:
            label, shape = _describe(block.get_submodule(n.module)), shapes[n.module]
        elif n.id == "in":
            label, shape = n.label, shapes["<in>"]
        elif n.label and n.label.startswith("concat"):
            parts = [node_shape[i] for i in n.inputs]
            label, shape = n.label, (sum(p[0] for p in parts), *parts[0][1:])
        else:  # ReLU re-used by the block, or an add: same shape as its first input
            label, shape = n.label or "ReLU", node_shape[n.inputs[0]]
        node_shape[n.id] = shape
        fill = ', fillcolor="#fef3c7"' if n.module is None and n.id != "in" else ""
        lines.append(f'"{n.id}" [label="{label}\\n{" x ".join(map(str, shape))}"{fill}];')
        for src in n.inputs:
            lines.append(f'"{src}" -> "{n.id}";')
    lines.append("}")
    return "\n".join(lines)
