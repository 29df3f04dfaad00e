"""`python -m bench [GROUP ...]`: one `name value unit` line per figure.

Groups:
  startup  import_s                 fresh interpreter importing the app's modules (median of 3)
  browser  home_first_render_s      real chromium: server start -> Home fully rendered
           rss_after_tour_mb        server RSS (with children) after every page was opened once
  models   vision_<model>_ms        CNN-vision pass (feature maps of all convs + top-5), median of 5
  conv     conv_update_ms           Convolution Playground, chromium: one step of the Stride slider -> the
                                    rerun it triggers ended and drawn (the sliding settings' fragment, nested in
                                    the kernel's: settings, conv, formula, both images, pixel breakdown,
                                    pooling; median of 10)
           conv_compute_ms          compute only, 512x512 RGB photo: convolution, diverging map, formula,
                                    receptive-field box (median of 20)
           activation_update_ms     Activation Lab, chromium: one step of the Leaky ReLU slope -> the curves
                                    fragment redrawn (curves, derivatives, plotly figure; median of 10)
           activation_compute_ms    compute only: all 8 curves + derivatives (median of 50)
           *_server_cpu_ms          beside every live figure (conv_update_server_cpu_ms for conv_update_ms, and so
                                    on): the server process's CPU time per counted move, all its threads
  explorer profile_all_s            all 10 torchvision architectures profiled at their standard size
                                    (meta device: layer table, MACs, receptive fields), in a fresh process
           profile_all_rss_mb       that process's RSS growth while profiling
           macs_max_rel_err         largest relative MACs error against torchvision's published GFLOPS
           params_exact             architectures whose parameter count equals the published one (of 10)
  explain  gradcam_ratio            core Grad-CAM call / bare pytorch-grad-cam call, ResNet-18 at 224 px
                                    (medians of 7 interleaved runs each)
           gradcam_cached_ms        the same image, model, layer and class asked again (content-keyed cache)
           pointing_game            share of 200 held-out shapes where ShapesNet's Grad-CAM peak is on the object
  mri      mri_slice_ms             3D MRI Viewer, chromium: one step of the axial slider -> the viewer fragment
                                    redrawn (three views, lesion panel, histogram, montage; median of 10)
           mri_slice_compute_ms     compute only: the three windowed views after a move on the 197x233x189 template
           cam3d_s                  lesion probability plus 3D Grad-CAM at 64^3, from the template with a lesion
           pointing_game_3d         share of held-out positive volumes whose 3D CAM peak is inside the lesion
           load_peak_ratio          peak memory allocated while loading a 256^3 float32 upload (already in
                                    memory as bytes), over the volume's size
  train    train_throughput_ratio   training images/s of the page's background run (snapshots, confusion matrix,
                                    worst mistakes, TensorBoard all on) over the course's bare loop (train +
                                    validate per epoch), same model/data/batch, both on a fresh thread (median of 5)
           train_ui_refresh_hz      changes per second of the live progress line in chromium during a run
           train_live_img_s         training images/s the page reports at that moment (browser on the same CPU)
  transfer probe_all_s              auto-suggest: linear probes of the offline backbones (ShapesNet, SimpleCNN)
                                    on 200 images of the new-shapes task, embedding + fit (median of 3)
           feature_extract_speedup  seconds per epoch of fine-tuning every stage / of the feature extractor on
                                    cached embeddings (ShapesNet, 50 per class, test-set evaluation included)
  wild     bias_lab_s               one full bias-lab run at a 100% colour cue: data, plain and hue-augmented
                                    training, both tests, Grad-CAM share over 100 images for each model
           bias_broken_gap          matched-test minus broken-test accuracy of the plain model in that run
           similarity_query_ms      one query against the 252-image gallery: embed the photo (ShapesNet) and
                                    rank every entry by cosine (median of 50)
           deploy_onnx_speedup      ShapesNet batch-1 latency, PyTorch eager / ONNX Runtime (30 interleaved rounds)
  specialized tcn_update_ms        Specialized CNNs, chromium: one step of the TCN's Layers slider -> that
                                    fragment redrawn (receptive field check, tree, causality test; median of 10)
           fcn_infer_ms             the segmentation lab's TinyFCN (with skips) labelling the 128x192 scene: one
                                    forward pass + per-pixel argmax (median of 20)
  lessons  pointing_game_scenes, pointing_game_scenes_centre, pointing_game_scenes_random, tiling_miou,
           photo_max_shape_prob, shapes_ece, quiz_first_option_score: see bench/lessons.py
  coldstart first_paint_s, first_paint_after_health_s, home_first_render_s, page_first_open_s, page_switch_s,
           rss_idle_mb, rss_home_mb, rss_after_<page>_mb, rss_after_tour_mb, rss_per_session_mb (fresh server in
           chromium), cam_class_switch_ms, cam_class_switch_full_ms, demo_compute_cam_ms, cam_switch_vs_demo
           (against torchcam's demo, $TORCHCAM_DEMO): see bench/coldstart.py
  frontiers quant_speedup           ShapesNet at batch 64: float32 / int8 time per batch, both compiled by
                                    Inductor (torchao PT2E int8 graph), 15 interleaved rounds
           quant_speedup_b1         the same at batch 1
           quant_acc_drop           float32 minus int8 accuracy on 600 held-out shapes (points)
           nas_trial_s              mean seconds per architecture-search candidate (8 evolutionary trials)
  ecosystem pipeline_s              the pipeline lab's default run end to end, offline (4,000 shapes, SimpleCNN,
                                    8 epochs, TensorBoard + offline wandb, Grad-CAM on 6 images, ONNX + TorchScript)
           pipeline_val_acc         that run's final validation accuracy
           export_repro             share of exported scripts (pipeline, Training Monitor, playground, Grad-CAM,
                                    transfer) whose printed numbers match the app's for the same settings
           torchcam_agreement_min   lowest pytorch-grad-cam vs torchcam Grad-CAM correlation (ShapesNet block4/3,
                                    ResNet-18 layer4/3, two photos each)
           gradcam_ms               pytorch-grad-cam Grad-CAM via core.explain, ResNet-18 at 224 px (median of 7)
           torchcam_gradcam_ms      torchcam GradCAM via core.cams on the same input, map enlarged (median of 7)

  workshop workshop_p95_ratio       10 chromium sessions moving the playground's Stride slider together: p95 from
                                    a key press to the new output on screen, over a trivial app's p95 (same run)
           replica_upload_ok        share of 20 uploads (10 sessions) through nginx to 2 replicas that are accepted
                                    and shown (_round_robin: the same without sticky routing); see bench/workshop.py
           room_train_last_epoch1_s_{shared,unshared}  10 sessions press Start on the default training at once:
                                    seconds until the last sees epoch 1, identical runs shared / each its own job
           ray_job_overhead         the default training (2 epochs) through a local 2-CPU Ray cluster, worker
                                    warm, over the same run on the embedded executor (wall time ratio); see
                                    bench/workshop_jobs.py
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("CNNLAB_OFFLINE", "1")  # benchmarks never download

from bench import live  # noqa: E402
from bench.app_server import CHROMIUM, CHROMIUM_ARGS, ROOT, AppServer, wait_until_idle  # noqa: E402

APP_MODULES = "import core.cache, core.ui, core.models, core.features, core.viz, core.quiz, core.data, core.images"


def emit(name: str, value: float, unit: str) -> None:
    print(f"{name} {value:.3f} {unit}", flush=True)


def startup() -> None:
    runs = []
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, "-c", f"import time; t = time.perf_counter(); {APP_MODULES}; "
                                   "print(time.perf_counter() - t)"],
            cwd=ROOT, capture_output=True, text=True, check=True)
        runs.append(float(out.stdout.strip()))
    emit("import_s", statistics.median(runs), "s")


def browser() -> None:
    import psutil
    from playwright.sync_api import sync_playwright

    from core.navigation import PAGES

    with AppServer() as server, sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = chromium.new_page(viewport={"width": 1400, "height": 2400})
        page.goto(server.url)
        wait_until_idle(page)
        emit("home_first_render_s", time.perf_counter() - server.started_at, "s")
        for spec in PAGES:
            page.goto(f"{server.url}/{spec.url_path}")
            wait_until_idle(page)
        proc = psutil.Process(server.proc.pid)
        rss = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
        emit("rss_after_tour_mb", rss / 2**20, "MB")
        chromium.close()


def models() -> None:
    import torch

    from core import features
    from core.images import sample_photo
    from core.models import load_model, preprocess, top_k

    torch.set_num_threads(len(os.sched_getaffinity(0)))
    photo = sample_photo("Cat (chelsea)")
    for key in ("simplecnn_shapes", "shapesnet", "resnet18"):
        loaded = load_model(key)
        layers = features.conv_layers(loaded.model)
        times = []
        for _ in range(6):
            start = time.perf_counter()
            maps, logits = features.feature_maps(loaded, preprocess(photo, loaded.spec), layers)
            top_k(loaded, logits)
            times.append(time.perf_counter() - start)
        emit(f"vision_{key}_ms", statistics.median(times[1:]) * 1000, "ms")  # first run warms up


def conv_group() -> None:
    import numpy as np

    from core import activations, conv
    from core.images import resize_to, sample_photo
    from core.viz import diverging, mark_box

    photo = conv.working_image(resize_to(sample_photo("Astronaut"), (512, 512)))
    photo_u8 = np.round(photo * 255).astype(np.uint8)
    kernel = conv.KERNEL_PRESETS["Sobel x"]
    times = []
    for stride in [1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3]:
        settings = conv.ConvSettings(3, stride, "same", 0, "zeros", 1, "summed (Conv2d 3->1)")
        start = time.perf_counter()
        out = conv.convolve(photo, kernel, settings)
        conv.formula_latex(photo.shape[0], settings)
        rows, cols = conv.receptive_field(out.shape[1] // 2, out.shape[2] // 2, settings)
        mark_box(photo_u8, int(rows[0]), int(cols[0]), settings.span, settings.span)
        diverging(out[0])
        times.append(time.perf_counter() - start)
    emit("conv_compute_ms", statistics.median(times[1:]) * 1000, "ms")
    names = list(activations.ACTIVATIONS)
    times = []
    for i in range(51):
        start = time.perf_counter()
        activations.curves(names, -5.0, 5.0, {"slope": 0.01 + i / 1000, "alpha": 1.0})
        times.append(time.perf_counter() - start)
    emit("activation_compute_ms", statistics.median(times[1:]) * 1000, "ms")
    live.measure(["conv_update_ms", "activation_update_ms"], emit)


EXPLORER_WORKER = """
import json, time, psutil
from core.profile import ARCHS, TORCHVISION_ARCHS, profile
rss0 = psutil.Process().memory_info().rss
start = time.perf_counter()
results = {k: profile(k) for k in TORCHVISION_ARCHS}
seconds = time.perf_counter() - start
rss1 = psutil.Process().memory_info().rss
errs = [abs(p.total_macs / 1e9 - ARCHS[k].ref_gmacs) / ARCHS[k].ref_gmacs for k, p in results.items()]
exact = sum(p.total_params == ARCHS[k].ref_params for k, p in results.items())
print(json.dumps([seconds, (rss1 - rss0) / 2**20, max(errs), exact, len(results)]))
"""


def explorer() -> None:
    import json

    out = subprocess.run([sys.executable, "-c", EXPLORER_WORKER], cwd=ROOT, capture_output=True, text=True, check=True)
    seconds, rss_mb, max_err, exact, total = json.loads(out.stdout.strip().splitlines()[-1])
    emit("profile_all_s", seconds, "s")
    emit("profile_all_rss_mb", rss_mb, "MB")
    emit("macs_max_rel_err", max_err, "ratio")
    print(f"params_exact {exact} models_of_{total}", flush=True)


def explain_group() -> None:
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    from core import explain
    from core.data import make_shapes
    from core.images import sample_photo
    from core.models import load_model, preprocess

    loaded = load_model("resnet18")
    x = preprocess(sample_photo("Cat (chelsea)"), loaded.spec)
    ours, bare = [], []
    for _ in range(8):
        start = time.perf_counter()
        explain.cam(loaded, x, "Grad-CAM", "layer4", 281)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        model = loaded.model  # the bare library call, on the same weights, gradients switched on by hand
        for p in model.parameters():
            p.requires_grad_(True)
        with GradCAM(model=model, target_layers=[model.layer4]) as engine:
            engine(input_tensor=x, targets=[ClassifierOutputTarget(281)])
        for p in model.parameters():
            p.requires_grad_(False)
            p.grad = None
        bare.append(time.perf_counter() - start)
    emit("gradcam_ratio", statistics.median(ours[1:]) / statistics.median(bare[1:]), "ratio")
    explain.CAMS.get_or_compute(loaded, x, "Grad-CAM", "layer4", 281)
    hits = []
    for _ in range(10):
        start = time.perf_counter()
        explain.CAMS.get_or_compute(loaded, x.clone(), "Grad-CAM", "layer4", 281)
        hits.append(time.perf_counter() - start)
    emit("gradcam_cached_ms", statistics.median(hits) * 1000, "ms")
    shapes = load_model("shapesnet")
    data = make_shapes(200, seed=777)
    won = [explain.pointing_game(explain.cam(shapes, preprocess(img, shapes.spec), "Grad-CAM", "features.block4",
                                             int(label)), mask)
           for img, mask, label in zip(data.images, data.masks, data.labels)]
    emit("pointing_game", sum(won) / len(won), "fraction")


# tracemalloc sees numpy's buffers, so its peak is the memory the load itself allocates,
# independent of what the interpreter and imports already hold.
LOAD_WORKER = """
import sys, tracemalloc
from core.volumes import load_volume
raw = open(sys.argv[1], "rb").read()
tracemalloc.start()
load_volume(raw)
print(tracemalloc.get_traced_memory()[1])
"""


def mri() -> None:
    import tempfile

    import nibabel as nib
    import numpy as np
    import torch

    from core import explain, lesions, volumes
    from core.models import load_model, predict_indices

    vol = volumes.load_path(volumes.sample_volumes()["MNI152 T1 template (nilearn, 1 mm)"])
    lo, hi = volumes.robust_window(vol.data)
    times = []
    for step in range(21):
        ijk = (60 + step, 100 + step, 80 + step)
        start = time.perf_counter()
        for plane in volumes.PLANES:
            index = ijk[volumes.PLANE_AXIS[plane]]
            volumes.display(volumes.window(volumes.plane_slice(vol.data, plane, index), lo, hi), plane, vol.zooms, ijk)
        times.append(time.perf_counter() - start)
    emit("mri_slice_compute_ms", statistics.median(times[1:]) * 1000, "ms")
    live.measure(["mri_slice_ms"], emit)
    loaded = load_model("lesion3d")
    with_lesion, _ = lesions.insert_lesion(vol.data, (70, 120, 90), 8, 0.7 * (hi - lo))
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        x = torch.from_numpy(lesions.to_grid(with_lesion))[None, None]
        predict_indices(loaded, x, 2)
        explain.cam(loaded, x, "Grad-CAM", loaded.spec.target_layer, 1)
        runs.append(time.perf_counter() - start)
    emit("cam3d_s", statistics.median(runs), "s")
    positives = [s for s in lesions.make_set(80, 31337) if s.label == 1]
    hits = [bool(s.mask[lesions.peak(explain.cam(loaded, torch.from_numpy(s.volume)[None, None], "Grad-CAM",
                                                 loaded.spec.target_layer, 1))]) for s in positives]
    emit("pointing_game_3d", sum(hits) / len(hits), "fraction")
    with tempfile.NamedTemporaryFile(suffix=".nii") as f:
        data = np.random.default_rng(0).random((256, 256, 256), dtype=np.float32)
        nib.save(nib.Nifti1Image(data, np.eye(4)), f.name)
        out = subprocess.run([sys.executable, "-c", LOAD_WORKER, f.name], cwd=ROOT, capture_output=True, text=True,
                             check=True)
    emit("load_peak_ratio", float(out.stdout.strip().splitlines()[-1]) / data.nbytes, "x_volume")


def train_group() -> None:
    import tempfile
    import threading

    import torch

    from core import runs
    from core.data import make_shapes
    from core.nets import build_net
    from core.training import TrainConfig, Trainer, split_dataset

    os.environ["CNNLAB_RUNS_DIR"] = tempfile.mkdtemp(prefix="cnnlab-bench-runs-")
    ds = make_shapes(3000, seed=5)
    train, val, mean, std, _ = split_dataset(ds, size=32, val_fraction=0.2, limit=None, seed=0)
    cfg = TrainConfig(arch="simplecnn", optimizer="adam", lr=3e-3, batch_size=64, epochs=3, seed=0)

    def app() -> float:
        """The page's path: a background TrainingRun with TensorBoard, snapshots and validation each epoch."""
        run = runs.TrainingRun("bench", Trainer(cfg, build_net("simplecnn", 5, 3, seed=0), train, val,
                                                ds.class_names, mean, std), ds.name)
        run.start()
        run.join()
        return run.trainer.images_per_second

    def bare() -> float:
        """The course's loop skeleton on the same model, data and batch size: train, then validate each
        epoch; no logging, snapshots or callbacks. Run on a fresh thread, like the app's."""
        result = []

        def loop() -> None:
            model = build_net("simplecnn", 5, 3, seed=0)
            opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
            loss_fn = torch.nn.CrossEntropyLoss()
            norm = mean.view(1, -1, 1, 1), std.view(1, -1, 1, 1)
            x, xv = (train.x - norm[0]) / norm[1], (val.x - norm[0]) / norm[1]
            gen = torch.Generator().manual_seed(0)
            start = time.perf_counter()
            for _ in range(cfg.epochs):
                model.train()
                order = torch.randperm(len(x), generator=gen)
                for i in range(0, len(x), cfg.batch_size):
                    idx = order[i:i + cfg.batch_size]
                    loss = loss_fn(model(x[idx]), train.y[idx])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                model.eval()
                with torch.no_grad():
                    float((model(xv).argmax(1) == val.y).float().mean())
            result.append(cfg.epochs * len(x) / (time.perf_counter() - start))

        thread = threading.Thread(target=loop)
        thread.start()
        thread.join()
        return result[0]

    ratios = []
    for _ in range(5):  # interleaved, so both see the same machine state
        ratios.append(app() / bare())
    emit("train_throughput_ratio", statistics.median(ratios), "x_bare")
    train_ui_refresh()


def train_ui_refresh() -> None:
    """How often the live view changes in a real browser while a run trains (progress line sampled at 20 Hz)."""
    from playwright.sync_api import sync_playwright

    with AppServer() as server, sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = chromium.new_page(viewport={"width": 1400, "height": 2400})
        page.goto(f"{server.url}/training?n=4000&epochs=50")
        wait_until_idle(page)
        page.get_by_role("button", name="Start training").click()
        progress = page.locator('[data-testid="stProgress"]').first
        progress.wait_for(timeout=60_000)
        page.wait_for_timeout(2000)
        seen, changes, window_s = progress.inner_text(), 0, 10.0
        end = time.monotonic() + window_s
        while time.monotonic() < end:
            page.wait_for_timeout(50)
            text = progress.inner_text()
            changes += text != seen
            seen = text
        emit("train_ui_refresh_hz", changes / window_s, "Hz")
        # The page's own throughput figure while chromium, on these same 2 cores, redraws the live view.
        emit("train_live_img_s", float(seen.split(" training images/s")[0].rsplit("· ", 1)[1].replace(",", "")),
             "img/s")
        page.get_by_role("button", name="Stop", exact=True).click()
        chromium.close()


def transfer_group() -> None:
    from core import transfer
    from core.data import EXTRA_SHAPES, make_shapes
    from core.models import load_model

    backbones = [transfer.backbone_from_loaded(load_model(k)) for k in ("shapesnet", "simplecnn_shapes")]
    pool, test = make_shapes(600, seed=71, classes=EXTRA_SHAPES), make_shapes(150, seed=72, classes=EXTRA_SHAPES)
    runs = []
    for seed in range(3):
        start = time.perf_counter()
        transfer.probe_all(backbones, pool, lambda f, t: None, lambda: False, n=200, seed=seed)
        runs.append(time.perf_counter() - start)
    emit("probe_all_s", statistics.median(runs), "s")
    task = transfer.make_task(pool, test, backbones[0])
    train = task.shots(50, 0)
    all_stages = len(backbones[0].stages)
    ratios = []
    for _ in range(3):
        fe = transfer.train_strategy("feature extractor", backbones[0], task, train, transfer.HeadSpec(),
                                     transfer.Budget())
        ft = transfer.train_strategy("fine-tune", backbones[0], task, train, transfer.HeadSpec(),
                                     transfer.Budget(trainable_stages=all_stages))
        ratios.append(ft.seconds_per_epoch / fe.seconds_per_epoch)
    emit("feature_extract_speedup", statistics.median(ratios), "x")


def wild_group() -> None:
    from core import deploy, shortcut, similarity
    from core.images import sample_photo
    from core.models import load_model

    start = time.perf_counter()
    plain, _ = shortcut.run_lab(1.0)
    emit("bias_lab_s", time.perf_counter() - start, "s")
    emit("bias_broken_gap", plain.matched_acc - plain.broken_acc, "fraction")
    shapesnet = load_model("shapesnet")
    index = similarity.build_index(shapesnet, similarity.build_gallery())
    photo = sample_photo("Astronaut")[:, ::-1].copy()
    times = []
    for _ in range(50):
        start = time.perf_counter()
        index.search(similarity.embed(shapesnet, photo), 8)
        times.append(time.perf_counter() - start)
    emit("similarity_query_ms", statistics.median(times) * 1000, "ms")
    rows = deploy.compare(deploy.serve_all(shapesnet.model, shapesnet.spec.input_size), shapesnet.spec.input_size)
    emit("deploy_onnx_speedup", rows[2]["speed vs eager"], "x")


def frontiers_group() -> None:
    import torch

    from core import compress, nas
    from core.data import make_shapes
    from core.models import load_model
    from core.training import dataset_tensor

    model = load_model("shapesnet").model
    test, calib = make_shapes(600, seed=4242), make_shapes(200, seed=4343)
    x, y = dataset_tensor(test, 64, (0.5,) * 3, (0.5,) * 3), torch.from_numpy(test.labels)
    int8 = compress.quantize_int8(model, dataset_tensor(calib, 64, (0.5,) * 3, (0.5,) * 3))
    for batch, name in ((64, "quant_speedup"), (1, "quant_speedup_b1")):
        fp32c, why = compress.compiled(model, x[:batch])
        int8c, why8 = compress.compiled(int8, x[:batch])
        if fp32c is None or int8c is None:
            sys.exit(f"{name}: {why or why8}")
        t32, t8 = compress.latency_ms([fp32c, int8c], x[:batch])
        emit(name, t32 / t8, "x")
    emit("quant_acc_drop", 100 * (compress.accuracy(model, x, y) - compress.accuracy(int8, x, y)), "points")
    trials = nas.search("evolutionary", 8)
    emit("nas_trial_s", statistics.mean(t.seconds for t in trials), "s")


def coldstart_group() -> None:
    from bench import coldstart

    coldstart.run(emit)


def specialized_group() -> None:
    import torch

    from core import segmentation

    live.measure(["tcn_update_ms"], emit)
    torch.manual_seed(0)
    model = segmentation.TinyFCN(skips=True, num_classes=len(segmentation.TASKS["object vs background"]))
    image = segmentation.big_scene(0).image[None]
    times = []
    for _ in range(21):
        start = time.perf_counter()
        segmentation.predict(model, image)
        times.append(time.perf_counter() - start)
    emit("fcn_infer_ms", statistics.median(times[1:]) * 1000, "ms")


def lessons_group() -> None:
    from bench import lessons

    lessons.run(emit)


def ecosystem_group() -> None:
    from bench.ecosystem import ecosystem

    ecosystem()


def workshop_group() -> None:
    from bench import workshop, workshop_jobs

    workshop.slider_p95_ratio()
    workshop.replica_uploads()
    emit("room_train_last_epoch1_s_shared", workshop_jobs.room_train_last_epoch1_s(True), "s")
    emit("room_train_last_epoch1_s_unshared", workshop_jobs.room_train_last_epoch1_s(False), "s")
    emit("ray_job_overhead", workshop_jobs.ray_job_overhead(), "ratio")


GROUPS = {"startup": startup, "browser": browser, "models": models, "conv": conv_group, "explorer": explorer,
          "explain": explain_group, "mri": mri, "train": train_group, "transfer": transfer_group,
          "wild": wild_group, "frontiers": frontiers_group, "lessons": lessons_group,
          "ecosystem": ecosystem_group, "workshop": workshop_group, "specialized": specialized_group,
          "coldstart": coldstart_group}


def main(argv: list[str]) -> None:
    unknown = [g for g in argv if g not in GROUPS]
    if unknown:
        sys.exit(f"unknown group(s) {unknown}; choose from {list(GROUPS)}")
    for group in argv or list(GROUPS):
        GROUPS[group]()


if __name__ == "__main__":
    main(sys.argv[1:])
