"""Each page imports only what it uses: opening Home loads none of the heavy libraries, and a page's
module-level imports (followed through core) reach only the heavy libraries its default view needs.
The rest are imported inside the functions that use them."""
import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.navigation import PAGES
from tests.conftest import ROOT

HEAVY = ("captum", "pytorch_grad_cam", "nibabel", "onnx", "onnxruntime", "torchao", "tensorboard", "torchcam",
         "torchlens", "wandb", "ray", "torchvision")
# What each page's default view uses, so may import when the page opens.
PAGE_HEAVY = {"pages/interpretability.py": {"captum", "pytorch_grad_cam"}, "pages/mri_viewer.py": {"nibabel"}}


def _module_imports(path: Path) -> set[str]:
    """Absolute module names imported at module level (not inside functions, not TYPE_CHECKING)."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            if node.module == "core":
                names |= {f"core.{a.name}" for a in node.names}
    return names


def reached(path: Path) -> set[str]:
    """Top-level packages a file's module-level imports reach, following core modules transitively."""
    seen, todo, packages = set(), [path], set()
    while todo:
        for name in _module_imports(todo.pop()):
            if name.startswith("core.") or name == "core":
                file = ROOT / (name.replace(".", "/") + ".py")
                if file.exists() and file not in seen:
                    seen.add(file)
                    todo.append(file)
            else:
                packages.add(name.split(".")[0])
    return packages


@pytest.mark.parametrize("script", [p.script for p in PAGES if p.script])
def test_a_page_imports_only_the_heavy_libraries_it_uses(script):
    extra = (reached(ROOT / script) & set(HEAVY)) - PAGE_HEAVY.get(script, set())
    assert not extra, f"{script} imports {sorted(extra)} when it opens; import them where they are used"


def test_home_module_level_needs_only_streamlit():
    assert reached(ROOT / "Home.py") <= {"__future__", "sys", "streamlit", "dataclasses", "pathlib", "ctypes", "threading",
                                         "time"}


RUN_HOME = """
import json, sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=300).run()
print(json.dumps({"exceptions": [e.value for e in at.exception], "modules": sorted(sys.modules)}))
"""


@pytest.mark.slow
def test_running_home_in_a_fresh_interpreter_loads_no_heavy_library(tmp_path):
    env = {**os.environ, "CNNLAB_OFFLINE": "1", "TORCH_HOME": str(tmp_path)}  # no ImageNet weights here
    out = subprocess.run([sys.executable, "-c", RUN_HOME, str(ROOT / "Home.py")], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert not result["exceptions"]
    assert "torch" in result["modules"], "Home ran its vision viewer"
    loaded = {m.split(".")[0] for m in result["modules"]} & {*HEAVY, "pandas"}  # pandas: half a second, and
    assert not loaded, f"opening Home imported {sorted(loaded)}"  # what a string cache TTL ("2h") imports
