"""codegen: project code copied out with everything it needs, runnable without the project."""
import json
import subprocess
import sys

from core import codegen
from core.conv import convolve
from core.data import make_shapes
from core.models import ShapesNet
from core.transfer import backbone_from_model


def _run_standalone(c: codegen.Closure, body: str, tmp_path) -> str:
    script = tmp_path / "standalone.py"
    script.write_text("from __future__ import annotations\n" + "\n".join(c.imports) + "\n\n" + c.code + "\n\n" + body)
    # -I: no PYTHONPATH, no current folder on sys.path: `core` cannot be imported from there
    return subprocess.run([sys.executable, "-I", str(script)], cwd=tmp_path, capture_output=True, text=True,
                          check=True, timeout=120).stdout


def test_closure_of_a_class_brings_its_helpers_and_runs_without_the_project(tmp_path):
    c = codegen.closure(ShapesNet, make_shapes)
    assert "def _block(" in c.code and "SHAPE_CLASSES = " in c.code and "def draw_shape(" in c.code
    assert not any("core" in line for line in c.imports)
    out = _run_standalone(c, "import torch\nprint(sum(p.numel() for p in ShapesNet().parameters()))\n"
                             "print(make_shapes(4, seed=1).labels.tolist())", tmp_path)
    params, labels = out.split("\n")[:2]
    assert int(params) == sum(p.numel() for p in ShapesNet().parameters())
    assert json.loads(labels) == make_shapes(4, seed=1).labels.tolist()


def test_imports_inside_functions_are_resolved_and_removed(tmp_path):
    """backbone_from_model imports the model classes inside its body; they join the closure instead."""
    c = codegen.closure(backbone_from_model)
    assert "from core" not in c.code
    assert "class SimpleCNN(" in c.code and "class SmallResNet(" in c.code and "class GreyToRGB(" in c.code
    out = _run_standalone(c, "b = backbone_from_model('s', 's', ShapesNet(), input_size=64, in_channels=3, "
                             "mean=(0.5,) * 3, std=(0.5,) * 3, trained=True, source='')\nprint(','.join(b.stages))",
                          tmp_path)
    assert out.strip() == "block1,block2,block3,block4"


def test_script_becomes_python_and_a_valid_notebook():
    import nbformat

    script = codegen.Script("A view", name="view").md("## Part one\nSome words.").code("x = 1\nprint(x)")
    text = script.python()
    assert text.startswith('"""A view') and "# ## Part one" in text and "x = 1" in text
    nb = nbformat.reads(script.notebook(), as_version=4)
    nbformat.validate(nb)
    assert [c.cell_type for c in nb.cells] == ["markdown", "markdown", "code"]
    assert nb.cells[2].source == "x = 1\nprint(x)"


def test_closure_follows_the_live_source():
    """The conv closure is read from core.conv as it is now: its default padding appears verbatim."""
    c = codegen.closure(convolve)
    assert "def convolve(" in c.code and "F.conv2d(" in c.code and "import torch.nn.functional as F" in c.imports


def test_a_closure_is_walked_once_and_handed_out_as_a_fresh_copy():
    first, second = codegen.closure(convolve), codegen.closure(convolve)
    assert first is not second and first.blocks == second.blocks and first.imports == second.imports
    first.blocks.append("x = 1")
    assert "x = 1" not in codegen.closure(convolve).blocks
