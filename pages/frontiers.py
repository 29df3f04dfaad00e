"""Research frontiers (course section 10): Vision Transformers against CNNs, architecture search,
pruning and int8 quantization, and the ideas beyond convolution, each with numbers made here."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import cache, compress, nas, tokens, ui
from core.profile import ARCHS
from core.viz import upscale

INTRO = """
Convolution is one answer to "how should a network look at an image". Research keeps asking the question
again: transformers that cut the image into words, searches that design the network for you, and the
engineering that squeezes a trained network onto a phone. Each tab measures one of these on this CPU.
"""
COMPARED = ("vit_b_16", "resnet50", "convnext_tiny")
SCALING_SIZES = (96, 160, 224, 320, 448, 640, 896)
STRATEGIES = nas.STRATEGIES


def main() -> None:
    ui.route_through_home()
    st.title("Research frontiers")
    st.markdown(INTRO)
    vit, search, efficient, beyond = st.tabs(
        ["ViT vs CNN", "Architecture search (NAS)", "Pruning & int8", "Capsules, Mixers, hybrids"])
    with vit:
        vit_lab()
    with search:
        nas_lab()
    with efficient:
        pruning_lab()
        quantization_lab()
    with beyond:
        beyond_convolution()
    st.divider()
    ui.quiz("research")


# ---------------------------------------------------------------- ViT vs CNN
def vit_lab() -> None:
    st.subheader("An image is worth 16x16 words")
    st.markdown(
        "A Vision Transformer cuts the image into 16x16 patches, flattens each into a vector of 768 numbers, "
        "adds a learned position embedding (the transformer itself has no idea of where a patch was) and lets "
        "every patch attend to every other one from the first layer on. A CNN builds its view up slowly from "
        "3x3 neighbourhoods.")
    left, right = st.columns(2)
    with left:
        photo = ui.image_picker("fr")
    if photo is not None:
        with right:
            st.image(tokens.patch_grid(photo.pixels), width="stretch",
                     caption="Resized to 224x224: 14 x 14 = 196 patches, numbered in the order the transformer reads "
                             "them. A class token (number 0) joins them.")
        patches = tokens.patch_tokens(photo.pixels)
        st.image([upscale(p.reshape(16, 16, 3), 48) for p in patches[:14]], width=48,
                 caption=[str(i) for i in range(1, 15)])
        st.caption(f"The first row of tokens: each is one patch, {patches.shape[1]} numbers long before the linear "
                   "embedding maps it to 768.")
    cost_table()
    scaling_chart()


def cost_table() -> None:
    rows = []
    for key in COMPARED:
        prof = cache.arch_profile(key, 224)
        spec = ARCHS[key]
        rows.append({"model": spec.label, "params (M)": prof.total_params / 1e6, "GMACs at 224": prof.total_macs / 1e9,
                     "torchvision's GMACs": spec.ref_gmacs, "mixes information by": {
                         "vit_b_16": "global self-attention over 197 tokens",
                         "resnet50": "3x3 convs + residual bottlenecks",
                         "convnext_tiny": "7x7 depthwise convs, transformer-style blocks"}[key]})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", column_config={
        "params (M)": st.column_config.NumberColumn(format="%.1f"),
        "GMACs at 224": st.column_config.NumberColumn(format="%.2f"),
        "torchvision's GMACs": st.column_config.NumberColumn(format="%.2f")})
    st.caption("Counted here on the meta device with torch's FlopCounterMode (the Model Explorer's numbers), "
               "next to torchvision's published figures. ConvNeXt borrows the transformer's recipe (big kernels, "
               "LayerNorm, GELU, inverted bottlenecks) and matches ViT-style accuracy at a quarter of the cost.")


@st.fragment
def scaling_chart() -> None:
    st.markdown("**How cost grows with resolution.** Convolution's cost grows with the number of pixels. "
                "Attention compares every token with every other, so that part grows with the square of it.")
    linked = int(ui.query_choice("res", [str(s) for s in SCALING_SIZES], "448"))
    size = st.select_slider("Input side (px)", SCALING_SIZES, value=linked, key="fr_res")
    st.query_params["res"] = str(size)
    macs = {k: [cache.arch_profile(k, s).total_macs / 1e9 for s in SCALING_SIZES] for k in COMPARED}
    attention = [tokens.attention_macs(s) / 1e9 for s in SCALING_SIZES]
    fig = go.Figure([go.Scatter(x=SCALING_SIZES, y=macs[k], name=ARCHS[k].label, mode="lines+markers")
                     for k in COMPARED]
                    + [go.Scatter(x=SCALING_SIZES, y=attention, name="ViT-B/16: attention matrices alone",
                                  mode="lines+markers", line=dict(dash="dot"))])
    fig.add_vline(x=size, line_dash="dash", line_color="grey")
    fig.update_layout(xaxis_title="input side (px)", yaxis=dict(title="GMACs per image", type="log"), height=360,
                      margin=dict(t=20, b=40, l=50, r=10))
    st.plotly_chart(fig, width="stretch", key="fr_scaling")
    i = SCALING_SIZES.index(size)
    cols = st.columns(4)
    base = SCALING_SIZES.index(224)
    for col, k in zip(cols, COMPARED):
        col.metric(ARCHS[k].label, f"{macs[k][i]:.1f} GMACs", f"x{macs[k][i] / macs[k][base]:.1f} vs 224",
                   delta_color="off", delta_arrow="off")
    cols[3].metric("Attention share of ViT", f"{attention[i] / macs['vit_b_16'][i]:.0%}",
                   f"{tokens.vit_tokens(size):,} tokens", delta_color="off", delta_arrow="off")


# ---------------------------------------------------------------- NAS
def nas_lab() -> None:
    st.subheader("Let a search design the network")
    st.markdown(
        "Neural architecture search treats the design itself as the thing to optimise. Real searches (NASNet with "
        "reinforcement learning, AmoebaNet with evolution, DARTS with gradients) spent thousands of GPU hours. "
        "This one is small enough to watch: every candidate is a 3-stage CNN chosen by depth (blocks per stage), "
        "width, kernel size and whether its convs are depthwise-separable, trained for the same "
        f"{nas.EPOCHS} epochs on handwritten digits (16x16) and scored on the {1797 - nas.N_TRAIN} digits it never "
        "saw.")
    c1, c2, c3 = st.columns(3)
    strategy = c1.radio("Search", STRATEGIES, key="fr_strategy", horizontal=True,
                        index=STRATEGIES.index(ui.query_choice("search", STRATEGIES, STRATEGIES[1])))
    trials = c2.number_input("Trials", 1, 60, ui.query_number("trials", 1, 60, 10), key="fr_trials",
                             help=f"Each trial trains one network. At most {nas.MAX_TRIALS}.")
    seed = c3.number_input("Seed", 0, 10_000, ui.query_number("nseed", 0, 10_000, 0), key="fr_nseed")
    st.query_params.update(search=strategy, trials=str(trials), nseed=str(seed))
    if trials > nas.MAX_TRIALS:
        st.warning(f"The search is capped at {nas.MAX_TRIALS} trials to keep it short on a shared server.")
        trials = nas.MAX_TRIALS
    search = {"strategy": strategy, "trials": int(trials), "seed": int(seed)}
    if ui.job_button(f"Run the search: {trials} trials", "nas", search, key="fr_nas_run", type="primary"):
        ui.start_job("fr_nas_job", "nas", **search)
    result = ui.job_result("fr_nas_job")
    if result:
        pareto_view(result)
    st.markdown(
        "**From search to EfficientNet.** A search like this found EfficientNet-B0's building block (MBConv: "
        "depthwise-separable convs with squeeze-and-excitation). Its authors then asked how to make B0 bigger and "
        "found that growing depth, width and input resolution together, by fixed ratios (compound scaling), beats "
        "growing any one of them. The *Model Explorer* page has a what-if CNN with those three knobs.")


def pareto_view(trials: list[nas.Trial]) -> None:
    front = set(nas.pareto_front([(t.macs, t.accuracy) for t in trials]))
    frame = pd.DataFrame([t.row() | {"on the front": i in front} for i, t in enumerate(trials)])
    on = frame[frame["on the front"]].sort_values("MACs")
    fig = go.Figure([
        go.Scatter(x=frame.MACs, y=frame.accuracy, mode="markers", name="candidates", text=frame.architecture,
                   marker=dict(size=9, color="#9aa5b1")),
        go.Scatter(x=on.MACs, y=on.accuracy, mode="lines+markers+text", name="Pareto front", text=on.architecture,
                   textposition="top left", marker=dict(size=11, color="#d62728"), line=dict(shape="hv")),
    ])
    fig.update_layout(xaxis=dict(title="MACs per image (log)", type="log"),
                      yaxis=dict(title="test accuracy", tickformat=".0%"), height=400,
                      margin=dict(t=20, b=40, l=50, r=10))
    st.plotly_chart(fig, width="stretch", key="fr_pareto")
    st.caption(f"{len(front)} of {len(trials)} candidates are on the front: no other is at least as accurate for "
               "no more MACs. Architecture labels: d = blocks per stage, w = first-stage width, k = kernel, "
               "sep = depthwise-separable.")
    st.dataframe(frame.drop(columns=["depth", "width", "kernel", "separable"]), hide_index=True, width="stretch",
                 column_config={"accuracy": st.column_config.NumberColumn(format="percent"),
                                "seconds": st.column_config.NumberColumn(format="%.1f")})


# ---------------------------------------------------------------- pruning and int8
@st.fragment
def pruning_lab() -> None:
    st.subheader("Pruning: how many weights does the model need?")
    st.markdown("Global magnitude pruning (`torch.nn.utils.prune`) zeroes the smallest weights across every conv "
                "and linear layer of the shipped ShapesNet at once; nothing is retrained. Accuracy is measured on "
                "600 shapes it never saw.")
    pct = st.slider("Sparsity", 0, 95, ui.query_number("sparsity", 0, 95, 50), 5, format="%d%%", key="fr_sparsity")
    st.query_params["sparsity"] = str(pct)
    acc, nonzero, measured = cache.pruned_accuracy(pct / 100)
    base, total, _ = cache.pruned_accuracy(0.0)
    m1, m2, m3 = st.columns(3)
    m1.metric("Accuracy", f"{acc:.1%}", f"{(acc - base) * 100:+.1f} points", delta_color="normal")
    m2.metric("Nonzero parameters", f"{nonzero:,}", f"of {total:,}", delta_color="off", delta_arrow="off")
    m3.metric("Measured sparsity", f"{measured:.1%}", help="Zeros among the conv and linear weights")
    if st.toggle("Show accuracy at every sparsity (20 prunings, computed once per server)", key="fr_prune_curve"):
        levels = list(range(0, 100, 5))
        curve = [cache.pruned_accuracy(p / 100)[0] for p in levels]
        fig = go.Figure(go.Scatter(x=levels, y=curve, mode="lines+markers"))
        fig.add_vline(x=pct, line_dash="dash", line_color="grey")
        fig.update_layout(xaxis_title="sparsity (%)", yaxis=dict(title="accuracy", tickformat=".0%", range=[0, 1.05]),
                          height=300, margin=dict(t=20, b=40, l=50, r=10))
        st.plotly_chart(fig, width="stretch", key="fr_prune_fig")
        st.caption("Half the weights can go for free; past that the features break. Real pipelines prune in steps "
                   "and fine-tune between them. Zeros only save time with sparse kernels or when whole channels go.")


def quantization_lab() -> None:
    st.subheader("int8 quantization")
    st.markdown(
        "Storing weights and activations as 8-bit integers instead of 32-bit floats cuts memory by four and "
        "lets CPUs use integer vector units. The shipped ShapesNet is quantized with torchao's PT2E flow "
        "(export, observe activation ranges on 200 calibration shapes, convert) and its x86 quantizer, then "
        "compared with the float model on the same 600 held-out shapes.")
    if not st.button("Quantize ShapesNet to int8", key="fr_quant") and not st.session_state.get(
            "fr_quant_done"):
        return
    st.session_state["fr_quant_done"] = True
    report = cache.quantization_report()
    acc32, acc8, size32, size8 = report["acc32"], report["acc8"], report["bytes32"], report["bytes8"]
    st.dataframe(pd.DataFrame([
        {"model": "float32", "accuracy": acc32, "weights (KB)": size32 / 1024},
        {"model": "int8 (torchao)", "accuracy": acc8, "weights (KB)": size8 / 1024}]), hide_index=True,
        width="stretch", column_config={"accuracy": st.column_config.NumberColumn(format="percent"),
                                        "weights (KB)": st.column_config.NumberColumn(format="%.1f")})
    st.caption(f"{size32 / size8:.1f}x smaller, accuracy {(acc8 - acc32) * 100:+.1f} points. Weights are int8 per "
               "output channel; biases, scales and zero points stay wider.")
    batch = st.radio("Batch for timing", (1, 64), index=1, horizontal=True, key="fr_qbatch")
    if st.button("Time float32 vs int8 on this CPU, compiling each once per server", key="fr_qtime"):
        ui.start_job("fr_qtime_job", "int8_timing", lambda progress, stop: _time_quantized(int(batch), progress),
                     batch=int(batch))
    timed = ui.job_result("fr_qtime_job")
    if timed:
        rows, note = timed
        if note:
            st.warning(f"{note}. Only eager timings are shown; the int8 graph runs unfused (slower) without it.")
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", column_config={
            "ms per batch": st.column_config.NumberColumn(format="%.2f"),
            "speed vs float32 eager": st.column_config.NumberColumn(format="%.2fx")})
        st.caption("int8 only pays off when a compiler fuses quantize, conv and dequantize into int8 kernels "
                   "(torch.compile with Inductor here). On a model this small, at batch 1, the bookkeeping can "
                   "outweigh the cheaper arithmetic.")


def _time_quantized(batch: int, progress) -> tuple[list[dict], str]:
    x, _, _ = cache.compression_data()
    progress(0.1, "Compiling float32 and int8 graphs (once per server)...")
    fp32c, int8c, note = cache.compiled_pair(batch)
    eager32, int8 = cache.get_model("shapesnet").model, cache.quantized_shapesnet()
    named = [("float32, eager", eager32), ("int8, eager (unfused reference)", int8)]
    if fp32c is not None and int8c is not None:
        named += [("float32, compiled", fp32c), ("int8, compiled", int8c)]
    progress(0.8, "Timing...")
    return compress.latency_table(named, x, batch), note


# ---------------------------------------------------------------- beyond convolution
def beyond_convolution() -> None:
    st.subheader("Capsules, MLP-Mixers and hybrids")
    st.markdown("""
- **Capsule networks** (Sabour, Frosst and Hinton, 2017). Max pooling keeps *that* a feature fired, not *where*,
  so a face with its mouth above its eyes can still score as a face. A capsule is a group of neurons whose output
  vector encodes a part's pose (position, orientation, scale); *routing by agreement* sends a part's vote to the
  whole it agrees with. They generalised to new viewpoints with fewer examples on small benchmarks, but routing is
  slow and they have not scaled to ImageNet-size problems.
- **MLP-Mixer** (Tolstikhin et al., 2021) drops convolution and attention: one MLP mixes information across
  patches, another across channels. With hundreds of millions of images it competes; with a few thousand it has
  no built-in idea that nearby pixels belong together, which the lab below shows.
- **CNN + sequence models.** A CNN turns each video frame into a feature vector and an LSTM or transformer reads
  the sequence (video classification); a CNN encodes a photo and a recurrent decoder writes a caption. The
  temporal CNNs on the *Specialized CNNs* page are the all-convolutional alternative.
- **ConvNeXt** (2022) went the other way: a ResNet modernised step by step with transformer design choices
  (7x7 depthwise kernels, LayerNorm, GELU, fewer activations) until it matched Swin transformers.
""")
    st.markdown("**Lab: the same shapes, the same budget, convolution vs MLPs.**")
    n_train = st.select_slider("Training images", (1000, 2000, 4000), value=4000, key="fr_mix_n")
    mix = {"n_train": int(n_train)}
    if ui.job_button("Train SimpleCNN and an MLP-Mixer", "mixer", mix, key="fr_mix_run"):
        ui.start_job("fr_mix_job", "mixer", **mix)
    result = ui.job_result("fr_mix_job")
    if result:
        st.dataframe(pd.DataFrame([vars(c) for c in result]), hide_index=True, width="stretch", column_config={
            "accuracy": st.column_config.NumberColumn(format="percent"),
            "seconds": st.column_config.NumberColumn(format="%.1f")})
        st.caption("Both use Adam with a one-cycle schedule for 10 epochs on 32x32 shapes. The Mixer has more "
                   "parameters and still trails: it must learn from data what convolution assumes for free.")


main()
