"""Specialized CNNs (course section 8): convolution along time, causal and dilated stacks, and the
transposed convolution that lets a fully convolutional network paint a mask."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from core import cache, csvdata, forecast, segmentation, temporal, ui
from core.cpu import one_thread
from core.errors import CNNLabError

INTRO = """
Convolution is not only for photos. Slide a kernel along **time** and you get a 1D CNN for heartbeats,
sensor traces or audio. Make it **causal** (look only at the past) and **dilated** (skip steps, doubling
the gap layer by layer) and a few layers see hundreds of steps back: a temporal convolutional network
(TCN). Run a convolution **backwards** (transposed) and a network can grow a small feature map back to
a full-size mask, which is how fully convolutional networks segment images.
"""
SCHEDULES = ("doubling (1, 2, 4, ...)", "constant (1, 1, 1, ...)")
PRESETS = list(temporal.KERNELS_1D) + ["custom"]


def main() -> None:
    ui.route_through_home()
    st.title("Specialized CNNs")
    st.markdown(INTRO)
    source = signal_source()
    signal_lab(source)
    classifier_lab(source)
    st.divider()
    tcn_lab()
    forecast_lab()
    st.divider()
    segmentation_lab()
    transposed_lab()
    st.divider()
    cost_table()
    st.divider()
    ui.quiz("temporal")


UPLOAD = "Upload a CSV (one signal per row)"
SOURCES = list(temporal.FAMILIES) + [UPLOAD]


def _uploaded_signals():
    """The uploaded signals CSV (read once per file), or None; errors are shown where it is used."""
    upload = st.session_state.get("sp_upload")
    return None if upload is None else cache.signals_csv(upload.getvalue(), upload.name)


def signal_source() -> str:
    source = st.selectbox("Signals", SOURCES, key="sp_source",
                          index=SOURCES.index(ui.query_choice("signals", SOURCES, SOURCES[0])))
    st.query_params["signals"] = source
    if source == UPLOAD:
        st.file_uploader("Signals CSV", key="sp_upload", help=csvdata.ACCEPTED_SIGNALS,
                         max_upload_size=csvdata.MAX_CSV_BYTES // 2**20)
    return source


@st.fragment
def signal_lab(source: str) -> None:
    st.subheader("A 1D kernel slides along a signal")
    c1, c2, c3 = st.columns(3)
    if source == UPLOAD:
        try:
            uploaded = _uploaded_signals()
        except CNNLabError as err:
            st.error(str(err))
            return
        if uploaded is None:
            st.info(csvdata.ACCEPTED_SIGNALS)
            return
        x, labels, classes, note = uploaded
        st.caption(note)
        row = int(c1.number_input("Row", 0, len(x) - 1, 0, key="sp_row"))
        signal = x[row]
        if labels is not None:
            c2.markdown(f"Label: **{classes[labels[row]]}**")
    else:
        classes = temporal.FAMILIES[source]
        kind = c1.selectbox("Class", classes, key=f"sp_kind_{source}",
                            index=classes.index(ui.query_choice("kind", classes, classes[0])))
        noise = c2.slider("Noise", 0.0, 0.5, ui.query_number("noise", 0.0, 0.5, 0.05), 0.01, key="sp_noise")
        seed = c3.number_input("Seed", 0, 10_000, ui.query_number("sseed", 0, 10_000, 0), key="sp_seed")
        st.query_params.update(kind=kind, noise=f"{noise:g}", sseed=str(seed))
        signal = temporal.signal(source, kind, 256, np.random.default_rng(int(seed)), noise)
    k1, k2, k3, k4 = st.columns([2, 1, 1, 1])
    preset = k1.selectbox("Kernel", PRESETS, key="sp_preset",
                          index=PRESETS.index(ui.query_choice("kernel", PRESETS, PRESETS[0])))
    stride = k2.slider("Stride", 1, 4, ui.query_number("stride", 1, 4, 1), key="sp_stride")
    padding = k3.slider("Padding", 0, 8, ui.query_number("pad", 0, 8, 0), key="sp_pad")
    dilation = k4.slider("Dilation", 1, 8, ui.query_number("dil", 1, 8, 1), key="sp_dil")
    st.query_params.update(kernel=preset, stride=str(stride), pad=str(padding), dil=str(dilation))
    if preset == "custom":
        text = st.text_input("Kernel values (comma-separated, up to 15)", "1, 0, -1", key="sp_custom")
        try:
            kernel = temporal.parse_kernel(text)
        except CNNLabError as err:
            st.error(str(err))
            return
    else:
        kernel = temporal.KERNELS_1D[preset]
    try:
        out = temporal.conv1d(signal, kernel, stride, padding, dilation)
    except CNNLabError as err:
        st.error(str(err))
        return
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, subplot_titles=("input signal", "kernel output"))
    fig.add_trace(go.Scatter(y=signal, name="input", line=dict(color="#1f77b4")), 1, 1)
    # Output step i starts at input position i * stride - padding: plot it there so the two line up.
    fig.add_trace(go.Scatter(x=np.arange(len(out)) * stride - padding + dilation * (len(kernel) - 1) / 2, y=out,
                             name="output", line=dict(color="#d62728")), 2, 1)
    fig.update_layout(height=380, margin=dict(t=40, b=30, l=40, r=10), showlegend=False)
    st.plotly_chart(fig, width="stretch", key="sp_signal_fig")
    st.code(f"nn.Conv1d(in_channels=1, out_channels=1, kernel_size={len(kernel)}, stride={stride}, "
            f"padding={padding}, dilation={dilation})  # input (1, 1, {len(signal)}) -> output (1, 1, {len(out)})",
            language="python")
    st.latex(r"L_{out} = \left\lfloor \frac{L_{in} + 2p - d(k-1) - 1}{s} \right\rfloor + 1 = "
             rf"\left\lfloor \frac{{{len(signal)} + {2 * padding} - {dilation}\cdot{len(kernel) - 1} - 1}}{{{stride}}} "
             rf"\right\rfloor + 1 = {len(out)}")


def classifier_lab(source: str) -> None:
    st.subheader("A 1D CNN tells the classes apart")
    st.markdown("Three 1D conv blocks with a global-average-pool head, trained with the Training Monitor's loop "
                "(8 epochs, Adam): on 600 fresh synthetic signals scored on 300 it never saw, or on your labelled "
                "signals split 75/25.")
    n_col, b_col = st.columns([2, 1])
    data = None
    if source == UPLOAD:
        try:
            uploaded = _uploaded_signals()
        except CNNLabError:
            return  # the kernel lab above already says what is wrong with the file
        if uploaded is None:
            return
        x, labels, classes, _ = uploaded
        if labels is None or len(classes) < 2 or len(labels) < 8:
            st.info("Training needs a label column with at least two classes and eight labelled rows. "
                    + csvdata.ACCEPTED_SIGNALS)
            return
        data = (x, labels, classes)
    else:
        noise = n_col.slider("Noise in the training and test signals", 0.0, 0.4, 0.05, 0.05, key="sp_train_noise")
    settings = {"data": data} if data is not None else {"family": source, "noise": noise}
    if ui.job_button("Train the 1D CNN", "signal_cnn", settings, key="sp_train", where=b_col):
        ui.start_job("sp_job", "signal_cnn", **settings)
    result = ui.job_result("sp_job")
    if result is None:
        return
    a, b = st.columns(2)
    a.metric("Held-out accuracy", f"{result.accuracy:.1%}", help=f"{len(result.test_y)} test signals")
    fig = go.Figure(go.Bar(x=list(result.per_class), y=list(result.per_class.values()),
                           text=[f"{v:.0%}" for v in result.per_class.values()]))
    fig.update_layout(title="Accuracy per class", height=260, yaxis=dict(range=[0, 1.05], tickformat=".0%"),
                      margin=dict(t=40, b=20, l=40, r=10))
    b.plotly_chart(fig, width="stretch", key="sp_per_class")
    i_col, c_col = a.columns(2)
    i = i_col.number_input("Test signal", 0, len(result.test_y) - 1, 0, key="sp_cam_i")
    true = int(result.test_y[int(i)])
    names = result.class_names
    target = c_col.selectbox("Explain class", range(len(names)), index=true, key="sp_cam_cls",
                             format_func=names.__getitem__)
    signal = result.test_x[int(i)]
    cam = result.explain(int(i), int(target))
    fig = go.Figure([go.Scatter(y=signal[0].numpy(), mode="lines", line=dict(color="#444"), name="signal"),
                     go.Scatter(y=signal[0].numpy(), mode="markers", name="Grad-CAM",
                                marker=dict(color=cam, colorscale="Reds", size=5, cmin=0, cmax=1))])
    fig.update_layout(title=f"1D Grad-CAM for '{names[int(target)]}' (true: {names[true]}): red = where the "
                            "evidence is",
                      height=300, margin=dict(t=40, b=20, l=40, r=10), showlegend=False)
    st.plotly_chart(fig, width="stretch", key="sp_cam")


@st.fragment
def tcn_lab() -> None:
    st.subheader("Causal, dilated convolutions: how far back can one output see?")
    c1, c2, c3 = st.columns(3)
    k = c1.slider("Kernel size", 2, 5, ui.query_number("tk", 2, 5, 2), key="tcn_k")
    layers = c2.slider("Layers", 1, 6, ui.query_number("layers", 1, 6, 4), key="tcn_layers")
    schedule = c3.selectbox("Dilations", SCHEDULES, key="tcn_sched",
                            index=SCHEDULES.index(ui.query_choice("dil_sched", SCHEDULES, SCHEDULES[0])))
    st.query_params.update(tk=str(k), layers=str(layers), dil_sched=schedule)
    dilations = temporal.dilation_schedule(layers, schedule)
    rf = temporal.receptive_field(k, dilations)
    st.latex(rf"RF = 1 + (k-1)\sum_i d_i = 1 + {k - 1}\cdot({' + '.join(map(str, dilations))}) = {rf}")
    length = rf + 8
    t = length - 1
    with one_thread():  # a few-layer net: alone on this thread it never waits for a core the browser holds
        seen = temporal.empirical_receptive_field(temporal.untrained_tcn(k, tuple(dilations)), length, t)
    st.caption(f"Checked with autograd: the gradient of output step {t} is non-zero for exactly {len(seen)} input "
               f"steps ({seen.min()} to {seen.max()}).")
    tree = temporal.dependency_tree(k, dilations, t)
    xs, ys = temporal.tree_edges(k, dilations, tree)
    steps = [s for level in tree for s in level]
    level_of = [level for level, row in enumerate(tree) for _ in row]
    names = ["input"] + [f"layer {level} (dilation {d})" for level, d in enumerate(dilations, 1)]
    # Two traces (edges, nodes) built in one call: a trace per level and update_layout calls cost
    # plotly's validation, and the browser a redraw per trace, on every slider move. Margins are fixed
    # (axis automargin off, no legend beside the next chart): plotly.js's automargin measured the labels
    # and laid each chart out a second time, about 40 ms of the browser's work per move.
    fig = go.Figure([go.Scatter(x=xs, y=ys, mode="lines", line=dict(color="#c7c7c7", width=1), hoverinfo="skip"),
                     go.Scatter(x=steps, y=level_of, mode="markers", text=[names[lv] for lv in level_of],
                                hovertemplate="%{text}, step %{x}<extra></extra>",
                                marker=dict(size=[6 if len(tree[lv]) < 80 else 3 for lv in level_of],
                                            color=["#d62728" if lv else "#1f77b4" for lv in level_of]))],
                    layout=dict(height=320, margin=dict(t=30, b=40, l=60, r=10), showlegend=False,
                                title=f"What output step {t} depends on", xaxis=dict(title="time step", automargin=False),
                                yaxis=dict(title="layer", tickvals=list(range(len(tree))), automargin=False,
                                           ticktext=["input"] + [f"d={d}" for d in dilations])))
    st.plotly_chart(fig, width="stretch", key="tcn_tree")
    causality_test(k, tuple(dilations))


@st.fragment
def causality_test(k: int, dilations: tuple[int, ...]) -> None:
    """Nested in tcn_lab: a move of t reruns only this part, not the receptive-field check and tree."""
    st.markdown("**Causality, tested live:** change every input *after* step t and watch which outputs move.")
    cut = st.slider("t", 5, 60, ui.query_number("t", 5, 60, 30), key="tcn_t")
    st.query_params["t"] = str(cut)
    signal = np.sin(np.arange(80) / 5).astype(np.float32)
    with one_thread():
        causal = temporal.perturbation_effect(temporal.untrained_tcn(k, dilations), signal, cut)
        centred = temporal.perturbation_effect(temporal.untrained_tcn(k, dilations, causal=False), signal, cut)
    line = dict(type="line", xref="x", yref="paper", x0=cut + 0.5, x1=cut + 0.5, y0=0, y1=1,
                line=dict(dash="dot", color="grey"))
    label = dict(xref="x", yref="paper", x=cut + 0.5, y=1, text=f"inputs changed after {cut}", showarrow=False,
                 xanchor="left", yanchor="bottom")  # above the plot, clear of the bars
    # The colours are named in the caption below: a legend inside the plot covered the bars that matter.
    fig = go.Figure([go.Bar(y=causal, name="causal (left padding only)", marker_color="#0068c9"),
                     go.Bar(y=centred, name="centred (padding on both sides)", marker_color="#83c9ff", opacity=0.6)],
                    layout=dict(height=300, barmode="overlay", margin=dict(t=30, b=40, l=75, r=10), shapes=[line],
                                annotations=[label], showlegend=False,
                                xaxis=dict(title="output step", automargin=False),
                                yaxis=dict(title="|change in output|", automargin=False)))
    st.plotly_chart(fig, width="stretch", key="tcn_causal")
    leaked = int((centred[:cut + 1] > 0).sum())
    st.caption(f"Causal stack: {int((causal[:cut + 1] > 0).sum())} outputs up to step {cut} changed (dark blue, left "
               f"padding only: it cannot see the future). Centred stack: {leaked} of them changed (light blue, padding "
               "on both sides): it peeks ahead, fine for a finished recording, useless for forecasting.")


def forecast_lab() -> None:
    st.subheader("Forecasting with a causal TCN")
    st.markdown("A causal TCN (kernel 3, dilations 1-16, receptive field 63 steps) learns to predict each next "
                "change of a series from its past; every hold-out step is then forecast one step ahead. The "
                "baseline to beat is the **seasonal naive** forecast: the value one period earlier.")
    series_options = ["Synthetic (trend + season + noise)", "Upload a CSV column"]
    source = st.radio("Series", series_options, horizontal=True, key="fc_source",
                      index=series_options.index(ui.query_choice("series", series_options, series_options[0])))
    p_col, a_col, b_col = st.columns(3)
    period = p_col.number_input("Season length (steps)", 2, 500, ui.query_number("period", 2, 500, 24), key="fc_period")
    st.query_params.update(series=source, period=str(period))
    if source.startswith("Synthetic"):
        trend = a_col.slider("Trend per step", 0.0, 0.05, ui.query_number("trend", 0.0, 0.05, 0.02), 0.005,
                             key="fc_trend")
        noise = b_col.slider("Noise", 0.0, 0.5, ui.query_number("fnoise", 0.0, 0.5, 0.15), 0.05, key="fc_noise")
        st.query_params.update(trend=f"{trend:g}", fnoise=f"{noise:g}")
        series = forecast.seasonal_series(period=int(period), trend=trend, noise=noise)
        name = f"synthetic, trend {trend:g}, noise {noise:g}"
    else:
        upload = st.file_uploader("CSV with a numeric column", key="fc_upload", help=csvdata.ACCEPTED_CSV,
                                  max_upload_size=csvdata.MAX_CSV_BYTES // 2**20)
        if upload is None:
            st.info(csvdata.ACCEPTED_CSV)
            return
        try:
            series, note = csvdata.read_csv_series(upload.getvalue(), upload.name)
        except CNNLabError as err:
            st.error(str(err))
            return
        st.caption(note)
        name = upload.name
    key = ("fc_result", name, int(period), len(series), float(series.sum()))
    if st.button("Train the TCN and forecast the hold-out", key="fc_run"):
        with st.spinner("Training the TCN on the first 80% of the series..."):
            try:
                st.session_state["fc_result"] = (key, forecast.forecast(series, int(period)))
            except CNNLabError as err:
                st.error(str(err))
                return
    stored = st.session_state.get("fc_result")
    fig = go.Figure(go.Scatter(y=series, name="series", line=dict(color="#444")))
    if stored and stored[0] == key:
        result = stored[1]
        steps = np.arange(result.split, len(series))
        fig.add_trace(go.Scatter(x=steps, y=result.naive, name=f"seasonal naive (MAE {result.mae_naive:.3f})",
                                 line=dict(color="#ff7f0e", dash="dot")))
        fig.add_trace(go.Scatter(x=steps, y=result.tcn, name=f"TCN (MAE {result.mae_tcn:.3f})",
                                 line=dict(color="#d62728")))
        fig.add_vline(x=result.split - 0.5, line=dict(dash="dash", color="grey"), annotation_text="hold-out")
        m1, m2 = st.columns(2)
        m1.metric("TCN MAE on the hold-out", f"{result.mae_tcn:.3f}")
        m2.metric("Seasonal naive MAE", f"{result.mae_naive:.3f}",
                  delta=f"{result.mae_naive - result.mae_tcn:+.3f} vs TCN", delta_color="off")
    fig.update_layout(height=340, margin=dict(t=30, b=30, l=40, r=10), legend=dict(orientation="h", y=-0.2))
    st.plotly_chart(fig, width="stretch", key="fc_fig")


def segmentation_lab() -> None:
    st.subheader("Segmentation: a fully convolutional network labels every pixel")
    st.markdown("An encoder (three conv + max-pool levels, 64 -> 8 px) squeezes the image; a decoder of 2x2 "
                "stride-2 **transposed convolutions** grows it back to 64 px, and a 1x1 conv scores each pixel. "
                "U-Net **skip connections** hand the encoder's sharp maps to the decoder at each size. Train it "
                "both ways on 1,000 synthetic shapes (6 epochs each) and compare on 200 held-out ones.")
    t_col, b_col = st.columns([2, 1])
    tasks = list(segmentation.TASKS)
    task = t_col.selectbox("Task", tasks, key="seg_task", index=tasks.index(ui.query_choice("seg", tasks, tasks[0])))
    st.query_params["seg"] = task
    settings = {"task": task, "n_train": 1000, "epochs": 6}
    if ui.job_button("Train with and without skips", "segmentation", settings, key="seg_train", where=b_col):
        ui.start_job("seg_job", "segmentation", **settings)
    results = ui.job_result("seg_job")
    if not results:
        return
    first = next(iter(results.values()))
    classes = segmentation.TASKS[first.task]
    st.dataframe(pd.DataFrame([{"decoder": "with skips" if skips else "without skips",
                                "mean IoU": r.mean_iou, **{f"IoU {c}": v for c, v in zip(classes, r.iou)},
                                "train seconds": r.seconds} for skips, r in results.items()]),
                 hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="%.3f") for c in
                                ["mean IoU", "train seconds"] + [f"IoU {c}" for c in classes]})
    picks = list(range(4))
    rows = [("input", [first.test_images[i] for i in picks]),
            ("true mask", [segmentation.mask_rgb(first.test_labels[i]) for i in picks])]
    for skips, r in results.items():
        pred = segmentation.predict(r.model, first.test_images[picks])
        rows.append((f"predicted, {'with' if skips else 'without'} skips", [segmentation.mask_rgb(p) for p in pred]))
    for name, images in rows:
        st.image(images, width=110, caption=[name] * len(images))
    bigger_input(first.task, results[next(iter(results))])


def bigger_input(task: str, result) -> None:
    st.markdown("**No dense layer, so no fixed input size:** the same trained network, shown a 128 x 192 scene "
                "with more shapes at the sizes it trained on, gives a 128 x 192 mask.")
    scene = segmentation.big_scene(int(st.number_input("Scene seed", 0, 10_000, 0, key="seg_scene")))
    truth = segmentation.scene_labels(scene, task)
    big = segmentation.predict(result.model, scene.image[None])[0]
    iou = segmentation.iou_per_class(big, truth, len(segmentation.TASKS[task]))
    a, b, c = st.columns(3)
    a.image(scene.image, caption=f"input {scene.image.shape[0]} x {scene.image.shape[1]}", width="stretch")
    b.image(segmentation.mask_rgb(truth), caption="true mask", width="stretch")
    c.image(segmentation.mask_rgb(big), caption=f"predicted mask {big.shape[0]} x {big.shape[1]}", width="stretch")
    st.metric("Mean IoU on this bigger scene", f"{np.nanmean(iou):.2f}",
              help="Intersection over union per class (background included), averaged over the classes present.")


@st.fragment
def transposed_lab() -> None:
    st.subheader("Transposed convolution: growing a feature map back to full size")
    cols = st.columns(5)
    size = cols[0].slider("Input size", 1, 8, ui.query_number("tin", 1, 8, 4), key="tc_in")
    kernel = cols[1].slider("Kernel", 1, 5, ui.query_number("tker", 1, 5, 3), key="tc_kernel")
    stride = cols[2].slider("Stride", 1, 4, ui.query_number("tstride", 1, 4, 2), key="tc_stride")
    padding = cols[3].slider("Padding", 0, 3, ui.query_number("tpad", 0, 3, 0), key="tc_padding")
    out_pad = cols[4].slider("output_padding", 0, 3, ui.query_number("topad", 0, 3, 0), key="tc_opad")
    st.query_params.update(tin=str(size), tker=str(kernel), tstride=str(stride), tpad=str(padding), topad=str(out_pad))
    spec = temporal.Transposed(size, kernel, stride, padding, out_pad)
    try:
        spec.validate()
    except CNNLabError as err:
        st.error(str(err))
        return
    n = spec.output_size()
    st.latex(rf"H_{{out}} = (H_{{in}}-1)\,s - 2p + (k-1) + p_{{out}} + 1 = ({size}-1)\cdot{stride} - {2 * padding} "
             rf"+ {kernel - 1} + {out_pad} + 1 = {n}")
    st.code(f"nn.ConvTranspose2d(1, 1, kernel_size={kernel}, stride={stride}, padding={padding}, "
            f"output_padding={out_pad})  # (1, 1, {size}, {size}) -> (1, 1, {n}, {n})", language="python")
    i_col, j_col = st.columns(2)
    i = ui.data_slider("Input pixel row", 0, size - 1, 0, "tc_i", i_col)
    j = ui.data_slider("Input pixel column", 0, size - 1, 0, "tc_j", j_col)
    landing = spec.landing()
    footprint = spec.footprint(i, j)
    a, b = st.columns(2)
    fig = go.Figure(go.Heatmap(z=landing, text=landing.astype(int), texttemplate="%{text}", colorscale="Blues",
                               showscale=False))
    fig.update_layout(title="Kernel copies overlapping each output pixel", height=360, yaxis=dict(autorange="reversed"),
                      margin=dict(t=40, b=20, l=20, r=10))
    a.plotly_chart(fig, width="stretch", key="tc_landing")
    fig = go.Figure(go.Heatmap(z=footprint.astype(int), colorscale=[[0, "#f0f0f0"], [1, "#d62728"]], showscale=False))
    fig.update_layout(title=f"Where input pixel ({i}, {j}) lands", height=360, yaxis=dict(autorange="reversed"),
                      margin=dict(t=40, b=20, l=20, r=10))
    b.plotly_chart(fig, width="stretch", key="tc_footprint")
    if kernel % stride and kernel > 1 and stride > 1:
        st.caption("The kernel size is not a multiple of the stride, so some output pixels get more kernel copies "
                   "than their neighbours: the source of the checkerboard artefacts in upsampled images. A kernel "
                   "divisible by the stride (or upsampling followed by a normal convolution) avoids them.")


def cost_table() -> None:
    st.subheader("One layer in 1D, 2D and 3D: why 3D CNNs are costly")
    c1, c2, c3, c4 = st.columns(4)
    c_in = c1.select_slider("Input channels", [1, 4, 16, 32, 64], 16, key="cost_in")
    c_out = c2.select_slider("Output channels", [8, 16, 32, 64, 128], 32, key="cost_out")
    kernel = c3.select_slider("Kernel", [1, 3, 5, 7], 3, key="cost_k")
    side = c4.select_slider("Input side", [16, 32, 64, 128], 32, key="cost_side")
    rows = []
    for dims, name in ((1, "Conv1d"), (2, "Conv2d"), (3, "Conv3d")):
        params, macs = temporal.conv_cost(dims, c_in, c_out, side, kernel)
        rows.append({"layer": f"{name}, {'x'.join([str(kernel)] * dims)} kernel on {'x'.join([str(side)] * dims)}",
                     "parameters": params, "MACs": macs})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch",
                 column_config={"MACs": st.column_config.NumberColumn(format="%,d")})
    st.caption(f"Each extra dimension multiplies the weights by the kernel size ({kernel}x) and the work by kernel "
               f"size x input side ({kernel * side}x here). Counted by torch's FlopCounterMode on the meta device.")


main()
