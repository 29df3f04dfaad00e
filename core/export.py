"""Real-weights work for the Model Explorer: CPU latency, ONNX and TorchScript export.

The weights are freshly initialised (or the shipped ones): latency and file structure do not
depend on their values, and nothing is downloaded.
"""
from __future__ import annotations

import contextlib
import io
import statistics
import time
import warnings

import numpy as np
import torch
from torch import nn

from core.errors import CNNLabError

MAX_EXPORT_PARAMS = 30_000_000  # ~120 MB of float32: a sensible download from a web page


def latency_ms(model: nn.Module, size: int, runs: int = 7, warmup: int = 2) -> float:
    """Median wall time of a batch-1 forward pass on this CPU, in milliseconds."""
    model.eval()
    x = torch.randn(1, 3, size, size)
    times = []
    with torch.inference_mode():
        for i in range(warmup + runs):
            start = time.perf_counter()
            model(x)
            if i >= warmup:
                times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def compare_latency_ms(models: list[tuple[nn.Module, int]], rounds: int = 7) -> list[float]:
    """Median batch-1 latency (ms) of several (model, input size) pairs, timed in interleaved rounds.

    Interleaving spreads background load and CPU frequency changes evenly over the models, and the
    warm-up pass absorbs one-off costs (allocator, kernel selection) that would otherwise land on
    whichever model ran first.
    """
    inputs = [torch.randn(1, 3, size, size) for _, size in models]
    times: list[list[float]] = [[] for _ in models]
    with torch.inference_mode():
        for (model, _), x in zip(models, inputs):
            model.eval()(x)
        for _ in range(rounds):
            for i, ((model, _), x) in enumerate(zip(models, inputs)):
                start = time.perf_counter()
                model(x)
                times[i].append(time.perf_counter() - start)
    return [statistics.median(t) * 1000 for t in times]


def check_exportable(n: int) -> None:
    """Refuse a model of n parameters that is too big to offer as a download (callers with a meta
    profile check before building the real weights)."""
    if n > MAX_EXPORT_PARAMS:
        raise CNNLabError(f"This model has {n / 1e6:.0f} M parameters ({n * 4 / 2**20:.0f} MB as float32); "
                          f"exports here are limited to {MAX_EXPORT_PARAMS / 1e6:.0f} M. Export it locally "
                          "with the same torch.onnx.export call.")


def to_onnx(model: nn.Module, size: int, channels: int = 3) -> bytes:
    """The model as an ONNX file (opset chosen by torch's exporter), input 'image', output 'logits'."""
    check_exportable(sum(p.numel() for p in model.parameters()))
    buf = io.BytesIO()
    # The exporter reports progress on stdout and warns about version details: not for the page.
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), (torch.randn(1, channels, size, size),), buf, input_names=["image"],
                          output_names=["logits"], dynamo=True)
    return buf.getvalue()


def onnx_max_diff(data: bytes, model: nn.Module, size: int, seed: int = 0, channels: int = 3) -> float:
    """Largest |ONNX Runtime - PyTorch| output difference on one random input."""
    import onnxruntime as ort

    x = torch.randn(1, channels, size, size, generator=torch.Generator().manual_seed(seed))
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    ours = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    with torch.inference_mode():
        ref = model.eval()(x).numpy()
    return float(np.abs(ours - ref).max())


def to_torchscript(model: nn.Module, size: int, channels: int = 3) -> bytes:
    """The model traced to TorchScript and saved (torch.jit.load reads it back)."""
    check_exportable(sum(p.numel() for p in model.parameters()))
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.trace(model.eval(), torch.randn(1, channels, size, size)), buf)
    return buf.getvalue()
