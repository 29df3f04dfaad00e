"""Section 11's pipeline, stage by stage: data -> model -> training -> Grad-CAM -> logging -> export.

One ``Pipeline`` runs as a background job (``run(progress, should_stop)``, the signature of
``core.runs.Job``). Each stage records its status, timing and output as it finishes, so a page can
draw every finished stage while later ones still run. Training is the Training Monitor's
``Trainer`` with its TensorBoard and wandb observers; wandb runs in offline mode (no account, no
network) and writes next to the TensorBoard files, ready for ``wandb sync``. The settings are
plain data (``PipelineSettings``), and ``recipes.pipeline_script`` turns the same settings into
the script that reproduces the run.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch

from core import explain, export, recipes
from core.data import ImageDataset, named_dataset
from core.errors import CNNLabError
from core.models import from_trained, predict_indices
from core.nets import ARCHS, build_net
from core.runs import TensorBoardLogger, WandbLogger, runs_root
from core.training import Observer, TrainConfig, Trainer, split_dataset

STAGES = ("Data", "Model", "Training", "Grad-CAM", "Logging", "Export")
MODELS = ("simplecnn", "resnet18")
# The CAM layer: the deepest of these whose map is still at least 4x4 (ResNet-18's layer4 is 2x2 at 64 px).
CAM_LAYERS = {"simplecnn": ("conv2",), "resnet18": ("layer4", "layer3", "layer2")}
MIN_CAM_SIDE = 4


@dataclass(frozen=True)
class PipelineSettings:
    dataset: str = "Synthetic shapes"  # a built-in dataset's menu name, or recipes.UPLOAD
    limit: int = 4000
    arch: str = "simplecnn"
    epochs: int = 8
    batch_size: int = 32
    lr: float = 5e-3
    seed: int = 0
    val_fraction: float = 0.2
    cam_images: int = 6
    wandb: bool = True
    export: bool = True
    zip_name: str = ""

    @property
    def channels(self) -> int:
        return 1 if self.dataset == "Digits (scikit-learn)" else 3  # zips are read as RGB

    @property
    def size(self) -> int:
        """The input size: the smallest the architecture is built for (32 px SimpleCNN, 64 px ResNet-18)."""
        return ARCHS[self.arch].sizes[0]

    def data_spec(self) -> recipes.DataSpec:
        return recipes.DataSpec(self.dataset, self.limit, self.size, self.val_fraction, self.seed, self.zip_name)

    def train_config(self) -> TrainConfig:
        return TrainConfig(arch=self.arch, optimizer="adam", lr=self.lr, batch_size=self.batch_size,
                           schedule="onecycle", epochs=self.epochs, seed=self.seed)

    def validate(self) -> None:
        if self.arch not in MODELS:
            raise CNNLabError(f"Unknown model {self.arch!r}; choose from {', '.join(MODELS)}.")
        if self.limit < 2 or self.epochs < 1 or self.batch_size < 1 or self.cam_images < 1:
            raise CNNLabError("Images (at least 2), epochs, batch size and Grad-CAM images must be positive.")
        if not 0 < self.val_fraction < 1:
            raise CNNLabError(f"The validation share must lie between 0 and 1 (got {self.val_fraction}).")
        self.train_config().validate()


@dataclass
class Stage:
    name: str
    status: str = "waiting"  # waiting, running, done, stopped, failed, skipped
    started: float = 0.0  # seconds since the pipeline started
    seconds: float = 0.0
    message: str = ""
    output: dict = field(default_factory=dict)


class _Progress(Observer):
    """Reports training progress, with the trainer's own ETA, to the job's progress callback."""

    def __init__(self, report: Callable[[float, str], None], stage: int):
        self.report, self.stage = report, stage

    def on_batch(self, t: Trainer) -> None:
        eta = t.eta_seconds()
        self.report((self.stage + t.batches_done / t.total_batches) / len(STAGES),
                    f"Training: epoch {t.pos.epoch + 1} of {t.cfg.epochs}, batch {t.pos.batch} of "
                    f"{t.batches_per_epoch} · {t.images_per_second:,.0f} images/s"
                    + (f" · {eta:.0f} s of training left" if eta == eta else ""))


class _WandbUntilLogged(WandbLogger):
    """Keeps the wandb run open after training: the Logging stage adds the Grad-CAM overlays, then finishes it."""

    def on_end(self, trainer: Trainer) -> None:
        pass


class Pipeline:
    """One pipeline run. ``dataset`` is an uploaded zip's decoded images (None for built-in data)."""

    def __init__(self, settings: PipelineSettings, dataset: ImageDataset | None = None):
        settings.validate()
        if (settings.dataset == recipes.UPLOAD) != (dataset is not None):
            raise CNNLabError("An uploaded zip's images are needed exactly when the dataset is an upload.")
        self.settings, self.dataset = settings, dataset
        self.id = uuid.uuid4().hex[:8]
        self.dir = runs_root() / f"{datetime.now():%Y%m%d-%H%M%S}-pipeline-{settings.arch}-{self.id}"
        self.stages = {name: Stage(name) for name in STAGES}
        self.trainer: Trainer | None = None
        self._start = 0.0

    @property
    def finished(self) -> bool:
        return all(s.status in ("done", "skipped") for s in self.stages.values())

    def run(self, progress: Callable[[float, str], None], should_stop: Callable[[], bool]) -> "Pipeline":
        """Every stage in order; a stop, or a stage that fails, ends the run there (what finished is kept)."""
        self._start = time.perf_counter()
        steps = (self._data, self._model, self._training, self._gradcam, self._logging, self._export)
        wandb_run = None
        try:
            for i, (name, step) in enumerate(zip(STAGES, steps)):
                stage = self.stages[name]
                if should_stop():
                    stage.status, stage.message = "stopped", "Stopped before this stage."
                    break
                progress(i / len(STAGES), f"{name}...")
                stage.status, stage.started = "running", time.perf_counter() - self._start
                t0 = time.perf_counter()
                try:
                    outcome = step(stage, progress, should_stop, i)
                except CNNLabError as err:
                    stage.status, stage.message = "failed", str(err)
                    break
                finally:
                    stage.seconds = time.perf_counter() - t0
                if name == "Training":
                    wandb_run = stage.output.get("wandb")
                if outcome in ("stopped", "failed"):
                    stage.status = outcome
                    break
                stage.status = outcome or "done"
        finally:
            if wandb_run is not None and self.stages["Logging"].status != "done":
                wandb_run.finish(exit_code=1)  # a stopped or failed run still closes its offline files
        return self

    # ---------------------------------------------------------------- stages
    def _data(self, stage: Stage, progress, should_stop, i) -> None:
        s = self.settings
        ds = self.dataset if self.dataset is not None else named_dataset(s.dataset, s.limit)
        train, val, mean, std, notes = split_dataset(ds, size=s.size, val_fraction=s.val_fraction, limit=s.limit,
                                                     seed=s.seed)
        self.split = (train, val, mean, std)
        self.class_names = ds.class_names
        counts = np.bincount(train.y.numpy(), minlength=len(ds.class_names))
        stage.output = {"name": ds.name, "train": len(train), "val": len(val), "classes": ds.class_names,
                        "counts": counts.tolist(), "notes": notes, "channels": int(train.x.shape[1]),
                        "samples": _thumbnails(train.x[:12])}

    def _model(self, stage: Stage, progress, should_stop, i) -> None:
        s = self.settings
        train = self.split[0]
        self.model = build_net(s.arch, len(self.class_names), int(train.x.shape[1]), seed=s.seed)
        self.cam_layer, cam_shape = cam_layer(s.arch, int(train.x.shape[1]), s.size)
        stage.output = {"label": ARCHS[s.arch].label, "params": sum(p.numel() for p in self.model.parameters()),
                        "input": f"{train.x.shape[1]} x {s.size} x {s.size}", "cam_layer": self.cam_layer,
                        "cam_shape": cam_shape}

    def _training(self, stage: Stage, progress, should_stop, i) -> str:
        s = self.settings
        train, val, mean, std = self.split
        self.trainer = t = Trainer(s.train_config(), self.model, train, val, self.class_names, mean, std)
        tb = TensorBoardLogger(self.dir / "tensorboard")
        t.observers += [_Progress(progress, i), tb]
        stage.output["tensorboard"] = tb
        if s.wandb:
            import wandb

            logger = _WandbUntilLogged(t, f"pipeline-{self.id}", mode="offline", dir=str(self.dir),
                                 settings=wandb.Settings(console="off", silent=True, x_disable_stats=True))
            t.observers.append(logger)
            stage.output["wandb"] = logger.run
        status = t.run(should_stop)
        history = {k: [float(getattr(snap, k)) for snap in t.snapshots[1:]] for k in ("train_loss", "val_loss",
                                                                                       "val_acc")}
        stage.output.update(history=history, status=status, message=t.message, epochs=t.pos.epoch,
                            images_per_second=t.images_per_second,
                            val_acc=t.snapshots[-1].val_acc if t.pos.epoch else float("nan"))
        if status == "stopped":
            return "stopped"
        if status == "diverged":
            stage.message = t.message
            return "failed"
        return "done"

    def _gradcam(self, stage: Stage, progress, should_stop, i) -> None:
        """The seed's kit: Grad-CAM of the predicted class on held-out images, overlaid with addWeighted."""
        s = self.settings
        train, val, mean, std = self.split
        loaded = from_trained(f"pipeline-{self.id}", "pipeline model", self.model, s.size, mean.tolist(),
                              std.tolist(), self.class_names, "trained by the pipeline")
        shape = (1, -1, 1, 1)
        items = []
        for k in range(min(s.cam_images, len(val))):
            if should_stop():
                return "stopped"
            x = (val.x[k:k + 1] - mean.view(shape)) / std.view(shape)
            pred = predict_indices(loaded, x, 1)[0][0]
            heat = explain.cam(loaded, x, "Grad-CAM", self.cam_layer, pred)
            original = _thumbnails(val.x[k:k + 1])[0]
            colour = cv2.cvtColor(cv2.applyColorMap(np.uint8(255 * heat), cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
            items.append({"overlay": cv2.addWeighted(original, 0.6, colour, 0.4, 0),
                          "peak": tuple(int(v) for v in np.unravel_index(np.argmax(heat), heat.shape)),
                          "pred": self.class_names[pred], "true": self.class_names[int(val.y[k])]})
            progress((i + (k + 1) / s.cam_images) / len(STAGES), f"Grad-CAM: image {k + 1} of {s.cam_images}")
        stage.output = {"layer": self.cam_layer, "items": items}

    def _logging(self, stage: Stage, progress, should_stop, i) -> None:
        """The Grad-CAM overlays join the curves logged during training; the runs are closed."""
        training = self.stages["Training"].output
        overlays = [item["overlay"] for item in self.stages["Grad-CAM"].output["items"]]
        writer = training["tensorboard"].writer
        for k, image in enumerate(overlays):
            writer.add_image("gradcam", image, k, dataformats="HWC")
        writer.close()
        stage.output = {"tensorboard": str(self.dir / "tensorboard")}
        run = training.get("wandb")
        if run is not None:
            import wandb

            run.log({"gradcam": [wandb.Image(image) for image in overlays]})
            run.finish()
            folder = Path(run.dir).parent  # run.dir is the run's files/ folder
            stage.output.update(wandb=str(folder), sync=f"wandb sync {folder}")

    def _export(self, stage: Stage, progress, should_stop, i) -> str | None:
        if not self.settings.export:
            stage.message = "Export was switched off for this run."
            return "skipped"
        s, channels = self.settings, int(self.split[0].x.shape[1])
        onnx_bytes = export.to_onnx(self.model, s.size, channels)
        script = export.to_torchscript(self.model, s.size, channels)
        stage.output = {"onnx": onnx_bytes, "torchscript": script,
                        "onnx_max_diff": export.onnx_max_diff(onnx_bytes, self.model, s.size, channels=channels)}
        return None


@lru_cache(maxsize=8)
def cam_layer(arch: str, channels: int, size: int) -> tuple[str, tuple[int, ...]]:
    """The Grad-CAM layer for an architecture at an input size, and its output shape: the deepest of
    CAM_LAYERS[arch] whose map is at least MIN_CAM_SIDE pixels wide (the class count does not matter)."""
    net = build_net(arch, 2, channels)
    probe = from_trained("probe", "", net, size, (0.0,) * channels, (1.0,) * channels, ("a", "b"), "")
    shapes = explain.layer_shapes(probe, torch.zeros(1, channels, size, size))
    usable = [name for name in CAM_LAYERS[arch] if name in shapes and min(shapes[name][1:]) >= MIN_CAM_SIDE]
    name = usable[0] if usable else explain.spatial_layers(shapes)[-1]
    return name, shapes[name]


def _thumbnails(x: torch.Tensor) -> list[np.ndarray]:
    """(N, C, H, W) images in [0, 1] -> RGB uint8 arrays (grey repeated to 3 channels)."""
    u8 = np.round(x.permute(0, 2, 3, 1).numpy() * 255).astype(np.uint8)
    return [np.ascontiguousarray(np.repeat(im, 3 // im.shape[2], axis=2)) for im in u8]


def cifar_stored() -> bool:
    """Is CIFAR-10 in torchvision's layout under the data root (so the pipeline needs no download)?"""
    from core.data import data_root

    folder = data_root() / "cifar-10-batches-py"
    return all((folder / f).is_file() for f in ("data_batch_1", "test_batch", "batches.meta"))
