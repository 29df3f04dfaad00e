"""PyTorch's OpenMP spin is shortened before torch loads (core/cpu.py), and a host's own value wins."""
import ast
import os
import subprocess
import sys

import pytest

from core.navigation import PAGES
from tests.conftest import ROOT

CHECK = """
import os, sys
sys.path.insert(0, {root!r})
from core import cpu
first = cpu.calm_openmp()
import torch
print(first, os.environ.get("GOMP_SPINCOUNT"), cpu.calm_openmp())
"""


def _run(env_extra: dict[str, str]) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "GOMP_SPINCOUNT"} | env_extra
    out = subprocess.run([sys.executable, "-c", CHECK.format(root=str(ROOT))], env=env, capture_output=True,
                         text=True, timeout=300, check=True)
    return out.stdout.split()


def test_the_spin_is_set_before_torch_loads_and_reported_too_late_after():
    assert _run({}) == ["10000", "10000", "None"]


def test_a_value_from_the_environment_is_kept():
    assert _run({"GOMP_SPINCOUNT": "0"}) == ["0", "0", "None"]


def test_importing_any_core_module_sets_it_before_torch_loads():
    env = {k: v for k, v in os.environ.items() if k != "GOMP_SPINCOUNT"}
    probe = "import os, core.cache, torch; print(os.environ['GOMP_SPINCOUNT'])"  # core.cache imports torch
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300, check=True)
    assert out.stdout.split() == ["10000"]


def _top_level_modules(path):
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module


@pytest.mark.parametrize("script", ["Home.py", *(p.script for p in PAGES if p.script)])
def test_a_page_opened_by_a_deep_link_imports_core_before_torch(script):
    """On a fresh server a deep link runs the page before Home.py, so core (and its spin setting) must be
    imported before anything that loads torch."""
    modules = [m.split(".")[0] for m in _top_level_modules(ROOT / script)]
    torch_at = min((i for i, m in enumerate(modules) if m in ("torch", "torchvision")), default=len(modules))
    assert "core" in modules[:torch_at] or torch_at == len(modules), f"{script} imports torch before core"


def test_one_thread_limits_only_the_calling_thread_and_restores_it():
    import threading

    import torch

    from core.cpu import one_thread

    torch.set_num_threads(2)
    seen = {}

    def other():
        seen["other"] = torch.get_num_threads()

    with one_thread():
        seen["inside"] = torch.get_num_threads()
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        y = torch.nn.functional.conv2d(torch.ones(1, 1, 8, 8), torch.ones(1, 1, 3, 3))
    assert seen == {"inside": 1, "other": 2}
    assert torch.get_num_threads() == 2
    assert float(y[0, 0, 0, 0]) == 9.0
