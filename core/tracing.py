"""Layer-by-layer tracing with TorchLens: every operation of a forward pass, functional ones included.

Module forward hooks (what the feature-map viewers use) only see the outputs of ``nn.Module``
calls. A ``F.relu`` inside ``forward``, a ``.flatten(1)`` or a residual ``out += identity`` is
invisible to them. TorchLens records every tensor operation, so the two can be told apart:
``Op.hook_visible`` says whether a hook on some module would have caught that output.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
import torch

from core.models import LoadedModel
from core.viz import colorize, upscale

# TorchLens instruments torch's functions while it traces; one trace at a time per process.
_TRACE_LOCK = threading.Lock()
THUMB_PX = 72


@dataclass(frozen=True)
class Op:
    label: str  # TorchLens's name, e.g. relu_1_3
    func: str  # the torch function, e.g. relu, conv2d, __iadd__
    shape: tuple[int, ...]  # output shape, batch included
    module: str  # the module whose forward ran it ('' at the top level)
    hook_visible: bool  # the output of some module call, so a forward hook sees it
    parents: tuple[str, ...]
    thumbnail: np.ndarray | None  # channel-mean of a 2D output, colour-mapped; None otherwise


@dataclass(frozen=True)
class Trace:
    model: str
    ops: tuple[Op, ...]  # in execution order, input and output included
    seconds: float

    @property
    def compute_ops(self) -> list[Op]:
        return [op for op in self.ops if op.func != "none"]

    @property
    def missed_by_hooks(self) -> list[Op]:
        return [op for op in self.compute_ops if not op.hook_visible]


def trace(loaded: LoadedModel, x: torch.Tensor) -> Trace:
    """Trace one forward pass of the shared model (under its lock: TorchLens runs it with its own hooks)."""
    import torchlens as tl

    start = time.perf_counter()
    with _TRACE_LOCK, loaded.lock, torch.no_grad():
        log = tl.trace(loaded.model, x)
        ops = []
        for op in log:
            if op.is_buffer:
                continue
            out = op.out if isinstance(op.out, torch.Tensor) else None
            thumb = None
            if out is not None and out.dim() == 4 and min(out.shape[2:]) > 1:
                thumb = upscale(colorize(out[0].float().mean(0).numpy()), THUMB_PX)
            module = (op.module or "").split(":")[0] if isinstance(op.module, str) else ""
            ops.append(Op(op.layer_label, op.func_name, tuple(out.shape) if out is not None else (), module,
                          bool(op.is_module_output) or op.func_name == "none",
                          tuple(p for p in op.parents if not p.startswith("buffer")), thumb))
    return Trace(type(loaded.model).__name__, tuple(ops), time.perf_counter() - start)


def graph_dot(t: Trace) -> str:
    """The traced graph as Graphviz DOT for st.graphviz_chart (which lays it out in the browser).
    TorchLens's own ``draw`` shells out to the Graphviz ``dot`` program, not a Python package, so
    the nodes and edges it recorded are written out here instead."""
    lines = ["digraph trace {", '  rankdir=TB; node [shape=box, style="rounded,filled", fontname=Helvetica, '
             'fontsize=10]; edge [color="#64748b"];']
    for op in t.ops:
        shape = "x".join(map(str, op.shape[1:])) or "-"
        colour = "#bbf7d0" if op.func == "none" else "#e2e8f0" if op.hook_visible else "#fed7aa"
        where = f"\\n@{op.module}" if op.module else ""
        lines.append(f'  "{op.label}" [label="{op.label}\\n{shape}{where}", fillcolor="{colour}"];')
    known = {op.label for op in t.ops}
    for op in t.ops:
        lines += [f'  "{p}" -> "{op.label}";' for p in op.parents if p in known]
    lines.append("}")
    return "\n".join(lines)
