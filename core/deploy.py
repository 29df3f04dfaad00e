"""Deployment reality: one trained model served three ways on this CPU (PyTorch eager, TorchScript,
ONNX Runtime), compared on latency, file size and agreement with the original."""
from __future__ import annotations

import io
import statistics
import time
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from core.export import to_onnx, to_torchscript

RUNTIMES = ("PyTorch eager", "TorchScript", "ONNX Runtime")


@dataclass
class Served:
    name: str
    run: Callable[[np.ndarray], np.ndarray]  # (1, 3, S, S) float32 -> logits
    file_bytes: int


def serve_all(model: nn.Module, size: int) -> list[Served]:
    """The model as each runtime would serve it, built from the exported files (not the live module)."""
    import onnxruntime as ort

    model = model.eval()
    state = io.BytesIO()
    torch.save(model.state_dict(), state)

    def eager(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(x)).numpy()

    script_bytes = to_torchscript(model, size)
    with warnings.catch_warnings():  # torch.jit.load's deprecation notice: TorchScript is the point here
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.load(io.BytesIO(script_bytes)).eval()

    def script(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return scripted(torch.from_numpy(x)).numpy()

    onnx_bytes = to_onnx(model, size)
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()  # the same cores as PyTorch uses
    session = ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def onnx(x: np.ndarray) -> np.ndarray:
        return session.run(None, {name: x})[0]

    return [Served(RUNTIMES[0], eager, len(state.getvalue())), Served(RUNTIMES[1], script, len(script_bytes)),
            Served(RUNTIMES[2], onnx, len(onnx_bytes))]


def compare(served: list[Served], size: int, rounds: int = 30, seed: int = 0) -> list[dict]:
    """Median batch-1 latency of each runtime, timed in interleaved rounds after a warm-up (so
    background load falls on all alike), the file size, and the largest output difference from eager."""
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(seed)).numpy()
    reference = served[0].run(x)
    outputs = [s.run(x) for s in served]  # also the warm-up
    times: list[list[float]] = [[] for _ in served]
    for _ in range(rounds):
        for i, s in enumerate(served):
            start = time.perf_counter()
            s.run(x)
            times[i].append(time.perf_counter() - start)
    base = statistics.median(times[0])
    return [{"runtime": s.name, "latency ms": statistics.median(t) * 1000,
             "speed vs eager": base / statistics.median(t), "file MB": s.file_bytes / 2**20,
             "max |diff| vs eager": float(np.abs(out - reference).max())}
            for s, t, out in zip(served, times, outputs)]
