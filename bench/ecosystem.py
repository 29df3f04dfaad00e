"""The `ecosystem` bench group (section 11), and the reproduction cases the tests share.

Each case runs one view's computation in the app and the view's exported script in a separate
interpreter, and compares what they print: identical where the computation is deterministic
(accuracy, checksums, CAM peaks), within a stated tolerance where it is not (ONNX Runtime's float
rounding, 1e-4).
"""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

ONNX_TOLERANCE = 1e-4
SMALL = dict(limit=200, epochs=1, cam_images=3)  # the reproduction budget: seconds, not minutes


def _png(rgb) -> bytes:
    from core.viz import png_bytes

    return png_bytes(rgb)


def case_pipeline(folder: Path) -> dict:
    from core import pipeline, recipes

    s = pipeline.PipelineSettings(**SMALL)
    run = pipeline.Pipeline(s).run(lambda f, t: None, lambda: False)
    app = {"acc": run.stages["Training"].output["val_acc"],
           "peaks": [i["peak"] for i in run.stages["Grad-CAM"].output["items"]],
           "onnx": run.stages["Export"].output["onnx_max_diff"]}
    out = recipes.run_script(recipes.pipeline_script(s.data_spec(), s.train_config(), run.cam_layer, s.cam_images,
                                                     s.export), folder)
    peaks = [tuple(int(v) for v in out[f"cam_peak_{i}"].split(" ")[0].split(",")) for i in range(s.cam_images)]
    ok = abs(float(out["final_val_acc"]) - app["acc"]) < 1e-6 and peaks == app["peaks"] and \
        float(out["onnx_max_diff"]) < ONNX_TOLERANCE and app["onnx"] < ONNX_TOLERANCE
    return {"name": "pipeline", "app": app, "script": out, "ok": ok}


def case_training(folder: Path) -> dict:
    """The Training Monitor's Trainer with augmentation and a per-epoch schedule vs the exported loop."""
    from core import recipes
    from core.data import named_dataset
    from core.nets import build_net
    from core.training import TrainConfig, Trainer, split_dataset

    spec = recipes.DataSpec("Synthetic shapes", 160, 32, 0.25, 3)
    cfg = TrainConfig(arch="vgg", width=8, depth=2, optimizer="sgd", lr=0.05, batch_size=32, schedule="step",
                      epochs=2, crop_padding=2, flip=True, jitter=0.2, seed=3)
    ds = named_dataset(spec.name, spec.limit)
    train, val, mean, std, _ = split_dataset(ds, size=spec.size, val_fraction=spec.val_fraction, limit=spec.limit,
                                             seed=spec.seed)
    t = Trainer(cfg, build_net(cfg.arch, 5, 3, width=cfg.width, depth=cfg.depth, seed=cfg.seed), train, val,
                ds.class_names, mean, std)
    t.run()
    out = recipes.run_script(recipes.training_script(spec, cfg), folder)
    app = t.snapshots[-1].val_acc
    return {"name": "training", "app": app, "script": out, "ok": abs(float(out["final_val_acc"]) - app) < 1e-6}


def case_convolution(folder: Path) -> dict:
    from core import conv, recipes
    from core.images import sample_photo

    photo = sample_photo("Coffee cup")
    settings = conv.ConvSettings(5, 2, "explicit", 3, "reflect", 2, "per channel")
    kernel = conv.kernel_of_size("sharpen", 5)
    out_app = conv.convolve(conv.working_image(photo), kernel, settings)
    view = recipes.ConvView(tuple(map(tuple, kernel.tolist())), settings, 10, 20, 1)
    out = recipes.run_script(recipes.conv_script(view), folder, {"photo.png": _png(photo)})
    app = {"shape": str(out_app.shape), "checksum": f"{float(out_app.astype(np.float64).sum()):.6f}",
           "pixel": f"{float(out_app[1, 10, 20]):.6f}"}
    ok = out["output_shape"] == app["shape"] and out["checksum"] == app["checksum"] and out["pixel"] == app["pixel"]
    return {"name": "convolution", "app": app, "script": out, "ok": ok}


def case_interpretability(folder: Path, method: str = "Grad-CAM") -> dict:
    import cv2

    from core import cams, explain, recipes
    from core.models import ASSETS, load_model, preprocess
    from core.scenes import lesson_scene
    from core.viz import overlay

    loaded = load_model("shapesnet")
    photo = lesson_scene(seed=5).image
    x = preprocess(photo, loaded.spec)
    layer, target = "features.block3", 2
    heat = (cams.torchcam_map(loaded, x, method, layer, target) if method in cams.TORCHCAM_METHODS
            else explain.cam(loaded, x, method, layer, target))
    peak = ",".join(str(int(v)) for v in np.unravel_index(np.argmax(heat), heat.shape))
    alpha, cmap = 0.5, "viridis"  # the page's defaults
    out = recipes.run_script(recipes.cam_script("shapesnet", method, layer, target, alpha, cmap), folder,
                             {"photo.png": _png(photo), "shapesnet.safetensors": (ASSETS / "shapesnet.safetensors")
                              .read_bytes()})
    drawn = cv2.cvtColor(cv2.imread(str(folder / "overlay.png")), cv2.COLOR_BGR2RGB)
    off = int(np.abs(drawn.astype(int) - overlay(photo, heat, alpha, cmap).astype(int)).max())
    ok = out["cam_peak"] == peak and abs(float(out["cam_mean"]) - float(heat.mean())) < 1e-5 and off <= 1
    return {"name": f"interpretability ({method})", "app": peak, "script": out, "overlay_max_diff": off, "ok": ok}


def case_transfer(folder: Path) -> dict:
    from core import recipes, transfer
    from core.models import ASSETS, load_model

    backbone = transfer.backbone_from_loaded(load_model("shapesnet"))
    target = "New shapes (hexagon, heart, arrow)"
    pool, test = transfer.target_data(target)
    task = transfer.make_task(pool, test, backbone, target)
    head, budget = transfer.HeadSpec(1, 32), transfer.Budget(steps=20, trainable_stages=1, seed=1)
    outcome = transfer.train_strategy("feature extractor", backbone, task, task.shots(5, budget.seed), head, budget)
    view = recipes.TransferView("shapesnet", target, "feature extractor", 5, head, budget, backbone.input_size)
    out = recipes.run_script(recipes.transfer_script(view), folder,
                             {"shapesnet.safetensors": (ASSETS / "shapesnet.safetensors").read_bytes()})
    return {"name": "transfer", "app": outcome.test_acc, "script": out,
            "ok": abs(float(out["test_acc"]) - outcome.test_acc) < 1e-6}


CASES = (case_pipeline, case_training, case_convolution, case_interpretability, case_transfer)


def ecosystem() -> None:
    from bench.__main__ import emit
    from core import cams, explain, pipeline
    from core.scenes import lesson_scene
    from core.images import sample_photo
    from core.models import load_model, preprocess

    with tempfile.TemporaryDirectory(prefix="cnnlab-bench-eco-") as tmp:
        import os

        os.environ["CNNLAB_RUNS_DIR"] = tmp
        start = time.perf_counter()
        run = pipeline.Pipeline(pipeline.PipelineSettings()).run(lambda f, t: None, lambda: False)
        emit("pipeline_s", time.perf_counter() - start, "s")
        emit("pipeline_val_acc", run.stages["Training"].output["val_acc"], "fraction")
        results = [case(Path(tmp) / case.__name__) for case in CASES]
        emit("export_repro", sum(r["ok"] for r in results) / len(results), "fraction")
    lowest = 1.0
    for key, layers in (("shapesnet", ("features.block4", "features.block3")), ("resnet18", ("layer4", "layer3"))):
        loaded = load_model(key)
        for photo in (sample_photo("Cat (chelsea)"), lesson_scene(seed=3).image):
            x = preprocess(photo, loaded.spec)
            target = int(loaded.model(x).argmax())
            lowest = min([lowest] + [cams.agreement(loaded, x, layer, target).correlation for layer in layers])
    emit("torchcam_agreement_min", lowest, "correlation")
    loaded = load_model("resnet18")
    x = preprocess(sample_photo("Cat (chelsea)"), loaded.spec)
    ours, theirs = [], []
    for _ in range(8):  # interleaved, the first round a warm-up
        t0 = time.perf_counter()
        explain.cam(loaded, x, "Grad-CAM", "layer4", 281)
        ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        cams.torchcam_map(loaded, x, "Grad-CAM (torchcam)", "layer4", 281)
        theirs.append(time.perf_counter() - t0)
    emit("gradcam_ms", statistics.median(ours[1:]) * 1000, "ms")
    emit("torchcam_gradcam_ms", statistics.median(theirs[1:]) * 1000, "ms")
