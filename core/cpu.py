"""How the server's PyTorch shares a few cores with everything else on them (other sessions, Streamlit's
event loop, and often the learner's own browser).

PyTorch's OpenMP runtime on Linux (GNU libgomp) keeps its worker threads spinning for up to 300,000 turns
after every parallel region, waiting for the next. A live view runs many small tensor ops with Python in
between, so the worker spins through nearly all of it: measured on 2 cores, one move of the Specialized
page's Layers slider cost the server 143 ms of CPU (about 30 ms without any spinning), and the spinning
took the core the browser needed. A spin of 10,000 turns cuts that to about 50 ms and leaves
ResNet-18 and ResNet-50 forward passes as fast as before in a quiet process; no spinning at all
(OMP_WAIT_POLICY=passive) makes a MobileNet pass twice as slow there. README ("Benchmarks") has the
figures.

libgomp reads its settings once, when PyTorch first loads it, so this must run before ``import torch``:
``core/__init__.py`` calls it. A value the host set in the environment wins.
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from functools import lru_cache

SPIN_COUNT = "10000"


def calm_openmp() -> str | None:
    """Shorten libgomp's spin unless the environment already sets it. Returns the spin count PyTorch
    will use, or None when torch is already loaded (too late to change it)."""
    if "torch" in sys.modules:
        return None
    return os.environ.setdefault("GOMP_SPINCOUNT", SPIN_COUNT)


@lru_cache(maxsize=1)
def _thread_pools():
    """threadpoolctl's view of the loaded thread pools; made on first use, once torch is loaded."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextmanager
def one_thread():
    """Run the block's PyTorch ops on the calling thread alone. For a live view's small tensors (a
    convolution of one photo, a few-layer 1D net): split over two cores they finish only when the other
    core is free, and on a server that is often busy with the browser or another session; alone they
    take a few milliseconds and leave that core be. Other threads keep their own setting (an OpenMP
    team size belongs to the thread that starts the work)."""
    import torch

    torch.get_num_threads()  # torch sets this thread's team size on its first call here, so it goes first
    with _thread_pools().limit(limits=1, user_api="openmp"):
        yield
