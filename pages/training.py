"""Training Monitor (course sections 5 and 11): train a real CNN live, watch it learn, read the curves."""
from __future__ import annotations

from dataclasses import asdict

import pandas as pd
import streamlit as st

from core import cache, checkpoints, recipes, trainplots, ui
from core.augment import preview
from core.data import TORCHVISION_DATASETS
from core.diagnosis import diagnose
from core.errors import CNNLabError
from core.nets import ARCHS, build_net
from core.executor import waiting_text
from core.runs import TrainingRun, runs_root, wandb_ready
from core.training import OPTIMIZERS, SCHEDULES, TrainConfig, Trainer, sample_images, split_counts
from core.viz import filter_grid, tile

INTRO = """
Training is where a random network becomes a useful one: a batch goes forward, the **cross-entropy
loss** says how wrong the predictions were, `loss.backward()` computes every weight's gradient, and
the **optimizer** takes a step. Repeat for every batch, and call one pass over the data an **epoch**.
Here that loop runs for real, on this server's CPU, in the background: pick the data, the network
and the settings, press *Start*, and watch the curves, the first-layer filters and the mistakes
change while it learns. Then compare runs to see what each setting does.
"""
UPLOAD = "Upload an ImageFolder zip"
DATASETS = ["Synthetic shapes", "Digits (scikit-learn)", *TORCHVISION_DATASETS, UPLOAD]
MAX_IMAGES = {"Synthetic shapes": 8000, "Digits (scikit-learn)": 1797}
DEFAULT_IMAGES = {"Synthetic shapes": 6000, "Digits (scikit-learn)": 1797}
LRS = [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 5e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0]
DECAYS = [0.0, 1e-5, 1e-4, 5e-4, 1e-3, 1e-2, 0.1]
BATCHES = [8, 16, 32, 64, 128, 256, 512]
MAX_RUNS = 6  # per session; older finished runs are dropped to keep memory bounded


def _runs() -> list[TrainingRun]:
    return st.session_state.setdefault("tr_runs", [])


def main() -> None:
    ui.route_through_home()
    st.title("Training Monitor")
    st.markdown(INTRO)
    setup = setup_panel()
    runs = _runs()
    if runs:
        st.divider()
        names = [r.id for r in runs]
        chosen = st.selectbox("Run to show", names[::-1], key="tr_show",
                              format_func=lambda i: next(r.name for r in runs if r.id == i))
        run = next(r for r in runs if r.id == chosen)
        st.subheader("2. Live view")
        # Two refresh rates: the cheap progress line twice a second, the charts every two seconds.
        st.fragment(run_every=0.5 if run.alive else None)(live_status)(run.id)
        if run.alive or run.trainer.pos.epoch == 0:
            st.fragment(run_every=2.0 if run.alive else None)(live_charts)(run.id)
        else:
            timeline(run)
        if not run.alive and (run.trainer.pos.epoch >= 1 or run.trainer.status == "diverged"):
            diagnosis_and_artefacts(run)
    if runs or st.session_state.get("tr_loaded"):
        compare_runs()
    if setup is not None:
        st.divider()
        load_checkpoint(setup)
    st.divider()
    ui.quiz("training")


# ---------------------------------------------------------------- setup
def setup_panel():
    """Widgets for data, model and optimisation; the Start button. Returns (split, cfg) or None."""
    st.subheader("1. Set up a run")
    data_col, model_col, opt_col = st.columns(3)
    with data_col:
        prepared = data_choice()
    with model_col:
        arch = st.selectbox("Network", list(ARCHS), format_func=lambda k: ARCHS[k].label, key="tr_arch",
                            index=list(ARCHS).index(ui.query_choice("arch", list(ARCHS), "simplecnn")))
        spec = ARCHS[arch]
        st.caption(spec.about)
        width = st.select_slider("Width (first stage's channels)", [8, 16, 32, 64], key="tr_width",
                                 value=int(ui.query_choice("width", ["8", "16", "32", "64"], "16")),
                                 disabled=not spec.knobs)
        depth = st.slider("Depth (stages for VGG, blocks per stage for ResNet)", 1, 4, key="tr_depth",
                          value=ui.query_number("depth", 1, 4, 2), disabled=not spec.knobs)
        dropout = st.slider("Dropout before the classifier", 0.0, 0.9, ui.query_number("drop", 0.0, 0.9, 0.0),
                            0.05, key="tr_drop")
        size = st.select_slider("Input size", spec.sizes, key=f"tr_size_{arch}", disabled=len(spec.sizes) == 1,
                                value=int(ui.query_choice("size", [str(s) for s in spec.sizes], str(spec.sizes[0]))))
    with opt_col:
        cfg_opt = optimisation_widgets()
    aug = augmentation_widgets()
    cfg = TrainConfig(arch=arch, width=width, depth=depth, dropout=dropout, **cfg_opt, **aug)
    st.query_params.update(arch=arch, width=str(width), depth=str(depth), drop=f"{dropout:g}", size=str(size),
                           **{k: str(v) for k, v in _opt_params(cfg).items()})
    if prepared is None:
        return None
    source, ds, limit, val_fraction, notes = prepared
    try:
        n_train, n_val, split_notes = split_counts(ds, val_fraction=val_fraction, limit=limit, seed=cfg.seed)
    except CNNLabError as err:
        st.error(str(err))
        return None

    def split():
        """The resized split, made when a run starts or a checkpoint is evaluated: opening the page
        only describes it, so it costs no memory (74 MB for the default 6,000 shapes at 32 px)."""
        return cache.training_split(source, limit, size, val_fraction, cfg.seed, _ds=ds)[:4]

    for note in notes + split_notes:
        st.caption(note)
    st.caption(f"{ds.name}: {n_train} training and {n_val} validation images of {len(ds.class_names)} "
               f"classes ({', '.join(ds.class_names[:10])}{', ...' if len(ds.class_names) > 10 else ''}), "
               f"resized to {size}x{size}.")
    if cfg.augment().active:
        with st.expander("Augmentation preview: each row is one image of the chosen subset, first the original",
                         expanded=True):
            images = sample_images(ds, 6, size=size, limit=limit, seed=cfg.seed)
            views = preview(images, cfg.augment(), views=6, seed=cfg.seed)
            st.image(tile(trainplots.batch_thumbnails(views.flatten(0, 1)), cols=6), width=480)
    if cfg.batch_size > n_train:
        st.warning(f"The batch size ({cfg.batch_size}) is larger than the {n_train} training images, so each "
                   f"epoch is a single batch of {n_train}. Choose a smaller batch size for more steps per epoch.")
    log_col, wb_col = st.columns(2)
    tensorboard = log_col.checkbox("Write TensorBoard logs", True, key="tr_tb")
    wandb = wb_col.checkbox("Log to Weights & Biases", False, key="tr_wandb", disabled=not wandb_ready(),
                            help="Needs the wandb package and WANDB_API_KEY (or WANDB_MODE=offline) on the server.")
    # What determines the run besides its config: identical runs are trained once, for every session.
    key = {"data": {"source": source, "limit": limit, "val": val_fraction, "size": size,
                    "channels": int(ds.images.shape[3]), "classes": len(ds.class_names)},
           "tensorboard": tensorboard, "wandb": wandb}
    if ui.job_button("Start training", "training", {"cfg": asdict(cfg), **key}, key="tr_start",
                     type="primary"):
        spec = recipes.DataSpec(recipes.UPLOAD if source.startswith("zip:") else source, limit, size, val_fraction,
                                cfg.seed, ds.name.removeprefix("Uploaded ") if source.startswith("zip:") else "")
        start_run(cfg, split(), ds, key, spec)
    return split, ds


def data_choice():
    """Dataset, subset size and validation share -> (source key, dataset, limit, val fraction, notes)."""
    name = st.selectbox("Dataset", DATASETS, key="tr_ds",
                        index=DATASETS.index(ui.query_choice("ds", DATASETS, DATASETS[0])))
    st.query_params["ds"] = name
    val_pct = st.slider("Validation share (%)", 10, 50, ui.query_number("val", 10, 50, 20), 5, key="tr_val")
    st.query_params["val"] = str(val_pct)
    notes: list[str] = []
    if name == UPLOAD:
        uploaded = ui.imagefolder_upload("tr_zip")
        if uploaded is None:
            return None
        source, ds, notes = uploaded
        cap = len(ds)
    else:
        cap = MAX_IMAGES.get(name, 20000)
        source, ds = name, None
    default = min(cap, DEFAULT_IMAGES.get(name, 6000))
    lo = min(50, cap)
    # A link cannot carry an upload, so its `n` is not applied to one; each zip gets its own widget.
    linked = default if name == UPLOAD else ui.query_number("n", lo, cap, default)
    limit = st.number_input("Images to use (a subset makes quick runs)", lo, cap, linked, 50 if cap >= 500 else 1,
                            key=f"tr_n_{source}")
    st.query_params["n"] = str(limit)
    if ds is None:
        try:
            ds = cache.training_dataset(name, int(limit))
        except CNNLabError as err:
            st.warning(str(err))
            return None
    return source, ds, int(limit), val_pct / 100, notes


def optimisation_widgets() -> dict:
    opts, scheds = list(OPTIMIZERS), list(SCHEDULES)
    lr_names = [f"{v:g}" for v in LRS]
    wd_names = [f"{v:g}" for v in DECAYS]
    optimizer = st.selectbox("Optimizer", opts, format_func=OPTIMIZERS.get, key="tr_opt",
                             index=opts.index(ui.query_choice("opt", opts, "adam")))
    lr = st.select_slider("Learning rate", LRS, format_func=lambda v: f"{v:g}", key="tr_lr",
                          value=float(ui.query_choice("lr", lr_names, "0.005")))
    wd = st.select_slider("Weight decay (L2)", DECAYS, format_func=lambda v: f"{v:g}", key="tr_wd",
                          value=float(ui.query_choice("wd", wd_names, "0")))
    batch = st.select_slider("Batch size", BATCHES, key="tr_bs",
                             value=int(ui.query_choice("bs", [str(b) for b in BATCHES], "32")))
    schedule = st.selectbox("LR schedule", scheds, format_func=SCHEDULES.get, key="tr_sched",
                            index=scheds.index(ui.query_choice("sched", scheds, "onecycle")))
    epochs = st.slider("Epochs", 1, 50, ui.query_number("epochs", 1, 50, 10), key="tr_epochs")
    patience = st.slider("Early stopping patience (0 = off)", 0, 10, ui.query_number("patience", 0, 10, 0),
                         key="tr_patience", help="Stop when the validation loss has not improved for this many epochs.")
    seed = st.number_input("Seed", 0, 10_000, ui.query_number("seed", 0, 10_000, 0), key="tr_seed")
    return dict(optimizer=optimizer, lr=lr, weight_decay=wd, batch_size=batch, schedule=schedule, epochs=epochs,
                patience=patience, seed=int(seed))


def augmentation_widgets() -> dict:
    st.markdown("**Augmentation** (training batches only)")
    crop_col, flip_col, jitter_col = st.columns(3)
    crop = crop_col.select_slider("Random crop: padding (px, 0 = off)", [0, 2, 4, 8], key="tr_crop",
                                  value=int(ui.query_choice("crop", ["0", "2", "4", "8"], "0")))
    flip = flip_col.checkbox("Random horizontal flip", ui.query_choice("flip", ["0", "1"], "1") == "1", key="tr_flip")
    jitter = jitter_col.slider("Colour jitter strength", 0.0, 0.5, ui.query_number("jitter", 0.0, 0.5, 0.0), 0.05,
                               key="tr_jitter")
    return dict(crop_padding=crop, flip=flip, jitter=jitter)


def _opt_params(cfg: TrainConfig) -> dict:
    return dict(opt=cfg.optimizer, lr=f"{cfg.lr:g}", wd=f"{cfg.weight_decay:g}", bs=cfg.batch_size,
                sched=cfg.schedule, epochs=cfg.epochs, patience=cfg.patience, seed=cfg.seed,
                crop=cfg.crop_padding, flip=int(cfg.flip), jitter=f"{cfg.jitter:g}")


def _run_name(n: int, cfg: TrainConfig) -> str:
    aug = cfg.augment().describe()
    return (f"#{n} {cfg.arch} · {cfg.optimizer} lr {cfg.lr:g} · bs {cfg.batch_size} · {cfg.schedule} · "
            f"dropout {cfg.dropout:g} · wd {cfg.weight_decay:g} · aug: {aug}")


def start_run(cfg: TrainConfig, split, ds, key: dict, spec: recipes.DataSpec) -> None:
    train, val, mean, std = split
    runs = _runs()
    try:
        model = build_net(cfg.arch, len(ds.class_names), train.x.shape[1], width=cfg.width, depth=cfg.depth,
                          dropout=cfg.dropout, seed=cfg.seed)
        trainer = Trainer(cfg, model, train, val, ds.class_names, mean, std)
    except CNNLabError as err:
        st.error(str(err))
        return
    number = max((int(r.name.split()[0][1:]) for r in runs), default=0) + 1
    run = TrainingRun(_run_name(number, cfg), trainer, ds.name, key=key, keep_going=ui.session_alive(),
                      tensorboard=key["tensorboard"], wandb=key["wandb"])
    run.start()
    same = next((r for r in runs if r.same_job(run)), None)
    if same is not None:  # this session already shows that very run
        same.start()  # watch again or resume, before this duplicate view lets go of it
        run.stop()
        st.session_state["tr_show"] = same.id
        return
    idle = [r for r in runs if not r.alive]
    if len(runs) >= MAX_RUNS and idle:
        runs.remove(idle[0])
        st.toast(f"Dropped the oldest run ({idle[0].name.split()[0]}): a session keeps {MAX_RUNS} runs.")
    runs.append(run)
    st.session_state.setdefault("tr_specs", {})[run.id] = spec  # for the code behind the run
    st.session_state["tr_show"] = run.id


# ---------------------------------------------------------------- live view (a fragment while training)
def _run(run_id: str) -> TrainingRun | None:
    return next((r for r in _runs() if r.id == run_id), None)


def live_status(run_id: str) -> None:
    run = _run(run_id)
    if run is None:
        return
    t = run.trainer
    seen_alive = st.session_state.setdefault("tr_alive", {})
    if seen_alive.get(run_id) and not run.alive:
        seen_alive[run_id] = False
        st.rerun()  # training just ended: redraw the whole page (timeline, diagnosis, artefacts)
    seen_alive[run_id] = run.alive
    st.caption(f"{run.name} · data: {run.dataset}")
    status_line(run)
    buttons = st.columns([1, 1, 6])
    if run.alive and buttons[0].button("Stop", key="tr_stop"):
        last = not run.watchers
        run.stop()
        if last:  # otherwise it goes on for the others
            run.join(timeout=5)
        st.rerun()
    resumable = (t.status == "stopped" and not run.error) or run.detached  # a lost Ray worker took its state along
    if resumable and not run.alive and buttons[1].button("Resume", key="tr_resume"):
        run.start()
        st.rerun()
    eta = t.eta_seconds()
    where = (f"all {t.cfg.epochs} epochs" if t.pos.epoch >= t.cfg.epochs else
             f"epoch {t.pos.epoch + 1} of {t.cfg.epochs} · batch {t.pos.batch} of {t.batches_per_epoch}")
    st.progress(min(1.0, t.batches_done / t.total_batches), text=f"{where.capitalize()} · "
                f"{t.images_per_second:,.0f} training images/s" + (f" · about {eta:.0f} s left" if run.alive and
                                                                   eta == eta else ""))
    snap = t.snapshots[-1]
    m = st.columns(4)
    m[0].metric("Last batch loss", f"{t.batch_losses[-1]:.3f}" if t.batch_losses else "-")
    m[1].metric(f"Validation accuracy (epoch {snap.epoch})", f"{snap.val_acc:.1%}")
    m[2].metric("Best validation accuracy", f"{max(s.val_acc for s in t.snapshots):.1%}")
    m[3].metric("Learning rate now", f"{t.lr:.2g}")


def live_charts(run_id: str) -> None:
    run = _run(run_id)
    if run is None:
        return
    st.plotly_chart(trainplots.curves(run.trainer), width="stretch", key="tr_curves_live")
    epoch_panels(run.trainer, run.trainer.snapshots[-1], "live")


def status_line(run: TrainingRun) -> None:
    t = run.trainer
    if run.error:
        st.error(run.error)
    elif run.queued:
        st.info(waiting_text(run.viewer))
    elif run.alive:
        st.info("Training in the background. You can keep using this page and the others meanwhile."
                + (f" {run.watchers} other session(s) started this same run and watch it too: it is trained once, "
                   "and Stop only stops it for you." if run.watchers else ""))
    elif run.detached:
        st.warning(f"You stopped watching; {run.watchers} other session(s) keep this run going. Resume to watch it "
                   "again.")
    elif t.status == "diverged":
        st.error(t.message)
    elif t.status == "stopped":
        st.warning(t.message)
    elif t.message:
        st.success(t.message)


def epoch_panels(t: Trainer, snap, where: str) -> None:
    """Filters, confusion matrix, per-class accuracy and predictions as they were at one snapshot."""
    f_col, c_col, p_col = st.columns([2, 3, 2])
    conv = snap.filters
    f_col.image(filter_grid(conv, tile_px=32, cols=8), width="stretch",
                caption=f"First-layer filters after epoch {snap.epoch} ({conv.shape[0]} of {conv.shape[2]}x"
                        f"{conv.shape[3]}): random noise at epoch 0, then edges and colour blobs.")
    c_col.plotly_chart(trainplots.confusion(snap, t.class_names), width="stretch", key=f"tr_conf_{where}")
    p_col.plotly_chart(trainplots.per_class_figure(snap, t.class_names), width="stretch",
                       key=f"tr_pc_{where}")
    s_col, w_col = st.columns(2)
    idx = t.sample_index.tolist()
    s_col.markdown(f"**Fixed sample images at epoch {snap.epoch}**")
    s_col.image(trainplots.thumbnails(t.val, idx), caption=trainplots.sample_captions(t, snap), width=88)
    w_col.markdown("**Worst mistakes** (wrong, most confident first)")
    if snap.worst:
        w_col.image(trainplots.thumbnails(t.val, [i for i, _, _ in snap.worst]), width=88,
                    caption=[f"{t.class_names[p]} {prob:.0%} (true: {t.class_names[int(t.val.y[i])]})"
                             for i, p, prob in snap.worst])
    else:
        w_col.caption("No mistakes on the validation images.")


# ---------------------------------------------------------------- afterwards
def timeline(run: TrainingRun) -> None:
    t = run.trainer
    st.subheader("3. Timeline")
    last = len(t.snapshots) - 1
    epoch = st.slider("Epoch (0 = before training)", 0, last, last, key=f"tr_timeline_{run.id}")
    st.plotly_chart(trainplots.curves(t, upto=epoch), width="stretch", key=f"tr_tl_curves_{run.id}")
    epoch_panels(t, t.snapshots[epoch], "timeline")


def diagnosis_and_artefacts(run: TrainingRun) -> None:
    t = run.trainer
    st.subheader("4. Diagnosis")
    trained = t.snapshots[1:]
    d = diagnose([s.train_loss for s in trained], [s.val_loss for s in trained], [s.train_acc for s in trained],
                 [s.val_acc for s in trained], len(t.class_names), diverged=t.status == "diverged")
    st.markdown(f"**{d.verdict.capitalize()}.** {d.summary}")
    st.markdown("What to try: " + " ".join(d.suggestions))
    st.subheader("5. Artefacts")
    a_col, b_col = st.columns(2)
    a_col.download_button("Download the checkpoint (.pt, state dict + config)",
                          lambda: checkpoints.checkpoint_bytes(t, run.dataset), f"cnnlab-{t.cfg.arch}-{run.id}.pt",
                          "application/octet-stream", key=f"tr_ckpt_{run.id}", on_click="ignore")
    a_col.caption("Load it back below, or in Python: `torch.load(path, weights_only=True)['state_dict']`.")
    if run.log_dir is not None:
        b_col.markdown(f"TensorBoard logs of this run: `{run.log_dir}`. Open every run side by side with "
                       f"`tensorboard --logdir {runs_root()}`, then http://localhost:6006.")
    elif run.log_error:
        b_col.warning(run.log_error)
    spec = st.session_state.get("tr_specs", {}).get(run.id)
    if spec is not None:
        ui.code_behind(lambda: recipes.training_script(spec, t.cfg), f"tr_code_{run.id}")


def compare_runs() -> None:
    st.subheader("6. Compare runs")
    histories = {r.name: checkpoints.history_of(r.trainer) for r in _runs()
                 if not r.alive and r.trainer.pos.epoch >= 1}
    histories.update(st.session_state.get("tr_loaded", {}))
    if len(histories) < 2:
        st.caption("Finish two or more runs (for example Adam vs SGD, or dropout 0 vs 0.5) to overlay their curves "
                   "here.")
        return
    chosen = st.multiselect("Runs", list(histories), default=list(histories)[-4:], key="tr_compare")
    if chosen:
        st.plotly_chart(trainplots.compare({n: histories[n] for n in chosen}), width="stretch", key="tr_compare_fig")
        st.dataframe(pd.DataFrame([{"run": n, "epochs": len(histories[n]["val_acc"]) - 1,
                                    "best val acc": max(histories[n]["val_acc"]),
                                    "final val acc": histories[n]["val_acc"][-1],
                                    "final train loss": histories[n]["train_loss"][-1]} for n in chosen]),
                     hide_index=True, column_config={c: st.column_config.NumberColumn(format="%.3f") for c in
                                                     ("best val acc", "final val acc", "final train loss")})


def load_checkpoint(setup) -> None:
    split, ds = setup
    st.subheader("7. Load a checkpoint")
    upload = st.file_uploader("A checkpoint downloaded from this page (.pt)", key="tr_load",
                              help=checkpoints.ACCEPTED, max_upload_size=checkpoints.MAX_CHECKPOINT_BYTES // 2**20)
    if upload is None:
        return
    try:
        ckpt = checkpoints.load_checkpoint(upload.getvalue())
    except CNNLabError as err:
        st.error(f"Could not use **{upload.name}**: {err}")
        return
    h = ckpt.history
    st.success(f"Loaded {ARCHS[ckpt.config.arch].label} for {len(ckpt.class_names)} classes "
               f"({', '.join(ckpt.class_names[:10])}), {ckpt.input_size}x{ckpt.input_size} input, trained "
               f"{max(0, len(h.get('val_acc', [])) - 1)} epochs (weights_only=True: no code was run).")
    if h.get("val_acc"):
        st.session_state.setdefault("tr_loaded", {})[f"checkpoint {upload.name}"] = h
        st.caption("Its curves are now listed under Compare runs.")
    if ckpt.class_names != ds.class_names:
        st.info("Its classes differ from the dataset chosen above, so it is not evaluated on it.")
        return
    try:
        val = split()[1]
        acc = checkpoints.accuracy_on(ckpt, val)
    except CNNLabError as err:
        st.warning(str(err))
        return
    st.metric(f"Accuracy on the current validation split ({len(val)} images)", f"{acc:.1%}")


main()
