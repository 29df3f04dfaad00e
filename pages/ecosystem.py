"""Ecosystem & tools (course section 11): the full pipeline stage by stage, transforms v2, TorchLens."""
from __future__ import annotations

import uuid

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import cache, pipeline, recipes, tracing, transforms, ui
from core.data import data_root, downloads_allowed
from core.errors import CNNLabError

INTRO = """
A CNN project is more than a model. **PyTorch** runs the maths, **torchvision** brings datasets,
pretrained models and transforms, **pytorch-grad-cam** and **torchcam** explain predictions,
**TensorBoard** and **Weights & Biases** keep a record of every run, and **ONNX** and
**TorchScript** carry the trained network out of Python. This page wires them into one pipeline you
can run here, stage by stage, and hands you the script that does the same on your own machine.
"""
UPLOAD = "Upload an ImageFolder zip"
DATASETS = ["CIFAR-10", "Synthetic shapes", "Digits (scikit-learn)", UPLOAD]
MODEL_LABELS = {"simplecnn": "SimpleCNN (the course's net, 32 px: seconds per epoch here)",
                "resnet18": "ResNet-18 (torchvision, num_classes set, 64 px: minutes per epoch on this CPU)"}
ICONS = {"waiting": ":material/schedule:", "running": ":material/autorenew:", "done": ":material/check_circle:",
         "stopped": ":material/stop_circle:", "failed": ":material/error:", "skipped": ":material/do_not_disturb_on:"}
TRACE_MODELS = ("simplecnn_shapes", "shapesnet", "resnet18")


def main() -> None:
    ui.route_through_home()
    st.title("Ecosystem & tools")
    st.markdown(INTRO)
    pipeline_lab()
    st.divider()
    st.header("2. Transforms and layer tracing on a photo")
    photo = ui.image_picker("eco", default_sample="Astronaut")
    if photo is not None:
        transforms_lab(photo.pixels)
        tracing_lab(photo.pixels)
    st.divider()
    ui.quiz("ecosystem")


# ---------------------------------------------------------------- 1. the pipeline
def pipeline_lab() -> None:
    st.header("1. One pipeline, six tools")
    st.markdown("The course's DIY task: **data → model → training → Grad-CAM → logging → export**. Press *Run* and "
                "each stage's result appears here as soon as it finishes; the timeline shows how long each took.")
    chosen = pipeline_settings()
    if chosen is not None and st.button("Run the pipeline", type="primary", key="eco_run"):
        settings, dataset = chosen
        try:
            run = pipeline.Pipeline(settings, dataset)
        except CNNLabError as err:
            st.error(str(err))
        else:
            st.session_state["eco_pipeline"] = run
            ui.start_job("eco_job", "pipeline", run.run, instance=uuid.uuid4().hex)  # this session's own run
    run = st.session_state.get("eco_pipeline")
    if run is None:
        st.markdown("Stages: " + " → ".join(f"{ICONS['waiting']} {name}" for name in pipeline.STAGES))
    else:
        ui.job_result("eco_job")  # progress, live ETA and Stop while it runs
        job = st.session_state.get("eco_job")
        st.fragment(run_every=1.0 if job is not None and job.alive else None)(pipeline_view)()
    if chosen is not None:
        settings = chosen[0]
        spec = settings.data_spec()
        layer = pipeline.cam_layer(settings.arch, settings.channels, settings.size)[0]
        ui.code_behind(lambda: recipes.pipeline_script(spec, settings.train_config(), layer, settings.cam_images,
                                                       settings.export), "eco_code")


def pipeline_settings() -> tuple[pipeline.PipelineSettings, object] | None:
    """The pipeline's settings from the widgets, and an uploaded zip's dataset (None for built-in data)."""
    stored = pipeline.cifar_stored()
    default = pipeline.PipelineSettings()
    d_col, m_col, t_col = st.columns(3)
    with d_col:
        name = st.selectbox("Data", DATASETS, index=0 if stored else 1, key="eco_ds")
        dataset, cap = None, 6000
        if name == "CIFAR-10":
            if stored:
                st.caption(f"CIFAR-10 found under {data_root()}.")
            elif downloads_allowed():
                st.caption(f"CIFAR-10 is not under {data_root()}: the data stage downloads it (170 MB) first.")
            else:
                st.warning(f"CIFAR-10 is not stored under {data_root()} and downloads are off here "
                           "(CNNLAB_OFFLINE=1). Choose synthetic shapes, digits or a zip.")
                return None
            cap = 50_000
        elif name == UPLOAD:
            uploaded = ui.imagefolder_upload("eco_zip")
            if uploaded is None:
                return None
            _, dataset, notes = uploaded
            for note in notes:
                st.caption(note)
            cap = len(dataset)
        elif name == "Digits (scikit-learn)":
            cap = 1797
        lo = min(20, cap)
        limit = st.number_input("Images to use", lo, cap, min(cap, default.limit), key=f"eco_n_{name}",
                                help="Split 80/20 into training and held-out validation images.")
    with m_col:
        arch = st.radio("Model", pipeline.MODELS, format_func=MODEL_LABELS.get, key="eco_arch")
        cam_images = st.slider("Held-out images for Grad-CAM", 1, 12, default.cam_images, key="eco_cam_n")
        wandb = st.checkbox("Log to wandb (offline mode: no account, no network)", default.wandb, key="eco_wandb")
        export = st.checkbox("Export to ONNX and TorchScript", default.export, key="eco_export")
    with t_col:
        epochs = st.slider("Epochs", 1, 20, default.epochs, key="eco_epochs")
        batch = st.select_slider("Batch size", [16, 32, 64, 128], default.batch_size, key="eco_bs")
        lr = st.select_slider("Learning rate (Adam, one-cycle)", [1e-4, 3e-4, 1e-3, 3e-3, 5e-3, 1e-2], default.lr,
                              format_func=lambda v: f"{v:g}", key="eco_lr")
        seed = st.number_input("Seed", 0, 10_000, 0, key="eco_seed")
    source = recipes.UPLOAD if name == UPLOAD else name
    settings = pipeline.PipelineSettings(source, int(limit), arch, epochs, batch, lr, int(seed), 0.2, cam_images,
                                         wandb, export, dataset.name.removeprefix("Uploaded ") if name == UPLOAD else "")
    try:
        settings.validate()
    except CNNLabError as err:
        st.error(str(err))
        return None
    return settings, dataset


def pipeline_view() -> None:
    run: pipeline.Pipeline = st.session_state["eco_pipeline"]
    s = run.settings
    st.caption(f"Run {run.id}: {MODEL_LABELS[s.arch].split(' (')[0]} on {s.zip_name or s.dataset}, "
               f"{s.limit} images, {s.epochs} epochs, batch {s.batch_size}, lr {s.lr:g}, seed {s.seed}.")
    timeline(run)
    for stage in run.stages.values():
        if stage.status in ("done", "stopped", "failed", "skipped") or (stage.name == "Training" and
                                                                         stage.status == "running"):
            with st.container(border=True):
                st.markdown(f"**{ICONS[stage.status]} {stage.name}** · {stage.seconds:.1f} s")
                if stage.message:
                    (st.error if stage.status == "failed" else st.info)(stage.message)
                if stage.output:
                    STAGE_VIEWS[stage.name](run, stage)


def timeline(run: pipeline.Pipeline) -> None:
    stages = list(run.stages.values())
    st.markdown(" → ".join(f"{ICONS[s.status]} {s.name}" + (f" ({s.seconds:.1f} s)" if s.seconds else "")
                           for s in stages))
    ran = [s for s in stages if s.seconds]
    if ran:
        fig = go.Figure(go.Bar(y=[s.name for s in ran], x=[s.seconds for s in ran], base=[s.started for s in ran],
                               orientation="h", text=[f"{s.seconds:.1f} s" for s in ran]))
        fig.update_layout(height=60 + 28 * len(ran), margin=dict(l=10, r=10, t=10, b=30),
                          xaxis=dict(title="seconds since the run started"), yaxis=dict(autorange="reversed"))
        st.plotly_chart(fig, width="stretch", key="eco_timeline")


def _data_view(run, stage) -> None:
    o = stage.output
    st.markdown(f"{o['name']}: **{o['train']}** training and **{o['val']}** held-out images of "
                f"{len(o['classes'])} classes, {o['channels']} channel(s), resized to {run.settings.size} px.")
    for note in o["notes"]:
        st.caption(note)
    st.image(o["samples"], width=56, caption=None)
    st.caption("Training images per class: " + ", ".join(f"{c} {n}" for c, n in zip(o["classes"], o["counts"])))


def _model_view(run, stage) -> None:
    o = stage.output
    st.markdown(f"{o['label'].split(' (')[0]}: **{o['params']:,}** parameters, input {o['input']}. "
                f"Grad-CAM will look at `{o['cam_layer']}` ({' x '.join(map(str, o['cam_shape']))}).")


def _training_view(run, stage) -> None:
    o = stage.output
    if "history" not in o:
        return  # still training: the progress bar above has the live numbers
    h = o["history"]
    if h["val_acc"]:
        fig = go.Figure([go.Scatter(y=h["val_acc"], x=list(range(1, len(h["val_acc"]) + 1)), name="validation accuracy"),
                         go.Scatter(y=h["train_loss"], x=list(range(1, len(h["train_loss"]) + 1)), name="training loss",
                                    yaxis="y2")])
        fig.update_layout(height=260, margin=dict(l=10, r=10, t=30, b=10), xaxis=dict(title="epoch", dtick=1),
                          yaxis=dict(title="validation accuracy", range=[0, 1], tickformat=".0%"),
                          yaxis2=dict(title="training loss", overlaying="y", side="right"), legend=dict(x=0.01, y=0.99))
        st.plotly_chart(fig, width="stretch", key="eco_curves")
    st.markdown(f"{o['message']} Final validation accuracy **{o['val_acc']:.1%}** after {o['epochs']} epoch(s), "
                f"{o['images_per_second']:,.0f} training images/s.")


def _gradcam_view(run, stage) -> None:
    o = stage.output
    items = o["items"]
    st.image([i["overlay"] for i in items], width=112,
             caption=[f"{i['pred']} (true: {i['true']}), peak {i['peak'][0]},{i['peak'][1]}" for i in items])
    st.caption(f"Grad-CAM of the predicted class at `{o['layer']}`, overlaid with "
               "`cv2.addWeighted(image, 0.6, heatmap, 0.4, 0)` as in the course's kit.")


def _logging_view(run, stage) -> None:
    o = stage.output
    st.markdown(f"TensorBoard: `{o['tensorboard']}` · open with `tensorboard --logdir {o['tensorboard']}`.")
    if "wandb" in o:
        st.markdown(f"wandb (offline run): `{o['wandb']}` · upload it to your account later with `{o['sync']}`.")
    else:
        st.caption("wandb logging was switched off for this run.")


def _export_view(run, stage) -> None:
    o = stage.output
    st.markdown(f"ONNX file {len(o['onnx']) / 1024:,.0f} KB, checked in ONNX Runtime: largest difference from "
                f"PyTorch **{o['onnx_max_diff']:.1e}**. TorchScript file {len(o['torchscript']) / 1024:,.0f} KB.")
    a, b = st.columns(2)
    a.download_button("model.onnx", o["onnx"], "model.onnx", key="eco_onnx", on_click="ignore")
    b.download_button("model_torchscript.pt", o["torchscript"], "model_torchscript.pt", key="eco_ts",
                      on_click="ignore")


STAGE_VIEWS = {"Data": _data_view, "Model": _model_view, "Training": _training_view, "Grad-CAM": _gradcam_view,
               "Logging": _logging_view, "Export": _export_view}


# ---------------------------------------------------------------- 2a. transforms v2
@st.fragment
def transforms_lab(pixels) -> None:
    st.subheader("torchvision.transforms.v2, step by step")
    st.markdown("A transform pipeline turns one photo into the many variants a network trains on. Switch steps on "
                "and off; each output below feeds the next.")
    a, b, c, d = st.columns(4)
    resize = a.number_input("Resize: shorter side (px, 0 = off)", 0, 512, 160, key="eco_resize")
    crop = a.number_input("RandomCrop (px, 0 = off)", 0, 512, 0, key="eco_crop")
    rrc = b.number_input("RandomResizedCrop (px, 0 = off)", 0, 512, 128, key="eco_rrc")
    scale = b.slider("…its smallest area share", 0.05, 1.0, 0.5, 0.05, key="eco_scale")
    hflip = c.slider("Horizontal flip p", 0.0, 1.0, 0.5, 0.1, key="eco_hflip")
    vflip = c.slider("Vertical flip p", 0.0, 1.0, 0.0, 0.1, key="eco_vflip")
    jitter = c.slider("ColorJitter strength", 0.0, 1.0, 0.3, 0.05, key="eco_jitter")
    hue = d.slider("ColorJitter hue", 0.0, 0.5, 0.05, 0.01, key="eco_hue")
    rotation = d.slider("RandomRotation (degrees)", 0, 180, 15, key="eco_rot")
    erasing = d.slider("RandomErasing p", 0.0, 1.0, 0.5, 0.1, key="eco_erase")
    normalize = a.checkbox("Normalize (ImageNet mean, std)", True, key="eco_norm")
    seed = b.number_input("Seed", 0, 10_000, 0, key="eco_tseed")
    s = transforms.TransformSettings(int(resize), int(crop), int(rrc), scale, hflip, vflip, jitter, hue,
                                     float(rotation), erasing, normalize, int(seed))
    st.code(transforms.compose_line(s), language="python")
    try:
        steps, grid = cache.transform_views(pixels, s)
    except CNNLabError as err:
        st.error(str(err))
        return
    st.image([pic for _, _, pic, _ in steps], width=128,
             caption=[f"{name}: {' x '.join(map(str, shape))}" for name, _, pic, shape in steps])
    if s.normalize:
        st.caption("After Normalize the values are centred on 0 (roughly -2 to 2), so that picture is rescaled "
                   "to be visible.")
    st.image(grid, width=112)
    st.caption(f"Eight draws of the whole pipeline from seed {s.seed}: what the network sees of this photo in "
               "eight epochs.")


# ---------------------------------------------------------------- 2b. TorchLens
@st.fragment
def tracing_lab(pixels) -> None:
    st.subheader("Every operation, traced with TorchLens")
    key = st.selectbox("Model to trace", TRACE_MODELS, key="eco_trace_model",
                       format_func=lambda k: {"simplecnn_shapes": "SimpleCNN (shipped)", "shapesnet": "ShapesNet "
                                              "(shipped)", "resnet18": "ResNet-18 (torchvision)"}[k])
    try:
        t = cache.layer_trace(key, pixels)
    except CNNLabError as err:
        st.error(str(err))
        return
    missed = t.missed_by_hooks
    st.markdown(f"TorchLens recorded **{len(t.compute_ops)} operations** in {t.model}'s forward pass. Forward hooks on "
                f"its modules would see {len(t.compute_ops) - len(missed)} of them; the other **{len(missed)}** are "
                f"functional calls inside `forward` that no hook sees: "
                f"{', '.join(sorted({op.func for op in missed})) or 'none'}.")
    table = pd.DataFrame([{"operation": op.label, "function": op.func, "output shape": " x ".join(map(str, op.shape)),
                           "module": op.module or "(forward itself)", "seen by module hooks": op.hook_visible}
                          for op in t.compute_ops])
    st.dataframe(table, hide_index=True, width="stretch", height=min(400, 36 + 35 * len(table)))
    maps = [op for op in t.compute_ops if op.thumbnail is not None]
    st.image([op.thumbnail for op in maps], caption=[op.label for op in maps], width=tracing.THUMB_PX)
    st.caption("Each 2D output's mean over channels. Orange nodes in the graph are the ones hooks miss.")
    st.graphviz_chart(tracing.graph_dot(t), width="content")  # boxes at their natural size


main()
