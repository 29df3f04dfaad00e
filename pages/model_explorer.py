"""Model Explorer (course sections 4, 10 and 11): inside the classic architectures, and their cost."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import cache, export, scaling, ui
from core.blocks import BLOCKS
from core.errors import CNNLabError
from core.images import resize_to
from core.profile import (ARCHS, GLOBAL_RF, TORCHVISION_ARCHS, ArchSpec, allowed_sizes,
                          receptive_field_curve, stage_summary, table)
from core.viz import mark_box

INTRO = """
What is inside VGG, ResNet, Inception, MobileNet, EfficientNet, ConvNeXt and a Vision Transformer,
and what does each cost? Every number here is computed, not copied: the models are built on
PyTorch's *meta* device (shapes without storage, so even VGG16's 138 M weights take no memory),
and `torch.utils.flop_counter` counts the work. One **MAC** is one multiply-accumulate; the counter
reports FLOPs, 2 per MAC. torchvision's "GFLOPS" column is really GMACs at batch size 1.
"""
KEYS = list(ARCHS)


def main() -> None:
    ui.route_through_home()
    st.title("Model Explorer")
    st.markdown(INTRO)
    pick, size_col = st.columns([2, 1])
    key = pick.selectbox("Architecture", KEYS, index=KEYS.index(ui.query_choice("arch", KEYS, "resnet50")),
                         format_func=lambda k: ARCHS[k].label, key="mx_arch")
    sizes = allowed_sizes(key)
    linked = int(ui.query_choice("size", [str(s) for s in sizes], str(ARCHS[key].input_size)))
    size = size_col.select_slider("Input size (pixels)", sizes, value=linked, key=f"mx_size_{key}",
                                  disabled=len(sizes) == 1)
    st.query_params.update(arch=key, size=str(size))
    spec = ARCHS[key]
    try:
        prof = cache.arch_profile(key, size)
    except CNNLabError as err:
        st.error(str(err))
        prof = None
    if prof is not None:
        totals(prof, spec)
        tabs = st.tabs(["Layers", "Cost charts", "Receptive field", "Blocks", "What if?", "Latency & export"])
        with tabs[0]:
            layers(prof)
        with tabs[1]:
            charts(prof, key)
        with tabs[2]:
            receptive_field(prof)
        with tabs[3]:
            block_viewer(spec)
        with tabs[4]:
            what_if()
        with tabs[5]:
            latency_and_export(key, size, prof.total_params)
    st.divider()
    ui.quiz("architectures")
    st.divider()
    ui.quiz("frontiers")


def totals(prof, spec) -> None:
    p_col, m_col, a_col = st.columns(3)
    p_col.metric("Parameters", f"{prof.total_params:,}")
    m_col.metric("MACs at this size", f"{prof.total_macs / 1e9:.3f} G")
    a_col.metric("Activation memory (batch 1)", f"{prof.activation_bytes / 2**20:.1f} MB",
                 help="float32 outputs of every listed layer: what training keeps for the backward pass.")
    if spec.ref_params is not None and prof.input_size == spec.input_size:
        params_ok = prof.total_params == spec.ref_params
        macs_err = abs(prof.total_macs / 1e9 - spec.ref_gmacs) / spec.ref_gmacs
        st.markdown(
            f"torchvision publishes **{spec.ref_params:,}** parameters and **{spec.ref_gmacs} GMACs** "
            f"(its 'GFLOPS') for {spec.label} at {spec.input_size}px: parameters "
            f"{'match exactly' if params_ok else 'differ'}; MACs differ by {macs_err:.2%}.")
    elif spec.ref_params is not None:
        st.caption(f"torchvision's published figures are for {spec.input_size}px; move the slider back to compare.")
    if spec.note:
        st.caption(spec.note)


def layers(prof) -> None:
    search = st.text_input("Search layers by name or type", key="mx_search", placeholder="e.g. conv, layer3, Linear")
    shown = 0
    for label, rows in prof.stages:
        records = table(rows, prof.total_macs, search)
        if not records:
            continue
        shown += len(records)
        macs, params = sum(r.macs for r in rows), sum(r.params for r in rows)
        with st.expander(f"Stage {label}: {len(rows)} layers, {params:,} params, {macs / 1e6:,.1f} M MACs "
                         f"({macs / max(1, prof.total_macs):.1%})", expanded=bool(search)):
            st.dataframe(pd.DataFrame(records), hide_index=True, width="stretch",
                         column_config={"MAC share": st.column_config.ProgressColumn(format="percent", max_value=1)})
    if search and not shown:
        st.info(f"No layer matches '{search}'.")
    st.caption(f"{len(prof.rows)} layers with parameters or compute. The table sums to the totals above: "
               f"{sum(r.params for r in prof.rows):,} params, {sum(r.macs for r in prof.rows):,} MACs.")


def charts(prof, key) -> None:
    everyone = []
    for k in TORCHVISION_ARCHS:
        p = cache.arch_profile(k, ARCHS[k].input_size)
        everyone.append((ARCHS[k].label, p.total_params, p.total_macs))
    fig = go.Figure(go.Scatter(x=[e[2] / 1e9 for e in everyone], y=[e[1] / 1e6 for e in everyone],
                               text=[e[0] for e in everyone], mode="markers+text", textposition="top center",
                               marker=dict(size=[14 if e[0] == ARCHS[key].label else 9 for e in everyone])))
    fig.update_layout(title="Parameters vs compute, at each model's standard input size", height=420,
                      xaxis=dict(type="log", title="GMACs"), yaxis=dict(type="log", title="parameters (M)"))
    st.plotly_chart(fig, width="stretch")
    summary = pd.DataFrame(stage_summary(prof))
    left, right = st.columns(2)
    cost = go.Figure([go.Bar(x=summary["stage"], y=summary["MACs"] / 1e6, name="MACs (M, left)", offsetgroup=0),
                      go.Bar(x=summary["stage"], y=summary["params"] / 1e6, name="params (M, right)", offsetgroup=1,
                             yaxis="y2")])
    cost.update_layout(title="Cost per stage (by output resolution)", barmode="group", height=360,
                       yaxis=dict(title="M MACs"), yaxis2=dict(title="M params", overlaying="y", side="right"))
    left.plotly_chart(cost, width="stretch")
    mem = go.Figure([go.Bar(x=summary["stage"], y=summary["params MB"], name="parameters"),
                     go.Bar(x=summary["stage"], y=summary["activation MB"], name="activations (batch 1)")])
    mem.update_layout(title="Memory per stage (MB, float32)", barmode="group", height=360)
    right.plotly_chart(mem, width="stretch")
    st.caption("Early stages hold most of the activation memory (big maps); late stages hold most of the weights.")
    scaling_chart(key, prof.input_size)


@st.fragment
def scaling_chart(key: str, current: int) -> None:
    sizes = [s for s in allowed_sizes(key) if s % 64 == 0 or s == current]
    points = []
    for s in sizes:
        try:
            points.append((s, cache.arch_profile(key, s).total_macs / 1e9))
        except CNNLabError:
            continue  # too small for this model: no point to plot
    fig = go.Figure(go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], mode="lines+markers"))
    fig.add_vline(x=current, line_dash="dash", annotation_text="current")
    fig.update_layout(title="Compute vs input resolution", height=340, xaxis_title="input side (pixels)",
                      yaxis_title="GMACs")
    st.plotly_chart(fig, width="stretch")
    if len(points) >= 2:
        (s0, m0), (s1, m1) = points[0], points[-1]
        st.caption(f"From {s0}px to {s1}px the side grows {s1 / s0:.1f}x and compute {m1 / m0:.1f}x: a CNN's cost "
                   "grows with the number of pixels, the square of the side.")


def receptive_field(prof) -> None:
    curve = receptive_field_curve(prof)
    if not curve:
        st.info("This model has no local conv or pooling layers to follow.")
        return
    fig = go.Figure(go.Scatter(x=list(range(1, len(curve) + 1)), y=[c[1] for c in curve], mode="lines+markers",
                               text=[c[0] for c in curve], hovertemplate="%{text}: %{y} px<extra></extra>"))
    fig.add_hline(y=prof.input_size, line_dash="dot", annotation_text="input size")
    fig.update_layout(title="Receptive field, conv and pooling layers in forward order", height=360,
                      xaxis_title="layer", yaxis_title="pixels")
    st.plotly_chart(fig, width="stretch")
    last_name, last_rf = curve[-1]
    globals_ = [r.name for r in prof.rows if r.rf == GLOBAL_RF and r.name != "(model-level)"]
    if globals_:
        st.caption(f"{len(globals_)} layers, from `{globals_[0]}` on, see the whole input: attention, global "
                   "pooling (including squeeze-and-excitation) and flattening mix every position.")
    photo = resize_to(cache.sample_photo("Cat (chelsea)"), (prof.input_size, prof.input_size))
    side = int(last_rf)
    top = (prof.input_size - side) // 2
    st.image(mark_box(photo, top, top, side, side), width=360,
             caption=f"One unit of `{last_name}` near the centre sees {side}x{side} input pixels "
                     f"(box clipped to the {prof.input_size}px image when larger).")


def block_viewer(arch: ArchSpec) -> None:
    families = list(BLOCKS)
    if arch.family in BLOCKS:
        st.caption(f"{arch.label} belongs to the {arch.family} family; its key block is shown first.")
    else:
        st.info(f"{arch.label} ({arch.family}) has no block diagram here. Pick a family to see its key block.")
    # Keyed by the architecture: a new choice starts on its own family, not on the last one viewed.
    chosen = st.radio("Family", families, horizontal=True, key=f"mx_family_{arch.key}",
                      index=families.index(arch.family) if arch.family in BLOCKS else None)
    if chosen is None:
        return
    spec = BLOCKS[chosen]
    st.markdown(f"**{spec.title}** (`{ARCHS[spec.arch].label}`, `{spec.path}`)")
    st.graphviz_chart(cache.block_diagram(chosen))
    st.caption(spec.caption)


@st.fragment
def what_if() -> None:
    st.markdown("A small CNN you can reshape. Swap standard 3x3 convs for depthwise-separable ones "
                "(MobileNet's trick) or scale width, depth and resolution (EfficientNet's knobs).")
    base = scaling.TinyCNN()
    c1, c2, c3, c4 = st.columns(4)
    width = c1.slider("Width multiplier", 0.25, 4.0, 1.0, 0.25, key="mx_w")
    depth = c2.slider("Depth multiplier", 0.5, 4.0, 1.0, 0.5, key="mx_d")
    res = c3.slider("Resolution multiplier", 0.5, 3.0, 1.0, 0.25, key="mx_r")
    separable = c4.toggle("Depthwise-separable convs", key="mx_sep")
    edited = base.scaled(width, depth, res)
    edited = scaling.TinyCNN(edited.width, edited.depth, edited.resolution, separable)
    configs = (("baseline", base), ("your version", edited))
    latencies = export.compare_latency_ms([(scaling.build(cfg), cfg.resolution) for _, cfg in configs])
    records = []
    for (label, cfg), ms in zip(configs, latencies):
        prof = scaling.profile(cfg)
        records.append({"model": label, "width": cfg.width, "blocks/stage": cfg.depth, "input": cfg.resolution,
                        "conv": "separable" if cfg.separable else "standard", "params": prof.total_params,
                        "MMACs": prof.total_macs / 1e6, "CPU ms": ms})
    df = pd.DataFrame(records)
    st.dataframe(df, hide_index=True, width="stretch", column_config={
        "MMACs": st.column_config.NumberColumn(format="%.1f"), "CPU ms": st.column_config.NumberColumn(format="%.2f")})
    a, b = records
    st.markdown(f"Parameters x{b['params'] / a['params']:.2f}, MACs x{b['MMACs'] / a['MMACs']:.2f}, "
                f"measured latency x{b['CPU ms'] / a['CPU ms']:.2f} (median of 7 interleaved runs on this server's CPU).")


def latency_and_export(key: str, size: int, n_params: int) -> None:
    spec = ARCHS[key]
    st.markdown("These use real tensors (freshly initialised weights: timing and file layout do not depend on "
                "the values).")
    # Each button's last result stays in the session, tagged with the model and size it was made for:
    # pressing another button reruns the page, which would otherwise drop it.
    results = st.session_state.setdefault("mx_results", {})
    if st.button("Measure CPU latency (batch 1)", key="mx_latency"):
        with st.spinner(f"Building {spec.label} and timing 7 runs..."):
            results["latency"] = ((key, size), export.latency_ms(spec.build(size), size))
    latency = _result_for(results, "latency", key, size)
    if latency is not None:
        st.metric(f"{spec.label} at {size}px", f"{latency:.1f} ms", help="median of 7 runs after 2 warm-up runs")
    onnx_col, ts_col = st.columns(2)
    if onnx_col.button("Export to ONNX", key="mx_onnx"):
        with st.spinner("Exporting and checking with ONNX Runtime..."):
            try:
                export.check_exportable(n_params)  # before building the real weights
                model = spec.build(size).eval()
                data = export.to_onnx(model, size)
                results["onnx"] = ((key, size), (data, export.onnx_max_diff(data, model, size)))
            except CNNLabError as err:
                results["onnx"] = ((key, size), err)
    onnx = _result_for(results, "onnx", key, size)
    if isinstance(onnx, CNNLabError):
        onnx_col.error(str(onnx))
    elif onnx is not None:
        data, diff = onnx
        onnx_col.download_button("Download .onnx", data, f"{key}_{size}.onnx", "application/octet-stream",
                                 key="mx_onnx_download", on_click="ignore")
        onnx_col.caption(f"{len(data) / 2**20:.1f} MB. ONNX Runtime reproduces PyTorch's output to within "
                         f"{diff:.1e}. Open the file in Netron to browse the graph.")
    if ts_col.button("Export to TorchScript", key="mx_ts"):
        with st.spinner("Tracing..."):
            try:
                export.check_exportable(n_params)
                results["ts"] = ((key, size), export.to_torchscript(spec.build(size), size))
            except CNNLabError as err:
                results["ts"] = ((key, size), err)
    script = _result_for(results, "ts", key, size)
    if isinstance(script, CNNLabError):
        ts_col.error(str(script))
    elif script is not None:
        ts_col.download_button("Download .pt", script, f"{key}_{size}.pt", "application/octet-stream",
                               key="mx_ts_download", on_click="ignore")
        ts_col.caption(f"{len(script) / 2**20:.1f} MB; load it with `torch.jit.load`. PyTorch 2.14 marks "
                       "TorchScript as deprecated in favour of `torch.export`; ONNX is the portable choice.")


def _result_for(results: dict, button: str, key: str, size: int):
    """The button's stored result if it was made for this model and input size, else None."""
    made_for, result = results.get(button, (None, None))
    return result if made_for == (key, size) else None

main()
