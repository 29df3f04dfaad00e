"""Interpretability (course section 6): CAMs, saliency, occlusion, filters, activations, faithfulness."""
from __future__ import annotations

import hashlib

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core import cache, explain, ui
from core.data import draw_shape, make_shapes
from core.errors import CNNLabError
from core.features import feature_maps, first_conv, strongest_channels
from core.images import resize_to
from core.models import predict_indices, preprocess
from core.viz import COLORMAPS, channel_grid, filter_grid, outline, overlay, png_bytes, tile

INTRO = """
Which pixels made the model say *cat*? Each method below answers that differently. **CAMs** weight
a conv layer's feature maps by how much they matter for the class (Grad-CAM uses gradients,
Score-CAM uses the score itself, Eigen-CAM the main component of the maps). **Saliency** is the
gradient of the class score with respect to each pixel; **SmoothGrad** averages it over noisy
copies. **Occlusion** hides one patch at a time and records how much the score drops. Then check
whether a map is *faithful*: does deleting what it highlights really hurt the score, and does it
change when the model's weights are scrambled?
"""
MODELS = ("shapesnet", "simplecnn_shapes", "resnet18", "mobilenet_v3_small", "efficientnet_b0", "resnet50")
FAST = [m for m in explain.CAM_METHODS if m not in explain.SLOW_METHODS]


def main() -> None:
    ui.route_through_home()
    st.title("Interpretability")
    st.markdown(INTRO)
    left, right = st.columns(2)
    with left:
        photo = ui.image_picker("xai", default_sample="Cat (chelsea)")
    with right:
        loaded = ui.model_picker(MODELS, "xai", extra=ui.session_trained_models())
    if photo is not None and loaded is not None:
        explain_view(photo.pixels, loaded)
    if loaded is not None:
        st.divider()
        pointing_game_view(loaded)
    st.divider()
    ui.quiz("interpretability")


def explain_view(pixels: np.ndarray, loaded) -> None:
    spec = loaded.spec
    x = preprocess(pixels, spec)
    if max(pixels.shape[:2]) > 2 * spec.input_size or min(pixels.shape[:2]) < spec.input_size // 2:
        st.caption(f"The photo ({pixels.shape[1]}x{pixels.shape[0]}) is resized to {spec.input_size}x"
                   f"{spec.input_size} for this model; maps are drawn back over the full photo.")
    preds = predict_indices(loaded, x)
    shapes = cache.layer_shapes(spec.key, _loaded=loaded)
    layers = explain.spatial_layers(shapes)
    n = len(loaded.class_names)
    top = [i for i, _ in preds]
    options = top + [i for i in range(n) if i not in top]  # the top-5 first, then every class
    linked = ui.query_number("cls", 0, n - 1, top[0])
    cls_col, layer_col = st.columns(2)
    target = cls_col.selectbox("Target class (top-5 listed first)", options, index=options.index(linked),
                               key=f"xai_cls_{spec.key}", format_func=lambda i: f"{loaded.class_names[i]} ({i})")
    default_layer = spec.target_layer if spec.target_layer in layers else layers[-1]
    layer = layer_col.selectbox("Target layer", layers, key=f"xai_layer_{spec.key}",
                                index=layers.index(ui.query_choice("layer", layers, default_layer)),
                                format_func=lambda name: f"{name}  ({' x '.join(map(str, shapes[name]))})")
    st.query_params.update(cls=str(target), layer=layer)
    st.markdown("Top-5: " + ", ".join(f"**{loaded.class_names[i]}** {p:.1%}" for i, p in preds))
    live_methods(pixels, loaded, x, target, layer)
    slow_methods(pixels, loaded, x, target, layer)
    inside_the_model(pixels, loaded, x)
    faithfulness(pixels, loaded, x, target, layer)


def _cam(loaded, x, method, layer, target):
    try:
        return explain.CAMS.get_or_compute(loaded, x, method, layer, target)
    except CNNLabError as err:
        st.error(str(err))
        return None


@st.fragment
def live_methods(pixels, loaded, x, target, layer) -> None:
    st.subheader("Class activation maps and saliency")
    m_col, a_col, c_col = st.columns([2, 2, 1])
    methods = FAST + ["Saliency"]
    method = m_col.radio("Method", methods, horizontal=True, key="xai_method",
                         index=methods.index(ui.query_choice("method", methods, "Grad-CAM")))
    alpha = a_col.slider("Overlay opacity", 0.0, 1.0, ui.query_number("alpha", 0.0, 1.0, 0.5), 0.05, key="xai_alpha")
    cmap = c_col.selectbox("Colormap", [c for c in COLORMAPS if c != "gray"], key="xai_cmap")
    st.query_params.update(method=method, alpha=f"{alpha:g}")
    maps = {m: _cam(loaded, x, m, layer, target) for m in FAST}
    maps["Saliency"] = explain.saliency(loaded, x, target)
    heat = maps[method]
    if heat is None:
        return
    shown = overlay(pixels, heat, alpha, cmap)
    big, grid = st.columns([3, 2])
    big.image(shown, caption=f"{method} for '{loaded.class_names[target]}'"
              + ("" if method == "Saliency" else f" at {layer}"), width="stretch")
    big.download_button("Download overlay (PNG)", png_bytes(shown), f"{loaded.spec.key}_{method}.png",
                        "image/png", key="xai_download")
    ready = {m: h for m, h in maps.items() if h is not None}
    thumbs = [resize_to(overlay(pixels, h, alpha, cmap), (160, 160)) for h in ready.values()]
    grid.image(tile(thumbs, cols=3), width="stretch", caption="Side by side: " + ", ".join(ready) + ".")


def _top_class(loaded, x) -> int:
    return predict_indices(loaded, x, 1)[0][0]


def slow_methods(pixels, loaded, x, target, layer) -> None:
    st.subheader("Slower methods")
    side = x.shape[-1]
    p_col, s_col = st.columns(2)
    patch = p_col.slider("Occlusion patch (model pixels)", 2, max(4, side // 2), max(2, side // 8), key="xai_patch")
    stride = s_col.slider("Occlusion stride", 1, patch, max(1, patch // 2), key="xai_stride")
    key = (loaded.spec.key, hashlib.blake2b(x.numpy().tobytes(), digest_size=8).hexdigest(), target, layer, patch, stride)
    passes = explain.occlusion_passes(side, patch, stride)
    if st.button(f"Run Score-CAM, SmoothGrad and occlusion ({passes} occlusion passes)", key="xai_slow"):
        with st.status("Computing...", expanded=True) as status:
            status.write("Score-CAM: one forward pass per channel of the layer...")
            score = _cam(loaded, x, "Score-CAM", layer, target)
            status.write("SmoothGrad: 16 noisy gradients...")
            smooth = explain.smoothgrad(loaded, x, target)
            status.write(f"Occlusion: {passes} forward passes with a grey patch...")
            try:
                occ = explain.occlusion(loaded, x, target, patch, stride)
            except CNNLabError as err:
                st.error(str(err))
                occ = None
            status.update(label="Done", state="complete")
        st.session_state["xai_slow_result"] = (key, score, smooth, occ)
    stored = st.session_state.get("xai_slow_result")
    if not stored or stored[0] != key:
        st.caption("These take longer on a large model, so they run on request.")
        return
    _, score, smooth, occ = stored
    cols = st.columns(3)
    if score is not None:
        cols[0].image(overlay(pixels, score, 0.5), caption="Score-CAM", width="stretch")
    cols[1].image(overlay(pixels, smooth, 0.5), caption="SmoothGrad", width="stretch")
    if occ is not None:
        cols[2].image(overlay(pixels, np.clip(occ, 0, None), 0.5), width="stretch",
                      caption=f"Occlusion: drop in probability, up to {occ.max():.1%} (patch {patch}, stride {stride})")


def inside_the_model(pixels, loaded, x) -> None:
    st.subheader("Inside the model")
    f_col, a_col = st.columns(2)
    conv = first_conv(loaded.model)
    f_col.image(filter_grid(conv.weight), caption=f"First-layer filters ({conv.out_channels} of "
                f"{conv.kernel_size[0]}x{conv.kernel_size[1]})", width="stretch")
    shapes = cache.layer_shapes(loaded.spec.key, _loaded=loaded)
    layers = explain.spatial_layers(shapes)
    chosen = a_col.selectbox("Activation maps of layer", layers, key=f"xai_act_{loaded.spec.key}")
    fmap = feature_maps(loaded, x, [chosen])[0][chosen]
    top = strongest_channels(fmap, min(16, fmap.shape[0]))
    a_col.image(channel_grid(fmap, top), width="stretch",
                caption=f"{chosen}: the {len(top)} strongest of {fmap.shape[0]} channels, strongest first.")


def faithfulness(pixels, loaded, x, target, layer) -> None:
    st.subheader("Is the map faithful?")
    method = st.session_state.get("xai_method", "Grad-CAM")
    method = method if method in explain.CAM_METHODS else "Grad-CAM"
    heat = _cam(loaded, x, method, layer, target)
    if heat is None:
        return
    f, p = explain.deletion_curve(loaded, x, heat, target)
    fr, pr = explain.deletion_curve(loaded, x, heat, target, order="random")
    fig = go.Figure([go.Scatter(x=f, y=p, name=f"{method} order (area {explain.area_under(f, p):.3f})"),
                     go.Scatter(x=fr, y=pr, name=f"random order (area {explain.area_under(fr, pr):.3f})",
                                line=dict(dash="dash"))])
    fig.update_layout(title="Deletion curve: probability as the most salient regions are blurred away",
                      height=340, xaxis=dict(title="fraction of the image removed", tickformat=".0%"),
                      yaxis=dict(title=f"P({loaded.class_names[target]})", range=[0, 1.02]))
    st.plotly_chart(fig, width="stretch")
    st.caption("A faithful map finds the evidence first, so its curve drops faster than deleting regions at random.")
    if st.button("Sanity check: the same CAM on a model with scrambled weights", key="xai_sanity"):
        with st.spinner("Copying the model and re-initialising every layer..."):
            scrambled = explain.cam(explain.randomized_copy(loaded), x, method, layer, target)
        a, b = st.columns(2)
        a.image(overlay(pixels, heat, 0.5), caption=f"{method}, trained weights", width="stretch")
        b.image(overlay(pixels, scrambled, 0.5), caption=f"{method}, scrambled weights", width="stretch")
        rho = explain.rank_similarity(heat, scrambled)
        verdict = "they differ, so the method depends on what the model learned" if rho < 0.5 else \
            "they are similar: this map says more about the image than about the model"
        st.markdown(f"Rank correlation between the two maps: **{rho:.2f}**; {verdict}.")


@st.fragment
def pointing_game_view(loaded) -> None:
    st.subheader("The pointing game on shapes with known masks")
    st.markdown("Synthetic shapes come with the exact object mask. A map *points* correctly when its peak "
                "lies on the object (within 15 px at 224 px, scaled, as in Zhang et al.).")
    spec = loaded.spec
    seed = st.number_input("Shape seed", 0, 10_000, 0, key="xai_pg_seed")
    img, mask = draw_shape(("circle", "square", "triangle", "star", "cross")[seed % 5], 64,
                           np.random.default_rng(seed))
    x = preprocess(img, spec)
    cls = _top_class(loaded, x)
    layers = explain.spatial_layers(cache.layer_shapes(spec.key, _loaded=loaded))
    layer = spec.target_layer if spec.target_layer in layers else layers[-1]
    heat = _cam(loaded, x, "Grad-CAM", layer, cls)
    if heat is None:
        return
    hit = explain.pointing_game(heat, mask)
    big = np.kron(img, np.ones((4, 4, 1), np.uint8))
    peak = np.unravel_index(np.argmax(heat), heat.shape)
    shown = outline(overlay(big, heat, 0.45), mask)
    a, b = st.columns([1, 2])
    a.image(shown, width=256, caption=f"Grad-CAM for '{loaded.class_names[cls]}', white = true object outline")
    b.markdown(f"Peak at row {peak[0]}, column {peak[1]} of the {heat.shape[0]}x{heat.shape[1]} map: "
               f"**{'hit' if hit else 'miss'}**.")
    if b.button("Play 100 held-out shapes", key="xai_pg_run"):
        data = make_shapes(100, seed=777)
        hits = 0
        bar = b.progress(0.0, text="Playing...")
        for i, (im, m) in enumerate(zip(data.images, data.masks)):
            xi = preprocess(im, spec)
            hi = _cam(loaded, xi, "Grad-CAM", layer, _top_class(loaded, xi))
            hits += bool(hi is not None and explain.pointing_game(hi, m))
            bar.progress((i + 1) / 100, text=f"{i + 1} of 100")
        b.metric("Pointing game (Grad-CAM, top class)", f"{hits / 100:.0%}")


main()
