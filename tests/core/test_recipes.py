"""The code behind each view: the exported loop equals the Trainer, and every exported script,
run in a fresh interpreter without this project, prints the app's numbers for the same settings."""
import pytest
import torch

from bench import ecosystem
from core import recipes
from core.data import make_shapes
from core.nets import build_net
from core.training import TrainConfig, Trainer, split_dataset


@pytest.mark.parametrize("cfg", [
    TrainConfig(arch="simplecnn", lr=5e-3, batch_size=32, schedule="onecycle", epochs=2, seed=1),
    TrainConfig(arch="vgg", width=8, depth=1, optimizer="adamw", lr=3e-3, weight_decay=1e-2, batch_size=48,
                schedule="plateau", epochs=2, crop_padding=4, flip=True, jitter=0.3, patience=1, seed=2),
])
def test_train_plain_reaches_the_trainers_weights(cfg):
    ds = make_shapes(150, seed=9)
    train, val, mean, std, _ = split_dataset(ds, size=32, val_fraction=0.2, limit=None, seed=0)
    app = build_net(cfg.arch, 5, 3, width=cfg.width, depth=cfg.depth, seed=cfg.seed)
    trainer = Trainer(cfg, app, train, val, ds.class_names, mean, std)
    trainer.run()
    plain = build_net(cfg.arch, 5, 3, width=cfg.width, depth=cfg.depth, seed=cfg.seed)
    history = recipes.train_plain(plain, train, val, mean, std, cfg, classes=5)
    assert history["val_acc"] == pytest.approx([s.val_acc for s in trainer.snapshots[1:]], abs=1e-6)
    for a, b in zip(app.state_dict().values(), plain.state_dict().values()):
        assert torch.equal(a, b)


def test_train_plain_stops_on_divergence_like_the_trainer():
    ds = make_shapes(100, seed=9)
    train, val, mean, std, _ = split_dataset(ds, size=32, val_fraction=0.2, limit=None, seed=0)
    cfg = TrainConfig(optimizer="sgd", lr=10.0, schedule="none", epochs=3)
    assert recipes.train_plain(build_net("simplecnn", 5, 3, seed=0), train, val, mean, std, cfg, 5)["status"] == \
        "diverged"


@pytest.mark.slow
@pytest.mark.parametrize("case", ecosystem.CASES, ids=[c.__name__ for c in ecosystem.CASES])
def test_exported_script_reproduces_the_view(case, tmp_path):
    result = case(tmp_path)
    assert result["ok"], result


@pytest.mark.slow
def test_torchcam_method_script_reproduces_the_page(tmp_path):
    result = ecosystem.case_interpretability(tmp_path, "CAM (torchcam)")
    assert result["ok"], result


@pytest.mark.slow
def test_an_exported_notebook_runs_in_jupyter(tmp_path):
    """The playground's notebook, executed cell by cell by nbclient in a real kernel."""
    import nbclient
    import nbformat

    from core import conv
    from core.images import sample_photo
    from core.viz import png_bytes

    photo = sample_photo("Astronaut")
    settings = conv.ConvSettings()
    kernel = conv.KERNEL_PRESETS["Laplacian"]
    (tmp_path / "photo.png").write_bytes(png_bytes(photo))
    script = recipes.conv_script(recipes.ConvView(tuple(map(tuple, kernel.tolist())), settings, 3, 4, 2))
    nb = nbformat.reads(script.notebook(), as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
                            ).execute()
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    out = conv.convolve(conv.working_image(photo), kernel, settings)
    assert f"output_shape={out.shape}" in printed and f"pixel={float(out[2, 3, 4]):.6f}" in printed


def test_scripts_for_every_dataset_and_upload_read_a_path_not_bytes():
    cfg = TrainConfig()
    for name in ("Synthetic shapes", "Digits (scikit-learn)", "CIFAR-10", recipes.UPLOAD):
        text = recipes.training_script(recipes.DataSpec(name, 100, 32, 0.2, 0, "my photos.zip"), cfg).python()
        compile(text, "exported.py", "exec")
        assert "from core" not in text and "import core" not in text
        if name == recipes.UPLOAD:
            assert "ZIP_PATH = 'my photos.zip'" in text and "def read_imagefolder_zip(" in text
        else:
            assert f"named_dataset({name!r}, 100)" in text


def test_shipped_models_are_built_from_the_live_class():
    from core.models import REGISTRY

    for key in ("shapesnet", "simplecnn_shapes"):
        expr, closure = recipes.build_expression(key)
        namespace: dict = {}
        exec("from __future__ import annotations\n" + "\n".join(closure.imports) + "\n" + closure.code, namespace)
        model = eval(expr, namespace)
        expected = REGISTRY[key].build()
        assert type(model).__name__ == type(expected).__name__
        assert [p.shape for p in model.parameters()] == [p.shape for p in expected.parameters()]


PIP_NAMES = {"cv2": "opencv-python-headless", "pytorch_grad_cam": "grad-cam", "sklearn": "scikit-learn",
             "PIL": "pillow", "torch.utils.tensorboard": "tensorboard"}


def _needs_every_import(script) -> None:
    """The script's "Needs: pip install ..." names a package for every third-party module it imports."""
    import re
    import sys

    text = script.python()
    needs = set(re.search(r"Needs: `pip install ([^`]+)`", text).group(1).split())
    needs = {n.split("==")[0] for n in needs}
    imported = set(re.findall(r"^\s*(?:from|import) ([\w.]+)", text, re.M))
    for module in imported:
        top = module.split(".")[0]
        if top in sys.stdlib_module_names or top == "__future__":
            continue
        package = PIP_NAMES.get(module) or PIP_NAMES.get(top, top.replace("_", "-"))
        assert package in needs, f"{script.name} imports {module} but its Needs line lacks {package}"
    if "torch.onnx.export(" in text:
        assert {"onnx", "onnxscript"} <= needs  # the dynamo exporter's own needs


@pytest.mark.parametrize("export", [True, False])
def test_the_pipeline_script_says_what_to_install(export):
    data = recipes.DataSpec("Synthetic shapes", 160, 32, 0.25, 3)
    _needs_every_import(recipes.pipeline_script(data, TrainConfig(epochs=1), "features.0", 2, export))


def test_the_convolution_script_copies_no_server_tuning():
    from core import conv

    view = recipes.ConvView(tuple(map(tuple, conv.kernel_of_size("Sobel x", 3).tolist())),
                            conv.ConvSettings(3, 2, "same", 0, "zeros", 1, "summed (Conv2d 3->1)"), 1, 2, 0)
    script = recipes.conv_script(view)
    _needs_every_import(script)
    assert "one_thread" not in script.python() and "threadpoolctl" not in script.python()
