"""Energy-efficient inference: magnitude pruning (torch.nn.utils.prune) and int8 quantization
(torchao's PT2E flow with the x86 quantizer), each measured on a held-out set.

Quantization note: torchao's ``quantize_`` configs cover linear layers only (conv2d is not
implemented for its int8 tensors), and a conv net spends nearly all its time in convs. So the
whole graph is quantized statically instead: export, insert observers, calibrate on real images,
convert. The converted graph is a reference model (quantize, dequantize, float op); its int8
speed appears only once Inductor fuses those into int8 kernels, which is what ``compiled`` does.
"""
from __future__ import annotations

import copy
import statistics
import time
import warnings

import torch
from torch import nn
from torch.nn.utils import prune

from core.errors import CNNLabError


def prunable(model: nn.Module) -> list[tuple[nn.Module, str]]:
    """Every conv and linear weight: what pruning may zero."""
    return [(m, "weight") for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def pruned(model: nn.Module, sparsity: float) -> nn.Module:
    """A copy with the smallest-magnitude ``sparsity`` share of all conv and linear weights set to
    zero (one global L1 ranking across layers), made permanent."""
    if not 0.0 <= sparsity < 1.0:
        raise CNNLabError(f"Sparsity must be from 0% to below 100% (got {sparsity:.0%}).")
    out = copy.deepcopy(model)
    targets = prunable(out)
    if sparsity > 0:
        prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=sparsity)
        for module, name in targets:
            prune.remove(module, name)
    return out


def sparsity(model: nn.Module) -> float:
    """Share of zeros among the prunable weights."""
    weights = [getattr(m, n) for m, n in prunable(model)]
    return sum(int((w == 0).sum()) for w in weights) / sum(w.numel() for w in weights)


def nonzero_params(model: nn.Module) -> int:
    return sum(int((p != 0).sum()) for p in model.parameters())


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 250) -> float:
    """Top-1 accuracy. Never calls ``.eval()``: an exported (quantized) graph refuses train()/eval()."""
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            correct += int((model(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).sum())
    return correct / max(1, len(x))


def quantize_int8(model: nn.Module, calibration: torch.Tensor) -> nn.Module:
    """Static int8 quantization of every conv and linear layer (torchao PT2E, X86InductorQuantizer):
    activation ranges observed on ``calibration`` images, weights per channel."""
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    from torchao.quantization.pt2e.quantizer import x86_inductor_quantizer as xiq

    quantizer = xiq.X86InductorQuantizer().set_global(xiq.get_default_x86_inductor_quantization_config())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # export's notes on guards and deprecations: not for the page
        graph = torch.export.export(copy.deepcopy(model).eval(), (calibration[:2],),
                                    dynamic_shapes=({0: torch.export.Dim.AUTO},)).module()
        observed = prepare_pt2e(graph, quantizer)
        with torch.no_grad():
            for i in range(0, len(calibration), 64):
                observed(calibration[i:i + 64])
        return convert_pt2e(observed)


def weight_bytes(model: nn.Module) -> int:
    """Bytes of the weights and constants a model computes with (an int8 value counts 1 byte). For a
    converted graph, only the tensors its nodes read: conversion leaves the float originals behind
    as unused attributes."""
    if isinstance(model, torch.fx.GraphModule):
        tensors = {}
        for node in model.graph.nodes:
            if node.op == "get_attr":
                t = model
                for part in node.target.split("."):
                    t = getattr(t, part)
                tensors[id(t)] = t
    else:
        tensors = {id(t): t for t in list(model.parameters()) + list(model.buffers())}
    return sum(t.numel() * t.element_size() for t in tensors.values() if isinstance(t, torch.Tensor))


def compiled(model: nn.Module, example: torch.Tensor) -> tuple[nn.Module | None, str]:
    """A copy of the model compiled by Inductor for inputs shaped like ``example`` (int8 graphs become
    int8 kernels): (module, "") or (None, why not), e.g. no C++ compiler on this machine."""
    from torch._inductor import config

    try:
        with config.patch(freezing=True), warnings.catch_warnings():  # freezing folds weights into int8 kernels
            warnings.simplefilter("ignore")
            fast = torch.compile(copy.deepcopy(model), dynamic=False)
            with torch.no_grad():
                fast(example)
        return fast, ""
    except Exception as err:  # a missing compiler or an unsupported op: report it, fall back to eager
        return None, f"torch.compile failed here ({type(err).__name__}: {str(err).splitlines()[0][:160]})"


def latency_table(named: list[tuple[str, nn.Module]], x: torch.Tensor, batch: int) -> list[dict]:
    """Rows of (model, ms per batch, speed vs the first model) on the first ``batch`` images of x."""
    times = latency_ms([m for _, m in named], x[:batch])
    return [{"model": n, "ms per batch": t, "speed vs float32 eager": times[0] / t}
            for (n, _), t in zip(named, times)]


def latency_ms(models: list[nn.Module], x: torch.Tensor, rounds: int = 15) -> list[float]:
    """Median time of one forward pass on batch x for each model, in interleaved rounds after a warm-up."""
    times: list[list[float]] = [[] for _ in models]
    with torch.no_grad():
        for m in models:
            m(x)
        for _ in range(rounds):
            for i, m in enumerate(models):
                start = time.perf_counter()
                m(x)
                times[i].append(time.perf_counter() - start)
    return [statistics.median(t) * 1000 for t in times]
