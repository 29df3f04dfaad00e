"""The code behind each view: standalone scripts (and notebooks) that reproduce what a page shows.

Each builder takes the view's settings as plain data and returns a ``codegen.Script``. The
project code a script needs (the shape generator, ShapesNet, the data split, the convolution) is
copied in from the live modules by ``codegen.closure``, so the script follows every change to
them and runs without this project installed. The one loop written here for the scripts,
``train_plain``, is the Training Monitor's ``Trainer`` without its monitoring: the same seeded
batch order, augmentation, optimizer and schedule steps, so it reaches the same weights
(tests/core/test_recipes.py holds the two equal).

Every script prints ``name=value`` lines (accuracy, a feature-map checksum, a CAM's peak) that the
tests compare with the app's own numbers for the same settings.
"""
from __future__ import annotations

import inspect
import math
from dataclasses import asdict, dataclass
from typing import Callable

import torch
from torch import nn

from core import codegen
from core.augment import apply
from core.errors import CNNLabError
from core.training import Split, TrainConfig, make_optimizer, make_scheduler

PIP = ("pip install torch==2.14.1 torchvision==0.29.1 grad-cam==1.5.7 opencv-python-headless numpy "
       "scikit-learn safetensors pillow")


# ---------------------------------------------------------------- the plain loop the scripts run
def train_plain(model: nn.Module, train: Split, val: Split, mean: torch.Tensor, std: torch.Tensor, cfg: TrainConfig,
                classes: int, params=None, on_epoch: Callable[[int, dict], None] | None = None) -> dict:
    """Mini-batch training as the Training Monitor runs it: seeded batch order and augmentation,
    cfg's optimizer and LR schedule, a validation pass after every epoch, early stopping and the
    divergence check. Returns the per-epoch history and how the run ended."""
    cfg.validate()
    shape = (1, -1) + (1,) * (train.x.dim() - 2)
    mean, std = mean.view(shape), std.view(shape)
    batch_size = min(cfg.batch_size, len(train))
    batches = -(-len(train) // batch_size)
    gen = torch.Generator().manual_seed(cfg.seed)
    opt = make_optimizer([p for p in model.parameters() if p.requires_grad] if params is None else params, cfg)
    sched = make_scheduler(opt, cfg, batches)
    loss_fn = nn.CrossEntropyLoss()
    explode_at = 100 * math.log(max(2, classes))  # the Trainer's divergence threshold
    aug = cfg.augment()
    history = {"train_loss": [], "val_loss": [], "val_acc": [], "status": "finished"}
    best, best_epoch = math.inf, 0
    model.train()
    for epoch in range(1, cfg.epochs + 1):
        order = torch.randperm(len(train), generator=gen)
        total = 0.0
        for b in range(batches):
            idx = order[b * batch_size:(b + 1) * batch_size]
            xb = train.x[idx]
            if aug.active and xb.dim() == 4:
                xb = apply(xb, aug, gen)
            loss = loss_fn(model((xb - mean) / std), train.y[idx])
            value = float(loss.detach())
            if not math.isfinite(value) or value > explode_at:
                history["status"] = "diverged"
                return history
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if cfg.schedule == "onecycle":
                sched.step()
            total += value * len(idx)
        model.eval()
        val_loss, correct = 0.0, 0
        with torch.no_grad():
            for i in range(0, len(val), 256):
                logits = model((val.x[i:i + 256] - mean) / std)
                val_loss += float(loss_fn(logits, val.y[i:i + 256])) * len(logits)
                correct += int((logits.softmax(1).argmax(1) == val.y[i:i + 256]).sum())
        model.train()
        history["train_loss"].append(total / len(train))
        history["val_loss"].append(val_loss / len(val))
        history["val_acc"].append(correct / len(val))
        if on_epoch is not None:
            on_epoch(epoch, {k: history[k][-1] for k in ("train_loss", "val_loss", "val_acc")})
        if cfg.schedule == "plateau":
            sched.step(history["val_loss"][-1])
        elif sched is not None and cfg.schedule != "onecycle":
            sched.step()
        if history["val_loss"][-1] < best - 1e-4:
            best, best_epoch = history["val_loss"][-1], epoch
        elif cfg.patience and epoch - best_epoch >= cfg.patience:
            history["status"] = "early-stopped"
            break
    model.eval()
    return history


# ---------------------------------------------------------------- data, model and training
UPLOAD = "zip"  # DataSpec.name of an uploaded ImageFolder zip


@dataclass(frozen=True)
class DataSpec:
    """A training run's images as the Training Monitor's data panel sets them."""

    name: str  # a built-in dataset's menu name (core.data.named_dataset), or UPLOAD
    limit: int
    size: int
    val_fraction: float
    seed: int
    zip_name: str = ""  # an upload's file name; the script reads a path the learner sets, never the bytes


def _header(script: codegen.Script, closure: codegen.Closure, *imports: str, extra_pip: str = "") -> None:
    """The script's imports, what to pip install for them (``extra_pip``: packages beyond PIP), and the
    project code it copies in."""
    lines = ["from __future__ import annotations", "", *closure.imports,
             *[i for i in ("import os", "import torch", *imports) if i not in closure.imports]]
    script.md(f"Needs: `{PIP}{' ' + extra_pip if extra_pip else ''}` (no CNN Lab install).")
    script.code("\n".join(lines))
    script.md("Project code this script runs, copied from CNN Lab's `core/` modules as the app runs them today.")
    script.code(closure.code)


def _data_cells(script: codegen.Script, data: DataSpec) -> None:
    script.md("## Data")
    if data.name == UPLOAD:
        load = (f"ZIP_PATH = {data.zip_name or 'images.zip'!r}  # set this: your ImageFolder zip, one folder per class\n"
                "with open(ZIP_PATH, 'rb') as f:\n"
                "    dataset, notes = read_imagefolder_zip(f.read(), ZIP_PATH)\n")
    else:
        load = (f"# torchvision datasets are read from $CNNLAB_DATA_DIR (default ~/.cache/cnnlab/data), downloaded\n"
                f"# there when missing; shapes and digits need no files.\n"
                f"dataset = named_dataset({data.name!r}, {data.limit})\n")
    script.code(load + f"train, val, mean, std, notes = split_dataset(dataset, size={data.size}, "
                f"val_fraction={data.val_fraction!r}, limit={data.limit}, seed={data.seed})\n"
                "classes = dataset.class_names\n"
                "print(f'{len(train)} training and {len(val)} validation images of {len(classes)} classes')")


def _train_cells(script: codegen.Script, cfg: TrainConfig, on_epoch: str = "None") -> None:
    script.md("## Model and training\nThe same seed gives the same initial weights, batch order and augmentation "
              "as the app's run.")
    script.code(f"cfg = {cfg!r}\n"
                "model = build_net(cfg.arch, len(classes), train.x.shape[1], width=cfg.width, depth=cfg.depth,\n"
                "                  dropout=cfg.dropout, seed=cfg.seed)\n"
                f"history = train_plain(model, train, val, mean, std, cfg, classes=len(classes), on_epoch={on_epoch})\n"
                "for epoch, acc in enumerate(history['val_acc'], 1):\n"
                "    print(f'epoch {epoch}: validation accuracy {acc:.1%}')\n"
                "print(f\"status={history['status']}\")\n"
                "print(f\"final_val_acc={history['val_acc'][-1] if history['val_acc'] else float('nan'):.6f}\")")


def _data_and_training_closure(data: DataSpec) -> codegen.Closure:
    from core.data import named_dataset
    from core.imagefolder import read_imagefolder_zip
    from core.nets import build_net
    from core.training import split_dataset

    return codegen.closure(read_imagefolder_zip if data.name == UPLOAD else named_dataset, split_dataset, build_net,
                           TrainConfig, train_plain)


def training_script(data: DataSpec, cfg: TrainConfig) -> codegen.Script:
    """The Training Monitor's run: the same data split, network, seed and settings."""
    script = codegen.Script(f"Training Monitor: {cfg.arch} on {data.zip_name or data.name}", name="cnnlab_training")
    _header(script, _data_and_training_closure(data))
    _data_cells(script, data)
    _train_cells(script, cfg)
    return script


# ---------------------------------------------------------------- the pipeline lab
def pipeline_script(data: DataSpec, cfg: TrainConfig, cam_layer: str, cam_images: int, export: bool) -> codegen.Script:
    """Section 11's pipeline: data -> model -> training (logged to TensorBoard and offline wandb) ->
    Grad-CAM on held-out images with the seed's cv2.addWeighted overlay -> ONNX and TorchScript."""
    script = codegen.Script(f"Section 11 pipeline: {cfg.arch} on {data.zip_name or data.name}", name="cnnlab_pipeline")
    _header(script, _data_and_training_closure(data), "import cv2", "import numpy as np", "import wandb",
            "from pytorch_grad_cam import GradCAM", "from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget",
            "from torch.utils.tensorboard import SummaryWriter",
            extra_pip="tensorboard wandb" + (" onnx onnxscript onnxruntime" if export else ""))
    _data_cells(script, data)
    script.md("## Logging\nTensorBoard event files and an offline wandb run, side by side in one folder. "
              "Upload the wandb run later with `wandb sync <its folder>`.")
    script.code("RUN_DIR = 'cnnlab-pipeline-run'\n"
                "os.makedirs(RUN_DIR, exist_ok=True)\n"
                "writer = SummaryWriter(os.path.join(RUN_DIR, 'tensorboard'))\n"
                f"run = wandb.init(project='cnn-lab', name='pipeline', mode='offline', dir=RUN_DIR,\n"
                f"                 config={asdict(cfg)!r}, settings=wandb.Settings(console='off'))\n\n"
                "def log_epoch(epoch, metrics):\n"
                "    for key, value in metrics.items():\n"
                "        writer.add_scalar(key, value, epoch)\n"
                "    run.log(metrics, step=epoch)")
    _train_cells(script, cfg, on_epoch="log_epoch")
    script.md(f"## Grad-CAM on {cam_images} held-out images\nThe seed's kit: pytorch-grad-cam at `{cam_layer}`, "
              "then OpenCV's `addWeighted` to lay the heatmap over the image.")
    script.code(f"layer = model.get_submodule({cam_layer!r})\n"
                "shape = (1, -1, 1, 1)\n"
                "overlays = []\n"
                "with GradCAM(model=model, target_layers=[layer]) as cam:\n"
                f"    for i, image in enumerate(val.x[:{cam_images}]):\n"
                "        x = (image[None] - mean.view(shape)) / std.view(shape)\n"
                "        with torch.no_grad():\n"
                "            pred = int(model(x).softmax(1).argmax(1))\n"
                "        heat = cam(input_tensor=x, targets=[ClassifierOutputTarget(pred)])[0]\n"
                "        row, col = np.unravel_index(np.argmax(heat), heat.shape)\n"
                "        print(f'cam_peak_{i}={row},{col} ({classes[pred]}, true {classes[int(val.y[i])]})')\n"
                "        original = np.round(image.permute(1, 2, 0).numpy() * 255).astype(np.uint8)\n"
                "        original = np.ascontiguousarray(np.repeat(original, 3 // original.shape[2], axis=2))\n"
                "        heatmap = cv2.cvtColor(cv2.applyColorMap(np.uint8(255 * heat), cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)\n"
                "        overlay = cv2.addWeighted(original, 0.6, heatmap, 0.4, 0)\n"
                "        overlays.append(overlay)\n"
                "        cv2.imwrite(os.path.join(RUN_DIR, f'gradcam_{i}.png'), cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))\n"
                "        writer.add_image('gradcam', overlay, i, dataformats='HWC')\n"
                "run.log({'gradcam': [wandb.Image(o) for o in overlays]})\n"
                "writer.close()\n"
                "run.finish()\n"
                "print(f'TensorBoard: tensorboard --logdir {RUN_DIR}/tensorboard; wandb: wandb sync {os.path.dirname(run.dir)}')")
    if export:
        script.md("## Export\nONNX (checked in ONNX Runtime) and TorchScript, from the same example input.")
        script.code("import onnxruntime as ort\n\n"
                    "example = torch.randn(1, train.x.shape[1], train.x.shape[2], train.x.shape[3],\n"
                    "                      generator=torch.Generator().manual_seed(0))\n"
                    "onnx_path = os.path.join(RUN_DIR, 'model.onnx')\n"
                    "torch.onnx.export(model.eval(), (example,), onnx_path, input_names=['image'], "
                    "output_names=['logits'], dynamo=True)\n"
                    "session = ort.InferenceSession(onnx_path, providers=['CPUExecutionProvider'])\n"
                    "with torch.no_grad():\n"
                    "    reference = model(example).numpy()\n"
                    "print(f\"onnx_max_diff={np.abs(session.run(None, {'image': example.numpy()})[0] - reference).max():.3g}\")\n"
                    "torch.jit.trace(model, example).save(os.path.join(RUN_DIR, 'model_torchscript.pt'))")
    return script


# ---------------------------------------------------------------- photos and registry models
def _photo_cell(script: codegen.Script) -> None:
    script.md("## The photo\nDownload it from the page (*the photo as the app saw it*, a PNG of the exact pixels), "
              "or point IMAGE_PATH at any image.")
    script.code("IMAGE_PATH = 'photo.png'  # set this\n"
                "rgb = cv2.cvtColor(cv2.imread(IMAGE_PATH, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)\n"
                "print(f'photo {rgb.shape[1]}x{rgb.shape[0]}')")


def build_expression(key: str) -> tuple[str, codegen.Closure]:
    """Python that builds a registry model as the app does, and the project code it needs: a shipped
    model's class and helpers (read from core.models now, so a changed architecture follows), or
    torchvision's builder with ImageNet weights."""
    import ast

    from core.models import REGISTRY

    spec = REGISTRY[key]
    if spec.kind != "shipped":
        return f"torchvision.models.get_model({key!r}, weights='DEFAULT')", codegen.Closure(imports=["import torchvision"])
    build = spec.build
    if inspect.isclass(build):
        expr = f"{build.__name__}()"
    else:  # a lambda inside the registry: find it in the module's source and keep its body
        tree = ast.parse(inspect.getsource(inspect.getmodule(build)))
        lam = next(n for n in ast.walk(tree) if isinstance(n, ast.Lambda) and n.lineno == build.__code__.co_firstlineno)
        expr = ast.unparse(lam.body)
    closure = codegen.Closure()
    for name in sorted({n.id for n in ast.walk(ast.parse(expr)) if isinstance(n, ast.Name)}):
        closure.add_name(build.__module__, name)
    return expr, closure


def _model_cell(script: codegen.Script, key: str, expr: str) -> None:
    from core.models import REGISTRY

    spec = REGISTRY[key]
    if spec.kind == "shipped":
        script.md(f"## The model\n{spec.label}: the architecture above, with the weights CNN Lab ships "
                  f"(`assets/models/{key}.safetensors`, downloadable from the page).")
        script.code(f"WEIGHTS_PATH = {key + '.safetensors'!r}  # set this\n"
                    f"model = {expr}\n"
                    "model.load_state_dict(load_file(WEIGHTS_PATH))\n"
                    "model.eval()")
    else:
        script.md(f"## The model\n{spec.label} with torchvision's ImageNet weights (downloaded on first use).")
        script.code(f"model = {expr}.eval()")


def _preprocess_code(key: str) -> str:
    from core.models import REGISTRY

    spec = REGISTRY[key]
    s = spec.input_size
    return (f"SIZE, MEAN, STD = {s}, {spec.mean!r}, {spec.std!r}\n"
            "x = torch.from_numpy(resize_to(rgb, (SIZE, SIZE))).permute(2, 0, 1).float().div_(255.0)\n"
            "x = ((x - torch.tensor(MEAN).view(3, 1, 1)) / torch.tensor(STD).view(3, 1, 1)).unsqueeze(0)")


# ---------------------------------------------------------------- Convolution Playground
@dataclass(frozen=True)
class ConvView:
    kernel: tuple[tuple[float, ...], ...]
    settings: object  # core.conv.ConvSettings
    row: int
    col: int
    channel: int


def conv_script(view: ConvView) -> codegen.Script:
    """The playground's convolution of the shown photo: output size, a checksum and one pixel."""
    from core.conv import convolve, working_image

    script = codegen.Script("Convolution Playground: the shown kernel on the shown photo", name="cnnlab_convolution")
    _header(script, codegen.closure(working_image, convolve, type(view.settings)), "import cv2", "import numpy as np")
    _photo_cell(script)
    script.md("## The convolution\nThe photo as float RGB in [0, 1] (long side capped at 512 px, as in the app), "
              "cross-correlated with the kernel by `torch.nn.functional.conv2d`.")
    script.code(f"kernel = np.array({[list(r) for r in view.kernel]!r})\n"
                f"settings = {view.settings!r}\n"
                "image = working_image(rgb)\n"
                "out = convolve(image, kernel, settings)\n"
                "print(f'output_shape={out.shape}')\n"
                "print(f'checksum={float(out.astype(np.float64).sum()):.6f}')\n"
                "print(f'abs_checksum={float(np.abs(out.astype(np.float64)).sum()):.6f}')\n"
                f"print(f'pixel={{float(out[{view.channel}, {view.row}, {view.col}]):.6f}}')")
    return script


# ---------------------------------------------------------------- Interpretability
GRAD_CAM_CLASSES = {"Grad-CAM": "GradCAM", "Grad-CAM++": "GradCAMPlusPlus", "XGrad-CAM": "XGradCAM",
                    "Layer-CAM": "LayerCAM", "Eigen-CAM": "EigenCAM", "Score-CAM": "ScoreCAM"}


def cam_script(model_key: str, method: str, layer: str, target: int, alpha: float = 0.5,
               cmap: str = "jet") -> codegen.Script:
    """The Interpretability page's map for the shown method, layer and class, with its peak, coloured
    with one of core.viz.COLORMAPS (OpenCV's maps of the same names)."""
    from core.viz import COLORMAPS, normalize01

    if COLORMAPS.get(cmap) is None:
        raise CNNLabError(f"Colormap {cmap!r} is not offered; choose from {[c for c in COLORMAPS if COLORMAPS[c]]}.")
    from core.cams import TORCHCAM_METHODS
    from core.images import resize_to

    expr, closure = build_expression(model_key)
    closure.add(resize_to)
    closure.add(normalize01)  # the page's own rescale after enlarging, copied in
    extra = ["import cv2", "import numpy as np"]
    if method in GRAD_CAM_CLASSES:
        extra += [f"from pytorch_grad_cam import {GRAD_CAM_CLASSES[method]}",
                  "from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget"]
    elif method in TORCHCAM_METHODS:
        extra += ["import torchcam.methods", "import torch.nn.functional as F"]
    if closure.blocks:
        extra.append("from safetensors.torch import load_file")
    script = codegen.Script(f"Interpretability: {method} for class {target} at {layer}", name="cnnlab_interpretability")
    _header(script, closure, *extra)
    _photo_cell(script)
    _model_cell(script, model_key, expr)
    script.md("## Preprocessing, as the app does it\nResized to the model's input (OpenCV, area-averaging when "
              "shrinking) and normalised with its mean and std.")
    script.code(_preprocess_code(model_key) + "\nwith torch.no_grad():\n"
                "    print(f'top1={int(model(x).softmax(1).argmax(1))}')")
    script.md(f"## {method}")
    if method in GRAD_CAM_CLASSES:
        script.code(f"with {GRAD_CAM_CLASSES[method]}(model=model, target_layers=[model.get_submodule({layer!r})]) as cam:\n"
                    f"    heat = cam(input_tensor=x, targets=[ClassifierOutputTarget({target})])[0]")
    elif method in TORCHCAM_METHODS:
        cls_name, kwargs = TORCHCAM_METHODS[method]
        if cls_name == "CAM":
            from core.cams import gap_head
            from core.models import REGISTRY

            kwargs = dict(kwargs, fc_layer=gap_head(REGISTRY[model_key].build(), _channels(model_key, layer)))
        args = "".join(f", {k}={v!r}" for k, v in kwargs.items())
        script.code("torch.manual_seed(0)  # the noise of SmoothGrad-CAM++ and SS-CAM\n"
                    f"with torchcam.methods.{cls_name}(model, target_layer={layer!r}, input_shape=tuple(x.shape[1:]){args}) "
                    "as extractor:\n"
                    f"    small = extractor(class_idx={target}, scores=model(x))[0][0].detach()\n"
                    "big = F.interpolate(small[None, None], size=x.shape[-2:], mode='bilinear', align_corners=False)[0, 0]\n"
                    "heat = ((big - big.min()) / (big.max() - big.min())).numpy()")
    else:  # gradient saliency, as Captum's Saliency computes it
        script.code("x.requires_grad_(True)\n"
                    f"model(x)[0, {target}].backward()\n"
                    "grad = x.grad.abs().amax(1)[0]\n"
                    "heat = (grad / grad.max()).numpy()")
    script.code("row, col = np.unravel_index(np.argmax(heat), heat.shape)\n"
                "print(f'cam_peak={row},{col}')\n"
                "print(f'cam_mean={float(heat.mean()):.6f}')\n"
                f"ALPHA = {alpha!r}\n"
                "big = normalize01(cv2.resize(heat.astype(np.float32), (rgb.shape[1], rgb.shape[0]),\n"
                "                             interpolation=cv2.INTER_LINEAR))\n"
                f"colour = cv2.cvtColor(cv2.applyColorMap(np.uint8(np.round(big * 255)), cv2.COLORMAP_{cmap.upper()}), "
                "cv2.COLOR_BGR2RGB)\n"
                "overlay = cv2.addWeighted(rgb, 1 - ALPHA, colour, ALPHA, 0)\n"
                "cv2.imwrite('overlay.png', cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))")
    return script


def _channels(model_key: str, layer: str) -> int:
    from core import explain
    from core.models import load_model

    loaded = load_model(model_key)
    s = loaded.spec.input_size
    return explain.layer_shapes(loaded, torch.zeros(1, 3, s, s))[layer][0]


# ---------------------------------------------------------------- Transfer Learning
@dataclass(frozen=True)
class TransferView:
    backbone: str  # a registry key
    target: str  # a built-in target's menu name, or UPLOAD
    strategy: str
    per_class: int
    head: object  # core.transfer.HeadSpec
    budget: object  # core.transfer.Budget
    input_size: int  # the page's backbone input (cache.TRANSFER_INPUT may shrink a torchvision model's)
    zip_name: str = ""


def transfer_script(view: TransferView) -> codegen.Script:
    """One strategy of the Transfer Learning page: the same backbone cut, shots, head and budget."""
    from core.imagefolder import read_imagefolder_zip
    from core.models import REGISTRY
    from core.transfer import backbone_from_model, holdout, make_task, plan_strategy, target_data

    spec = REGISTRY[view.backbone]
    expr, closure = build_expression(view.backbone)
    for obj in (backbone_from_model, make_task, plan_strategy, train_plain, type(view.head), type(view.budget)):
        closure.add(obj)
    closure.add(holdout if view.target == UPLOAD else target_data)
    if view.target == UPLOAD:
        closure.add(read_imagefolder_zip)
    extra = ["from safetensors.torch import load_file"] if closure.blocks and spec.kind == "shipped" else []
    script = codegen.Script(f"Transfer Learning: {view.strategy} from {spec.label}", name="cnnlab_transfer")
    _header(script, closure, *extra)
    _model_cell(script, view.backbone, expr)
    script.md("## The backbone, cut into stages as the page shows them")
    script.code(f"backbone = backbone_from_model({view.backbone!r}, {spec.label!r}, model, input_size="
                f"{view.input_size}, in_channels=3,\n"
                f"                              mean={spec.mean!r}, std={spec.std!r}, trained=True, source='')\n"
                "print('stages:', ', '.join(backbone.stages))")
    script.md("## The target task")
    if view.target == UPLOAD:
        load = (f"ZIP_PATH = {view.zip_name or 'images.zip'!r}  # set this: your ImageFolder zip\n"
                "with open(ZIP_PATH, 'rb') as f:\n"
                "    dataset, notes = read_imagefolder_zip(f.read(), ZIP_PATH)\n"
                "pool, test = holdout(dataset, 0.25, seed=0)\n")
    else:
        load = f"pool, test = target_data({view.target!r})\n"
    script.code(load + f"task = make_task(pool, test, backbone, {view.target!r})\n"
                f"shots = task.shots({view.per_class}, {view.budget.seed})\n"
                "print(f'{len(shots)} training images, {len(task.test)} test images')")
    script.md(f"## {view.strategy}")
    script.code(f"head = {view.head!r}\n"
                f"budget = {view.budget!r}\n"
                f"plan = plan_strategy({view.strategy!r}, backbone, task, shots, head, budget)\n"
                "history = train_plain(plan.model, plan.train, plan.val, plan.mean, plan.std, plan.cfg,\n"
                "                      classes=len(task.class_names), params=plan.params)\n"
                "print(f\"test_acc={history['val_acc'][-1]:.6f}\")")
    return script


# ---------------------------------------------------------------- running an exported script
def run_script(script: codegen.Script, folder, files: dict[str, bytes] | None = None, timeout: float = 600,
               env: dict[str, str] | None = None) -> dict[str, str]:
    """Write the script (and the input files it reads) to a folder, run it in a fresh interpreter
    isolated from this project (``python -I``: no PYTHONPATH, not even the current folder), and
    return its printed ``name=value`` lines."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in (files or {}).items():
        (folder / name).write_bytes(data)
    path = folder / f"{script.name}.py"
    path.write_text(script.python())
    done = subprocess.run([sys.executable, "-I", str(path)], cwd=folder, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})
    if done.returncode:
        raise RuntimeError(f"{path.name} failed:\n{done.stderr[-3000:]}")
    return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line and " " not in line.split("=")[0])
