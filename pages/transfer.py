"""Transfer Learning (course section 7): feature extraction vs fine-tuning vs from scratch, measured."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import cache, recipes, trainplots, transfer, ui
from core.errors import CNNLabError
from core.features import strongest_channels
from core.imagefolder import ACCEPTED_ZIP, MAX_ZIP_BYTES
from core.models import REGISTRY
from core.viz import channel_grid

INTRO = """
A network trained on one task has already learned edges, textures and parts. **Transfer learning**
starts a new task from those features instead of from random weights. Three ways to do it, compared
here on the same few training images and the same test set: keep the backbone **frozen** and train
only a new head on its features; **fine-tune** the last stages too, at a lower learning rate than the
head; or train the same architecture **from scratch**. Then let the page suggest which backbone
suits your data, from a quick linear probe of each.
"""
REGISTRY_BACKBONES = ("shapesnet", "simplecnn_shapes", "resnet18", "mobilenet_v3_small")
UPLOAD = "Upload an ImageFolder zip"
TARGETS = ("New shapes (hexagon, heart, arrow)", "Textures (stripes, checkerboard, dots, blotches)",
           "Digits (scikit-learn)", UPLOAD)
SESSION_ARCHS = ("simplecnn", "vgg", "resnet")
LRS = [3e-4, 1e-3, 3e-3, 1e-2]
FACTORS = [0.01, 0.1, 0.3, 1.0]


def main() -> None:
    ui.route_through_home()
    st.title("Transfer Learning")
    st.markdown(INTRO)
    left, right = st.columns(2)
    with left:
        backbone = backbone_picker()
    with right:
        task, pool = target_picker(backbone)
    if backbone is None or task is None:
        st.divider()
        ui.quiz("transfer")
        return
    head, budget, per_class = settings(backbone)
    st.divider()
    strategies_panel(backbone, task, head, budget, per_class)
    st.divider()
    suggest_panel(task, pool)
    st.divider()
    ui.quiz("transfer")


# ---------------------------------------------------------------- inputs
def _session_backbones() -> dict[str, transfer.Backbone]:
    """Models trained on the Training Monitor in this session (small architectures, finished runs)."""
    out = {}
    for run in st.session_state.get("tr_runs", []):
        t = run.trainer
        if not run.alive and t.pos.epoch >= 1 and t.cfg.arch in SESSION_ARCHS:
            out[f"run-{run.id}"] = transfer.backbone_from_model(
                f"run-{run.id}", f"Training page run {run.name.split()[0]} ({t.cfg.arch}, {run.dataset})", t.model,
                input_size=int(t.train.x.shape[-1]), in_channels=int(t.train.x.shape[1]),
                mean=t.mean.flatten().tolist(), std=t.std.flatten().tolist(), trained=True,
                source="trained on the Training Monitor in this session")
    return out


def _load(key: str, session: dict[str, transfer.Backbone]) -> transfer.Backbone | None:
    if key in session:
        return session[key]
    try:
        return cache.transfer_backbone(key)
    except CNNLabError as err:
        st.error(str(err))
        return None


def backbone_picker() -> transfer.Backbone | None:
    session = _session_backbones()
    keys = list(REGISTRY_BACKBONES) + list(session)
    labels = {k: REGISTRY[k].label for k in REGISTRY_BACKBONES} | {k: b.label for k, b in session.items()}
    key = st.selectbox("Backbone", keys, key="tl_backbone", format_func=labels.get,
                       index=keys.index(ui.query_choice("backbone", keys, "shapesnet")))
    st.query_params["backbone"] = key
    backbone = _load(key, session)
    if backbone is None:
        return None
    if backbone.notice:
        st.warning(backbone.notice + " Transfer from random weights shows what *not* having a pretrained "
                   "backbone costs.")
    params = backbone.stage_params()
    st.caption(f"Weights: {backbone.source}. Stages: {', '.join(backbone.stages)}; {sum(params.values()):,} "
               f"backbone params; input {backbone.input_size}x{backbone.input_size}, {backbone.in_channels} channel(s)."
               + ("" if session else " Models you train on the Training Monitor appear here too."))
    return backbone


def target_picker(backbone: transfer.Backbone | None):
    """The target task on the backbone's input, and its raw training pool (for the probes); or Nones."""
    target = st.selectbox("Target task", TARGETS, key="tl_target",
                          index=TARGETS.index(ui.query_choice("target", TARGETS, TARGETS[0])))
    st.query_params["target"] = target
    if target == UPLOAD:
        upload = st.file_uploader("ImageFolder zip: one folder per class", key="tl_zip", help=ACCEPTED_ZIP,
                                  max_upload_size=MAX_ZIP_BYTES // 2**20)
        if upload is None:
            st.info(ACCEPTED_ZIP)
            return None, None
        try:
            source, ds, notes = cache.uploaded_dataset(upload.getvalue(), upload.name)
            pool, test = transfer.holdout(ds, 0.25, seed=0)
        except CNNLabError as err:
            st.error(str(err))
            return None, None
        for note in notes:
            st.caption(note)
    else:
        source = target
        pool, test = cache.transfer_data(target)
    if backbone is None:
        return None, None
    try:
        task = cache.transfer_task(backbone.key, source, _backbone=backbone, _pool=pool, _test=test,
                                   name=upload.name if target == UPLOAD else target)
    except CNNLabError as err:
        st.error(str(err))
        return None, None
    counts = pd.Series(task.pool.y.numpy()).value_counts()
    st.caption(f"{len(task.class_names)} classes ({', '.join(task.class_names[:8])}); a pool of {len(task.pool)} "
               f"images to draw training shots from, {len(task.test)} test images. Smallest class: "
               f"{counts.min()} images.")
    return task, pool


def settings(backbone: transfer.Backbone):
    st.subheader("Strategies, head and budget")
    stages = backbone.stages
    f_col, h_col, b_col = st.columns(3)
    with f_col:
        n = ui.data_slider("Fine-tuning unfreezes the last N stages", 1, len(stages),
                           ui.query_number("unfreeze", 1, len(stages), 1), f"tl_unfreeze_{backbone.key}")
        factor = st.select_slider("Backbone LR = head LR x", FACTORS, key="tl_factor",
                                  value=float(ui.query_choice("factor", [f"{f:g}" for f in FACTORS], "0.1")),
                                  help="Discriminative learning rates: pretrained stages move more gently.")
        params = backbone.stage_params()
        rows = [{"stage": s, "params": params[s],
                 "feature extractor": "frozen", "fine-tune": "trains" if i >= len(stages) - n else "frozen",
                 "from scratch": "trains (random init)"} for i, s in enumerate(stages)]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    with h_col:
        hidden = st.slider("Head: hidden layers", 0, 2, ui.query_number("hidden", 0, 2, 0), key="tl_hidden")
        width = st.select_slider("Head: width", [32, 64, 128, 256, 512], key="tl_width", disabled=hidden == 0,
                                 value=int(ui.query_choice("width", ["32", "64", "128", "256", "512"], "128")))
        dropout = st.slider("Head: dropout", 0.0, 0.8, ui.query_number("hdrop", 0.0, 0.8, 0.0), 0.1, key="tl_dropout")
        activation = st.selectbox("Head: activation", list(transfer.ACTIVATIONS), key="tl_act", disabled=hidden == 0,
                                  index=list(transfer.ACTIVATIONS).index(
                                      ui.query_choice("act", list(transfer.ACTIVATIONS), "ReLU")))
        head = transfer.HeadSpec(hidden, width, dropout, activation)
    with b_col:
        per_class = st.select_slider("Training images per class", transfer.SHOTS, key="tl_shots",
                                     value=int(ui.query_choice("shots", [str(k) for k in transfer.SHOTS], "10")))
        lr = st.select_slider("Head learning rate", LRS, format_func=lambda v: f"{v:g}", key="tl_lr",
                              value=float(ui.query_choice("lr", [f"{v:g}" for v in LRS], "0.003")))
        steps = st.slider("Optimizer steps per run", 20, 200, ui.query_number("steps", 20, 200, 60), 10, key="tl_steps")
        seed = st.number_input("Seed", 0, 10_000, ui.query_number("seed", 0, 10_000, 0), key="tl_seed")
    budget = transfer.Budget(steps=steps, lr=lr, backbone_factor=factor, trainable_stages=n, seed=int(seed))
    st.query_params.update(unfreeze=str(n), factor=f"{factor:g}", hidden=str(hidden), width=str(width),
                           hdrop=f"{dropout:g}", act=activation, shots=str(per_class), lr=f"{lr:g}", steps=str(steps),
                           seed=str(seed))
    counts = {s: transfer.param_counts(transfer.TransferNet(backbone, 3, head, t))
              for s, t in (("feature extractor", 0), ("fine-tune", n), ("from scratch", len(stages)))}
    first = next(iter(counts.values()))
    st.caption(f"Head: {first['head']:,} params (for 3 classes) next to the backbone's {first['backbone']:,}. "
               "Trainable: " + ", ".join(f"{s} {c['trainable']:,}" for s, c in counts.items()) + ".")
    return head, budget, per_class


# ---------------------------------------------------------------- runs
def strategies_panel(backbone, task, head, budget, per_class) -> None:
    st.subheader("Feature extractor vs fine-tuning vs from scratch")
    one, curve = st.columns(2)
    single = {"backbone": backbone, "task": task, "shots": (per_class,), "head": head, "budget": budget}
    few_shot = single | {"shots": tuple(transfer.SHOTS)}
    if ui.job_button(f"Compare the three at {per_class} per class", "transfer", single, key="tl_run", where=one,
                     type="primary"):
        ui.start_job("tl_job", "transfer", **single)
    if ui.job_button(f"Few-shot curve: {', '.join(map(str, transfer.SHOTS))} per class", "transfer", few_shot,
                     key="tl_curve", where=curve):
        ui.start_job("tl_job", "transfer", **few_shot)
    code_behind(backbone, task, head, budget, per_class)
    results = ui.job_result("tl_job")
    if results is None:
        st.caption("Each run trains for the same number of optimizer steps and is scored on the same test images.")
        return
    if not results:
        return
    ran = st.session_state["tl_job"].settings  # what the shown results were computed for
    j_backbone, j_task, j_head = ran["backbone"], ran["task"], ran["head"]
    if j_backbone.key != backbone.key or j_task.name != task.name:
        st.caption(f"Results below are for {j_backbone.label} on {j_task.name}, the last comparison run.")
    largest = max(results)
    if len(ran["shots"]) > 1:
        few_shot_figure(results, len(j_task.class_names))
    outcomes = results[largest]
    table = pd.DataFrame([{"strategy": s, "test accuracy": o.test_acc, "train accuracy": o.train_acc,
                           "trainable params": o.params["trainable"], "seconds": o.seconds,
                           "s per epoch": o.seconds_per_epoch} for s, o in outcomes.items()])
    st.markdown(f"**{largest} training images per class**, test set of {len(j_task.test)} images:")
    st.dataframe(table, hide_index=True, column_config={c: st.column_config.NumberColumn(format="%.3f")
                                                        for c in ("test accuracy", "train accuracy", "seconds",
                                                                  "s per epoch")})
    st.plotly_chart(trainplots.compare({s: o.history for s, o in outcomes.items()}), width="stretch",
                    key="tl_curves")
    caveats(outcomes)
    if "fine-tune" in outcomes and outcomes["fine-tune"].model is not None:
        before_after(j_backbone, j_task, j_head, outcomes["fine-tune"])


def code_behind(backbone, task, head, budget, per_class) -> None:
    if backbone.key not in REGISTRY:
        st.caption("The code behind this view is offered for the registry backbones; a model trained on the "
                   "Training Monitor lives only in this session.")
        return
    strategy = st.selectbox("Strategy for the code behind this view", transfer.STRATEGIES, key="tl_code_strategy")
    target = st.session_state.get("tl_target", TARGETS[0])
    view = recipes.TransferView(backbone.key, recipes.UPLOAD if target == UPLOAD else target, strategy, per_class,
                                head, budget, backbone.input_size, task.name if target == UPLOAD else "")
    ui.code_behind(lambda: recipes.transfer_script(view), "tl_code")


def few_shot_figure(results, n_classes: int) -> None:
    fig = go.Figure()
    for strategy in transfer.STRATEGIES:
        ks = [k for k in results if strategy in results[k]]
        fig.add_trace(go.Scatter(x=ks, y=[results[k][strategy].test_acc for k in ks], name=strategy,
                                 mode="lines+markers"))
    fig.add_hline(y=1 / n_classes, line=dict(dash="dot", color="grey"), annotation_text="chance")
    fig.update_layout(title="Test accuracy vs training images per class", height=360,
                      xaxis=dict(title="images per class", type="log", tickvals=list(transfer.SHOTS)),
                      yaxis=dict(title="test accuracy", range=[0, 1.02], tickformat=".0%"))
    st.plotly_chart(fig, width="stretch", key="tl_fewshot")


def caveats(outcomes) -> None:
    for s, o in outcomes.items():
        if o.train_acc - o.test_acc > 0.2:
            st.warning(f"**{s}** is overfitting: {o.train_acc:.0%} on its training images but {o.test_acc:.0%} on "
                       "the test set. More images per class, head dropout or fewer trainable stages would help.")


def before_after(backbone, task, head, tuned) -> None:
    st.subheader("Before and after fine-tuning")
    i = st.number_input("Test image", 0, len(task.test) - 1, 0, key="tl_image")
    original = transfer.TransferNet(backbone, len(task.class_names), head, 0)
    pair = transfer.feature_map_pair(original, tuned.model, task.test.x[int(i)], backbone)
    a, b, c = st.columns([1, 2, 2])
    a.image(trainplots.thumbnails(task.test, [int(i)], px=128)[0], caption=task.class_names[int(task.test.y[i])])
    top = strongest_channels(pair[0], min(8, pair[0].shape[0]))
    b.image(channel_grid(pair[0], top, tile_px=64), caption=f"Last stage ({backbone.stages[-1]}) before: the "
            "8 strongest channels", width="stretch")
    c.image(channel_grid(pair[1], top, tile_px=64), caption="The same channels after fine-tuning", width="stretch")
    if st.checkbox("Show the embeddings (PCA) before and after", key="tl_pca"):
        figs = transfer.pca_pair(original, tuned.model, task, backbone)
        cols = st.columns(2)
        for col, (title, xy) in zip(cols, figs.items()):
            fig = go.Figure([go.Scatter(x=xy[task.test.y.numpy() == k, 0], y=xy[task.test.y.numpy() == k, 1],
                                        mode="markers", name=name) for k, name in enumerate(task.class_names)])
            fig.update_layout(title=title, height=340, margin=dict(t=40, b=20, l=20, r=10))
            col.plotly_chart(fig, width="stretch", key=f"tl_pca_{title}")
    st.download_button("Download the fine-tuned model (.pt state dict)",
                       lambda: transfer.export_bytes(tuned, backbone, task.class_names, head),
                       f"cnnlab-finetuned-{backbone.key}.pt", "application/octet-stream", key="tl_export",
                       on_click="ignore")


def suggest_panel(task, pool) -> None:
    st.subheader("Which backbone? A linear probe of each")
    st.markdown("A **linear probe** freezes a backbone, embeds 200 of your images and fits a logistic regression "
                "on the embeddings. High probe accuracy means the backbone's features already separate your "
                "classes, so transfer will work well and cheaply.")
    session = _session_backbones()
    candidates = list(REGISTRY_BACKBONES) + list(session)
    if st.button("Probe every trained backbone", key="tl_probe"):
        chosen = []
        for k in candidates:
            b = _load(k, session)
            if b is not None and b.trained:
                chosen.append(b)
        skipped = [k for k in candidates if k not in {b.key for b in chosen}]
        if skipped:
            st.caption("Skipped (no trained weights here): " + ", ".join(skipped) + ".")
        ui.start_job("tl_probe_job", "probe", backbones=chosen, pool=pool)
        st.session_state["tl_probe_on"] = (task.name, len(task.class_names))
    probes = ui.job_result("tl_probe_job")
    if not probes:
        return
    name, n_classes = st.session_state["tl_probe_on"]
    st.dataframe(pd.DataFrame([{"backbone": p.label, "probe accuracy": p.accuracy, "seconds": p.seconds,
                                "params": p.params} for p in probes]), hide_index=True,
                 column_config={"probe accuracy": st.column_config.NumberColumn(format="%.3f"),
                                "seconds": st.column_config.NumberColumn(format="%.2f")})
    st.markdown(f"On {name}: " + transfer.recommend(probes, n_classes))
    best = probes[0]
    if best.accuracy < 1 / n_classes + 0.15:
        st.warning("Domain shift: even the best probe is near chance. Features learned on the backbones' data "
                   "do not describe these images well.")


main()
