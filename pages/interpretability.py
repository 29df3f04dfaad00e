"""Interpretability (course section 6): CAMs, saliency, occlusion, filters, activations, faithfulness."""
from __future__ import annotations

import hashlib
import time

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core import cache, cams, explain, recipes, ui
from core.data import SHAPE_CLASSES
from core.cpu import one_thread
from core.errors import CNNLabError
from core.features import feature_maps, first_conv, strongest_channels
from core.images import resize_to
from core.models import ASSETS, NONE_BELOW, REGISTRY, predict_indices, preprocess, sees_nothing
from core.viz import COLORMAPS, channel_grid, filter_grid, outline, overlay, png_bytes, tile

INTRO = """
Which pixels made the model give its answer? Each method below answers that differently. **CAMs**
weight a conv layer's feature maps by how much they matter for one class (Grad-CAM uses gradients,
Score-CAM uses the score itself, Eigen-CAM the main component of the maps). **Saliency** is the
gradient of the class score with respect to each pixel; **SmoothGrad** averages it over noisy
copies. **Occlusion** hides one patch at a time and records how much the score drops. Then check
whether a map is *faithful*: does deleting what it highlights really hurt the score, does it change
when the model's weights are scrambled, and does its peak land on the object more often than a guess?
"""
MODELS = ("shapesnet", "simplecnn_shapes", "resnet18", "mobilenet_v3_small", "efficientnet_b0", "resnet50")
FAST = [m for m in explain.CAM_METHODS if m not in explain.SLOW_METHODS]
LIVE = FAST + [explain.SALIENCY]  # the methods drawn side by side, made for a class in one go
POINTING_SCENES = 150


def main() -> None:
    ui.route_through_home()
    st.title("Interpretability")
    st.markdown(INTRO)
    default_model, default_source = ui.photo_defaults()
    left, right = st.columns(2)
    with left:
        photo = ui.image_picker("xai", default_sample="Cat (chelsea)", default_source=default_source)
    with right:
        loaded = ui.model_picker(MODELS, "xai", extra=ui.session_trained_models(), default=default_model)
    if photo is not None and loaded is not None:
        explain_view(photo, loaded)
    if loaded is not None:
        st.divider()
        pointing_game_view(loaded)
    st.divider()
    ui.quiz("interpretability")


def explain_view(photo, loaded) -> None:
    pixels, spec = photo.pixels, loaded.spec
    x = preprocess(pixels, spec)
    if max(pixels.shape[:2]) > 2 * spec.input_size or min(pixels.shape[:2]) < spec.input_size // 2:
        st.caption(f"The photo ({pixels.shape[1]}x{pixels.shape[0]}) is resized to {spec.input_size}x"
                   f"{spec.input_size} for this model; maps are drawn back over the full photo.")
    preds = predict_indices(loaded, x)
    answer_line(loaded, preds)
    ui.scene_caveat(loaded, photo)
    maps_for_a_class(photo, loaded, x, preds)
    inside_the_model(pixels, loaded, x)


@st.fragment
def maps_for_a_class(photo, loaded, x, preds) -> None:
    """Everything that depends on the target class and layer. A new class reruns only this part (the
    photo, the model and its prediction are unchanged), and its selected map is drawn first."""
    pixels, spec = photo.pixels, loaded.spec
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
    truth = photo.scene.mask(target) if photo.scene is not None and loaded.class_names == SHAPE_CLASSES else None
    st.subheader("Class activation maps and saliency")
    # The method is read here, not in the live fragment: the deletion curve and the sanity check follow it.
    method = st.radio("Method", LIVE, horizontal=True, key="xai_method",
                      index=LIVE.index(ui.query_choice("method", LIVE, "Grad-CAM")))
    st.query_params.update(method=method)
    live_methods(pixels, loaded, x, method, target, layer, truth)
    slow_methods(pixels, loaded, x, target, layer)
    # What fills in below the selected overlay runs on one core, leaving the other to the browser that is
    # drawing the overlay (and to other sessions).
    with one_thread():
        faithfulness(pixels, loaded, x, method, target, layer)
        torchcam_methods(pixels, loaded, x, target, layer)
        agreement_panel(pixels, loaded, x, target, layer)
    # The top-5's live maps, made after everything above is drawn: a switch to one of them only draws them.
    explain.prefetch(loaded, x, LIVE, layer, top)


def answer_line(loaded, preds) -> None:
    names = loaded.class_names
    if not loaded.spec.multilabel:
        st.markdown("Top-5: " + ", ".join(f"**{names[i]}** {p:.1%}" for i, p in preds))
        return
    st.markdown("Each class's own probability (one sigmoid each): "
                + ", ".join(f"**{names[i]}** {p:.0%}" if p >= NONE_BELOW else f"{names[i]} {p:.0%}" for i, p in preds))
    if sees_nothing(loaded.spec, preds):
        st.info(f"The model finds **none of its classes** here (highest {names[preds[0][0]]} at {preds[0][1]:.0%}). "
                "A map for a class it does not see only shows where its scant evidence lies; pick the *Synthetic "
                "shapes* source for maps of objects it knows.")


def _cam(loaded, x, method, layer, target):
    return _maps(loaded, x, [method], layer, target).get(method)


def _maps(loaded, x, methods, layer, target) -> dict:
    """The methods' maps, or {} with the reason shown."""
    try:
        return explain.CAMS.get_or_compute_many(loaded, x, methods, layer, target)
    except CNNLabError as err:
        st.error(str(err))
        return {}


@st.fragment
def live_methods(pixels, loaded, x, method, target, layer, truth) -> None:
    """The selected map, large, then the side by side grid and the code that makes the map. Opacity and
    colormap rerun only this part."""
    a_col, c_col = st.columns([3, 1])
    alpha = a_col.slider("Overlay opacity", 0.0, 1.0, ui.query_number("alpha", 0.0, 1.0, 0.5), 0.05, key="xai_alpha")
    cmap = c_col.selectbox("Colormap", [c for c in COLORMAPS if c != "gray"], key="xai_cmap")
    st.query_params.update(alpha=f"{alpha:g}")
    name = loaded.class_names[target]
    big, grid = st.columns([3, 2])
    # The map that was asked for is computed and drawn first; the side-by-side grid follows.
    heat = _cam(loaded, x, method, layer, target)
    if heat is None:
        return
    shown = overlay(pixels, heat, alpha, cmap)
    if truth is not None and truth.any():
        shown = outline(shown, truth)
    ui.picture(big, shown, f"{method} for '{name}'" + ("" if method == explain.SALIENCY else f" at {layer}"))
    if truth is not None:
        big.markdown(peak_verdict(heat, truth, name))
    big.download_button("Download overlay (PNG)", lambda: png_bytes(shown),
                        f"{loaded.spec.key}_{method}_class{target}_{layer}.png", "image/png",
                        key="xai_download")  # encoded when clicked, not on every move
    with one_thread():  # the grid fills in while the browser draws the overlay (see maps_for_a_class)
        ready = _maps(loaded, x, LIVE, layer, target)
    if ready:
        thumbs = [resize_to(overlay(pixels, h, alpha, cmap), (160, 160)) for h in ready.values()]
        grid.image(tile(thumbs, cols=3), width="stretch", caption="Side by side: " + ", ".join(ready) + ".")
    code_behind(pixels, loaded, method, target, layer, alpha, cmap)


def peak_verdict(heat: np.ndarray, truth: np.ndarray, name: str) -> str:
    """Where the map's peak lies, against the scene's true pixels of that class (white outline)."""
    if not truth.any():
        return f"There is no {name} in this scene (and the map still has a peak somewhere: a map always does)."
    h, w = truth.shape
    big = explain.cv2_resize(heat, (w, h))
    peak = np.unravel_index(np.argmax(big), big.shape)
    if explain.is_flat(heat):
        return f"The map is flat: the model finds no positive evidence for {name} at this layer."
    if explain.point_on(truth, peak, explain.pointing_tolerance(max(h, w))):
        return f"Its peak lies **on the {name}** (white outline): the map points at the object."
    return f"Its peak lies **off the {name}** (white outline): here the map does not point at the object."


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
        st.caption("Score-CAM and occlusion cost one forward pass per channel or patch position, so they run "
                   "on request.")
        return
    _, score, smooth, occ = stored
    cols = st.columns(3)
    if score is not None:
        ui.picture(cols[0], overlay(pixels, score, 0.5), "Score-CAM")
    ui.picture(cols[1], overlay(pixels, smooth, 0.5), "SmoothGrad")
    if occ is not None:
        ui.picture(cols[2], overlay(pixels, np.clip(occ, 0, None), 0.5),
                   f"Occlusion: drop in probability, up to {occ.max():.1%} (patch {patch}, stride {stride})")


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


def faithfulness(pixels, loaded, x, method, target, layer) -> None:
    st.subheader("Is the map faithful?")
    heat = _cam(loaded, x, method, layer, target)
    if heat is None:
        return
    name = loaded.class_names[target]
    f, p = explain.deletion_curve(loaded, x, heat, target)
    fr, pr = explain.deletion_curve(loaded, x, heat, target, order="random")
    fig = go.Figure([go.Scatter(x=f, y=p, name=f"{method} order (area {explain.area_under(f, p):.3f})"),
                     go.Scatter(x=fr, y=pr, name=f"random order (area {explain.area_under(fr, pr):.3f})",
                                line=dict(dash="dash"))])
    fig.update_layout(title="Deletion curve: probability as the most salient regions are blurred away",
                      height=340, xaxis=dict(title="fraction of the image removed", tickformat=".0%"),
                      yaxis=dict(title=f"P({name})", range=[0, 1.02]))
    st.plotly_chart(fig, width="stretch")
    st.caption("A faithful map finds the evidence first, so its curve drops faster than deleting regions at random.")
    key = (loaded.spec.key, hashlib.blake2b(x.numpy().tobytes(), digest_size=8).hexdigest(), method, layer, target)
    if st.button("Sanity check: the same CAM on a model with scrambled weights", key="xai_sanity"):
        with st.spinner("Copying the model and re-initialising every layer..."):
            scrambled = explain.attribution(explain.randomized_copy(loaded), x, method, layer, target)
        st.session_state["xai_sanity_result"] = (key, scrambled)
    stored = st.session_state.get("xai_sanity_result")
    if stored and stored[0] == key:
        sanity_result(pixels, heat, stored[1], method, name)


def sanity_result(pixels, heat, scrambled, method: str, name: str) -> None:
    a, b = st.columns(2)
    ui.picture(a, overlay(pixels, heat, 0.5), f"{method}, trained weights")
    ui.picture(b, overlay(pixels, scrambled, 0.5), f"{method}, scrambled weights")
    try:
        rho = explain.rank_similarity(heat, scrambled)
    except CNNLabError as err:
        which = "trained model's" if explain.is_flat(heat) else "scrambled model's"
        st.warning(f"No verdict: the {which} map is flat. {err} A flat {method} means the model finds no "
                   f"positive evidence for '{name}' at this layer; pick a class the model sees.")
        return
    verdict = "they differ, so the method depends on what the model learned" if rho < 0.5 else \
        "they are similar: this map says more about the image than about the model"
    st.markdown(f"Rank correlation between the two maps: **{rho:.2f}**; {verdict}.")


@st.fragment
def pointing_game_view(loaded) -> None:
    st.subheader("The pointing game on scenes with known masks")
    st.markdown(
        "A synthetic scene knows every pixel's class. For each class present, the model's Grad-CAM for that "
        "class *points* correctly when its peak lies on that class's shapes (within 15 px at 224 px, scaled, as "
        "in Zhang et al.). Two baselines play the same trials: a guess at the **image centre** and a **random "
        "peak**. A map that only found \"something in the middle\" ties with the centre guess.")
    if loaded.class_names != SHAPE_CLASSES:
        st.caption("The game needs a model that knows the five shapes: ShapesNet, SimpleCNN, or a model trained "
                   "on synthetic shapes on the Training page.")
        return
    spec = loaded.spec
    layers = explain.spatial_layers(cache.layer_shapes(spec.key, _loaded=loaded))
    layer = spec.target_layer if spec.target_layer in layers else layers[-1]
    scenes = cache.pointing_scenes(POINTING_SCENES)
    example_trials(loaded, scenes[0], layer)
    key = (spec.key, layer)
    if st.button(f"Play all {POINTING_SCENES} held-out scenes", key="xai_pg_run"):
        bar = st.progress(0.0, text="Playing...")
        start = time.perf_counter()

        def progress(done: int, total: int) -> None:
            left = (time.perf_counter() - start) / done * (total - done)
            bar.progress(done / total, text=f"{done} of {total} scenes, {left:.0f} s left")

        st.session_state["xai_pg_result"] = (key, explain.pointing_game_scenes(loaded, scenes, layer,
                                                                               progress=progress))
        bar.empty()
    stored = st.session_state.get("xai_pg_result")
    if stored and stored[0] == key:
        scores = stored[1]
        a, b, c = st.columns(3)
        a.metric(f"Pointing game, Grad-CAM at {layer}", f"{scores.cam:.0%}")
        b.metric("Centre guess, same trials", f"{scores.centre:.0%}")
        c.metric("Random peak, same trials", f"{scores.random:.0%}")
        st.caption(f"{scores.trials} trials: one per class present in each of {POINTING_SCENES} scenes the model "
                   "never saw.")


def example_trials(loaded, scene, layer: str) -> None:
    """One held-out scene's trials, drawn: each class present, its map, the class's outline, hit or miss."""
    x = preprocess(scene.image, loaded.spec)
    images, captions = [], []
    tol = explain.pointing_tolerance(max(scene.labels.shape))
    for k in np.flatnonzero(scene.present()):
        heat = _cam(loaded, x, "Grad-CAM", layer, int(k))
        if heat is None:
            return
        full = explain.cv2_resize(heat, scene.labels.shape[::-1])
        hit = explain.point_on(scene.mask(int(k)), np.unravel_index(np.argmax(full), full.shape), tol)
        big = np.kron(scene.image, np.ones((3, 3, 1), np.uint8))
        images.append(outline(overlay(big, heat, 0.45), np.kron(scene.mask(int(k)), np.ones((3, 3), bool))))
        captions.append(f"{loaded.class_names[k]}: {'hit' if hit else 'miss'}")
    st.image(images, caption=captions, width=192)


# ---------------------------------------------------------------- torchcam (section 11)
def torchcam_methods(pixels, loaded, x, target, layer) -> None:
    st.subheader("More CAMs from torchcam")
    st.markdown("torchcam adds methods pytorch-grad-cam lacks: the original **CAM** (class weights of a global-average-"
                "pool head, no gradients), **SmoothGrad-CAM++** (Grad-CAM++ averaged over noisy inputs), **SS-CAM** "
                "(Score-CAM with noisy masks) and **IS-CAM** (Score-CAM integrated over mask strengths).")
    why = cams.unavailable("CAM (torchcam)", loaded, x, layer)
    cols = st.columns(4)
    if why:
        cols[0].info(why)
    else:
        ui.picture(cols[0], overlay(pixels, _torchcam(loaded, x, "CAM (torchcam)", layer, target), 0.5),
                   f"CAM (torchcam) for '{loaded.class_names[target]}' at {layer}")
    slow = [m for m in cams.TORCHCAM_METHODS if m not in cams.LIVE]
    key = ("xai_tc", loaded.spec.key, target, layer, hashlib.blake2b(x.numpy().tobytes(), digest_size=8).hexdigest())
    if st.button("Run SmoothGrad-CAM++, SS-CAM and IS-CAM (torchcam)", key="xai_torchcam"):
        with st.spinner("Noisy and masked forward passes..."):
            st.session_state["xai_tc_result"] = (key, {m: cams.unavailable(m, loaded, x, layer) or
                                                       _torchcam(loaded, x, m, layer, target) for m in slow})
    stored = st.session_state.get("xai_tc_result")
    if stored and stored[0] == key:
        for col, (m, result) in zip(cols[1:], stored[1].items()):
            if isinstance(result, str):
                col.info(result)
            elif result is not None:
                ui.picture(col, overlay(pixels, result, 0.5), m)


def _torchcam(loaded, x, method, layer, target):
    try:
        return cams.torchcam_map(loaded, x, method, layer, target)
    except CNNLabError as err:
        st.error(str(err))
        return None


def agreement_panel(pixels, loaded, x, target, layer) -> None:
    st.subheader("Two libraries, one Grad-CAM")
    try:
        agree = cams.agreement(loaded, x, layer, target)
    except CNNLabError as err:
        st.error(str(err))
        return
    a, b, c = st.columns(3)
    ui.picture(a, overlay(pixels, agree.pytorch_grad_cam, 0.5), "pytorch-grad-cam GradCAM")
    ui.picture(b, overlay(pixels, agree.torchcam, 0.5), "torchcam GradCAM")
    c.metric("Pearson correlation over all pixels", f"{agree.correlation:.4f}")
    h, w = agree.torchcam_raw.shape
    c.markdown(f"Two independent implementations, same model, layer (`{layer}`) and class: agreement is evidence "
               "that neither has a bug. Where they differ, it is by design: pytorch-grad-cam scales the map to "
               f"[0, 1] and enlarges it to the input with OpenCV; torchcam returns it at the layer's {h}x{w} and "
               "normalises with a different epsilon, so here it is enlarged with bilinear interpolation (pixel "
               "centres aligned, like OpenCV) and scaled again before comparing.")


def code_behind(pixels, loaded, method, target, layer, alpha, cmap) -> None:
    if loaded.spec.key not in REGISTRY:
        st.caption("The code behind this view is offered for the registry models; a model trained on the Training "
                   "Monitor lives only in this session.")
        return
    files = [("The photo as the app saw it (PNG)", lambda: png_bytes(pixels), "photo.png")]
    if loaded.spec.kind == "shipped":
        weights = ASSETS / f"{loaded.spec.key}.safetensors"
        files.append((f"Weights ({weights.name})", weights.read_bytes, weights.name))
    ui.code_behind(lambda: recipes.cam_script(loaded.spec.key, method, layer, target, alpha, cmap), "xai_code", files)


main()
