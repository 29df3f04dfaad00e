"""CNNs in the wild (course section 9): shortcut learning, visual search, tiling big images, style
transfer and what deployment costs, each as a lab that runs here on the CPU."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import cache, deploy, shortcut, similarity, style, tiling, ui
from core.data import SHAPE_CLASSES
from core.errors import CNNLabError
from core.images import ACCEPTED_TEXT, SAMPLE_PHOTOS, decode_image
from core.segmentation import mask_rgb
from core.viz import outline, overlay, upscale

INTRO = """
Outside the classroom, CNNs read chest CT scans, map farmland from orbit, find the sofa that looks like
the one in your photo and repaint holidays in the style of Van Gogh. One well-known case: Google Health
trained 3D CNNs on low-dose chest CT and reported higher sensitivity for lung cancer than the average
radiologist in their study, with saliency maps showing the nodules the model relied on (the
*3D MRI Viewer* page runs a small 3D CNN and its Grad-CAM). Each lab below takes one lesson from the
field and lets you measure it: **what a model learns is not always what you meant**, similarity
search, large images, art, and the price of deployment.
"""
QUERY_MODELS = ("shapesnet", "resnet18")
CANVASES = ("512x512", "768x1024", "1024x1024", "1536x2048", "2048x2048")


def main() -> None:
    ui.route_through_home()
    st.title("CNNs in the wild")
    st.markdown(INTRO)
    bias, search, tiles, art, deploy_tab = st.tabs(
        ["Bias & shortcuts", "Visual search (retail)", "Tiling big images (geospatial)", "Style transfer (art)",
         "Deployment reality"])
    with bias:
        bias_lab()
    with search:
        similarity_lab()
    with tiles:
        tiling_lab()
    with art:
        style_lab()
    with deploy_tab:
        deployment_lab()
    st.divider()
    ui.quiz("wild")


# ---------------------------------------------------------------- bias and shortcut learning
def bias_lab() -> None:
    st.subheader("When the background gives the answer away")
    st.markdown(
        "A training set can carry a cue that predicts the label by accident: hospital scanners that differ "
        "between sick and healthy patients, snow behind every wolf. Here every shape class owns a background "
        "colour. The slider sets how often a training image gets its class's colour (the rest get any of the "
        "five). The course's SimpleCNN is trained on that, then tested twice: on images drawn the same way "
        "(**matched**) and on images whose colour says nothing about the class (**broken**). A second model "
        "is trained on the same images with the hue turned at random (colour-jitter augmentation), so colour "
        "stops being a clue.")
    cue = st.slider("Colour cue in the training set", 0, 100, ui.query_number("cue", 0, 100, 100), 5, format="%d%%",
                    key="wild_cue")
    st.query_params["cue"] = str(cue)
    preview = shortcut.make_biased_shapes(10, cue / 100, seed=7)
    st.image([upscale(img, 64) for img in preview.images],
             caption=[preview.class_names[k] for k in preview.labels], width=64)
    run_col, sweep_col = st.columns(2)
    lab = {"correlation": cue / 100}
    if ui.job_button("Train both models", "bias_lab", lab, key="wild_bias_run", where=run_col, type="primary"):
        ui.start_job("wild_bias_job", "bias_lab", **lab)
    if ui.job_button("Sweep the cue: 0, 50, 80, 95, 100%", "bias_sweep", {}, key="wild_bias_sweep", where=sweep_col):
        ui.start_job("wild_sweep_job", "bias_sweep")
    result = ui.job_result("wild_bias_job")
    if result is not None:
        bias_result(*result)
    curve = ui.job_result("wild_sweep_job")
    if curve:
        sweep_chart(curve)


def bias_result(plain: shortcut.ShortcutResult, fixed: shortcut.ShortcutResult) -> None:
    rows = [{"model": "plain training" if not r.hue_augment else "random hue turns (the fix)",
             "matched test": r.matched_acc, "broken test": r.broken_acc,
             "Grad-CAM on the shape": r.cam_on_shape, "seconds": r.seconds} for r in (plain, fixed)]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", column_config={
        "matched test": st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1),
        "broken test": st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1),
        "Grad-CAM on the shape": st.column_config.NumberColumn(format="percent"),
        "seconds": st.column_config.NumberColumn(format="%.1f")})
    st.caption(f"Trained with a {plain.correlation:.0%} colour cue. Answering with the background colour alone "
               f"scores {plain.colour_only_acc:.0%} on the broken test (chance is 20%). The shape covers "
               f"{plain.shape_area:.0%} of an image on average, so a Grad-CAM that ignored it would put about that "
               "share on it; the column gives the share over 100 broken-test images.")
    gap = plain.matched_acc - plain.broken_acc
    if gap > 0.3:
        st.warning(f"The plain model loses {gap:.0%} when the colour stops matching: it learned the colour, not "
                   "the shape. Its Grad-CAM spreads over the background.")
    for r in (plain, fixed):
        st.markdown(f"**{'Plain training' if not r.hue_augment else 'With random hue turns'}**: Grad-CAM of the true "
                    "class on broken-test images (white outline = the shape)")
        names = r.examples.class_names
        st.image([upscale(outline(overlay(img, cam, 0.5), mask), 128)
                  for img, cam, mask in zip(r.examples.images, r.cams, r.examples.masks)],
                 caption=[f"{names[t]}; said {names[p]}" for t, p in zip(r.examples.labels, r.predictions)], width=128)


def sweep_chart(results: list[shortcut.ShortcutResult]) -> None:
    x = [r.correlation for r in results]
    fig = go.Figure([go.Scatter(x=x, y=[r.matched_acc for r in results], name="matched test", mode="lines+markers"),
                     go.Scatter(x=x, y=[r.broken_acc for r in results], name="broken test", mode="lines+markers"),
                     go.Scatter(x=x, y=[r.cam_on_shape for r in results], name="Grad-CAM share on the shape",
                                mode="lines+markers", line=dict(dash="dot"))])
    fig.update_layout(title="Stronger cue, worse model: plain training at each cue strength",
                      xaxis=dict(title="colour cue in training", tickformat=".0%"),
                      yaxis=dict(range=[0, 1.05], tickformat=".0%"), height=340, margin=dict(t=40, b=40, l=50, r=10))
    st.plotly_chart(fig, width="stretch", key="wild_sweep_fig")


# ---------------------------------------------------------------- visual similarity search
def similarity_lab() -> None:
    st.subheader("More like this: search a gallery by CNN embeddings")
    st.markdown(
        "A shop embeds every product photo once: the CNN's pooled features become a vector, and similar "
        "photos get vectors pointing the same way. A query is embedded too and the gallery is ranked by "
        "cosine similarity. The gallery here holds scikit-image's photos and shapes scenes in 12 variants "
        "each (mirrored, cropped, recoloured, blurred, rotated), so a good embedding puts a photo's variants "
        "at the top.")
    left, right = st.columns(2)
    with left:
        photo = ui.image_picker("wild_q")
    with right:
        chosen = ui.query_choice("embedder", QUERY_MODELS, QUERY_MODELS[0])
        key = st.selectbox("Embedding model", QUERY_MODELS, index=QUERY_MODELS.index(chosen), key="wild_embed",
                           format_func=lambda k: {"shapesnet": "ShapesNet (shipped; blocks 2-4 pooled)",
                                                  "resnet18": "ResNet-18 (ImageNet; 512-d pooled features)"}[k])
        st.query_params["embedder"] = key
        k = st.slider("Results", 3, 16, ui.query_number("k", 3, 16, 8), key="wild_k")
        st.query_params["k"] = str(k)
        if key != "shapesnet" and not cache.get_model(key).trained:
            st.warning("ResNet-18's ImageNet weights are not available here, and random weights would rank the "
                       "gallery by noise, so the shipped ShapesNet is used instead.")
            key = "shapesnet"
    if photo is None:
        return
    gallery = cache.similarity_gallery()
    index = cache.similarity_index(key)
    query = similarity.embed(cache.get_model(key), photo.pixels)
    hits = index.search(query, k)
    st.image([gallery.images[i] for i, _ in hits],
             caption=[f"{score:.3f} · {gallery.source[i]}, {gallery.variant[i]}" for i, score in hits], width=128)
    st.caption("Cosine similarity first, then where the gallery image came from. 1.000 is an exact duplicate.")
    xy, q = similarity.projection(index, query)
    frame = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "source": gallery.source, "variant": gallery.variant})
    fig = go.Figure()
    for source, part in frame.groupby("source", sort=False):
        fig.add_trace(go.Scatter(x=part.x, y=part.y, mode="markers", name=source, text=part.variant,
                                 hovertemplate="%{text}<extra>" + source + "</extra>", marker=dict(size=7)))
    fig.add_trace(go.Scatter(x=[q[0]], y=[q[1]], mode="markers", name="your query",
                             marker=dict(symbol="star", size=18, color="black")))
    fig.update_layout(title=f"The gallery's {len(gallery.source)} embeddings in 2D (PCA)", height=460,
                      margin=dict(t=40, b=20, l=20, r=10))
    st.plotly_chart(fig, width="stretch", key="wild_pca")


# ---------------------------------------------------------------- tiling
@st.fragment
def tiling_lab() -> None:
    st.subheader("A scene too big for the network: classify it tile by tile")
    st.markdown(
        "Satellite scenes are tens of thousands of pixels wide, while a CNN takes a small fixed input. So the "
        "scene is cut into tiles, each tile is classified, and the scores are stitched into a map. Overlapping "
        "tiles see every object whole at least once; where they overlap, each pixel keeps the best tile's score (or "
        "the mean of all of them, to compare: a shape cut by one tile's border gets diluted). A tile's score says "
        "*what* is in it; its class activation map says *where*, so each tile's score is spread over the tile "
        "as its CAM (switch that off to see a plain tile-score map). The classifier is the shipped ShapesNet "
        "(64x64 input; every tile is resized to that), which has one sigmoid per shape, so a tile with nothing "
        "in it scores low for every class and stays background. This scene has shapes scattered on a textured "
        "canvas, so the true map is known and the stitched one is scored against it.")
    c1, c2, c3, c4, c5 = st.columns(5)
    canvas = c1.selectbox("Canvas (height x width)", CANVASES, key="wild_canvas",
                          index=CANVASES.index(ui.query_choice("canvas", CANVASES, CANVASES[1])))
    seed = int(c2.number_input("Scene seed", 0, 10_000, ui.query_number("scene", 0, 10_000, 1), key="wild_scene"))
    tile = c3.slider("Tile size (px)", 32, 256, ui.query_number("tile", 32, 256, 96), 16, key="wild_tile")
    overlap = c4.slider("Overlap", 0, 75, ui.query_number("overlap", 0, 75, 50), 25, format="%d%%", key="wild_overlap")
    min_conf = c5.slider("Show a class from score", 0.05, 0.95, ui.query_number("conf", 0.05, 0.95, tiling.MIN_CONF), 0.05,
                         key="wild_minconf", help="Pixels where no class's stitched score reaches this are background.")
    t1, t2 = st.columns(2)
    localise = t1.toggle("Place each tile's score with its CAM", key="wild_localise",
                         value=ui.query_choice("where", ("cam", "tile"), "cam") == "cam")
    stitch = t2.radio("Where tiles overlap, a pixel keeps", tiling.STITCH, horizontal=True, key="wild_stitch",
                      index=tiling.STITCH.index(ui.query_choice("stitch", tiling.STITCH, "max")),
                      format_func={"max": "the best tile's score", "mean": "the mean of the tiles' scores"}.get)
    st.query_params.update(canvas=canvas, scene=str(seed), tile=str(tile), overlap=str(overlap), conf=f"{min_conf:g}",
                           where="cam" if localise else "tile", stitch=stitch)
    h, w = map(int, canvas.split("x"))
    try:
        rows, cols = tiling.tile_grid(h, w, tile, overlap / 100)
        scene = cache.tiling_scene(h, w, seed)
        tmap = cache.tile_map(h, w, seed, tile, overlap / 100, localise, stitch)
    except CNNLabError as err:
        st.error(str(err))
        return
    labels = tiling.map_labels(tmap, min_conf)
    score = tiling.score_map(scene.labels, labels, len(SHAPE_CLASSES))
    m1, m2, m3 = st.columns(3)
    m1.metric("Tiles classified", f"{len(rows) * len(cols):,}", help=f"{len(rows)} rows x {len(cols)} columns")
    m2.metric("Pixel accuracy (background included)", f"{score.pixel_accuracy:.0%}",
              help="Share of all pixels whose stitched class equals the true one.")
    m3.metric("Mean IoU against the true map", f"{score.mean_iou:.2f}",
              help="Intersection over union of each class (background and the five shapes), averaged.")
    a, b, c = st.columns(3)
    a.image(tiling.grid_lines(scene.image, tmap), caption="The scene with every tile's outline", width="stretch")
    b.image(mask_rgb(scene.labels + 1), caption="True map", width="stretch")
    c.image(mask_rgb(labels + 1), caption="Stitched prediction", width="stretch")
    names = ["background", *SHAPE_CLASSES]
    st.image([np.full((24, 24, 3), colour, np.uint8) for colour in mask_rgb(np.arange(len(names)))],
             caption=[f"{n}: IoU {v:.2f}" if v == v else f"{n}: absent" for n, v in zip(names, score.iou)], width=96)
    st.caption("Background is a class too: pixel accuracy alone would flatter a map that paints everything "
               "background, so the IoU of every class is shown.")


# ---------------------------------------------------------------- style transfer
def style_lab() -> None:
    st.subheader("Neural style transfer with VGG19")
    st.markdown(
        "Gatys and colleagues repainted photos by optimising the picture itself: its deep VGG19 features stay "
        "close to the photo's (content), while the correlations between feature channels, the Gram matrices "
        "of five layers, move towards a painting's (style). The same filters that tell ImageNet classes "
        "apart carry brush strokes and textures.")
    ui.wait_for_weights("vgg19", "VGG19")
    features, source = cache.style_features()
    if features is None:
        st.info(f"**Style transfer is off here.** {source} It needs VGG19's trained filters: with random weights "
                "the optimisation would run but only smear noise over the photo, so it is not offered. To turn it "
                "on, run the app where it can download torchvision's weights once, or copy `vgg19-dcbb9e9d.pth` into "
                "the torch hub cache shown above.")
        return
    st.caption(f"Weights: {source}.")
    names = list(SAMPLE_PHOTOS)
    c1, c2 = st.columns(2)
    content_name = c1.selectbox("Content photo", names, index=0, key="wild_content")
    style_name = c2.selectbox("Style image", names + ["Upload"], index=names.index("Hubble deep field"),
                              key="wild_style")
    style_img = cache.sample_photo(style_name) if style_name != "Upload" else _style_upload(c2)
    s1, s2, s3 = st.columns(3)
    size = s1.slider("Size (long side, px)", 64, style.MAX_SIZE, 192, 32, key="wild_size")
    steps = s2.slider("Steps", 10, style.MAX_STEPS, 80, 10, key="wild_steps")
    weight = s3.select_slider("Style weight", [1e3, 1e4, 1e5, 1e6, 1e7], value=1e5, key="wild_sweight",
                              format_func=lambda v: f"{v:.0e}")
    if style_img is None:
        return
    content = cache.sample_photo(content_name)
    paint = {"features": features, "content": content, "style": style_img, "size": size, "steps": steps,
             "style_weight": weight}
    if ui.job_button("Paint", "style", paint, key="wild_paint", type="primary"):
        ui.start_job("wild_style_job", "style", **paint)
    result = ui.job_result("wild_style_job")
    if result is None:
        return
    a, b, c = st.columns(3)
    a.image(content, caption="Content", width="stretch")
    b.image(style_img, caption="Style", width="stretch")
    c.image(result.image, caption=f"After {len(result.content_loss)} steps", width="stretch")
    fig = go.Figure([go.Scatter(y=result.content_loss, name="content loss"),
                     go.Scatter(y=result.style_loss, name="style loss (weighted)")])
    fig.update_layout(height=260, yaxis_type="log", margin=dict(t=20, b=30, l=50, r=10), xaxis_title="step")
    st.plotly_chart(fig, width="stretch", key="wild_style_fig")


def _style_upload(col) -> np.ndarray | None:
    upload = col.file_uploader("Style image", key="wild_style_upload", help=ACCEPTED_TEXT)
    if upload is None:
        st.info(f"Choose a style image. {ACCEPTED_TEXT}")
        return None
    try:
        return decode_image(upload.getvalue()).pixels
    except CNNLabError as err:
        st.error(f"Could not use **{upload.name}**: {err}")
        return None


# ---------------------------------------------------------------- deployment
def deployment_lab() -> None:
    st.subheader("Deployment reality: the same model, three runtimes")
    st.markdown(
        "A trained model still has to be served: inside PyTorch as it was trained (eager), as a TorchScript "
        "graph, or exported to ONNX and run by ONNX Runtime, the route to most phones, browsers and "
        "accelerators. Each runtime below is rebuilt from its exported file and timed on this CPU at "
        "batch 1, in interleaved rounds so background load falls on all three alike.")
    keys = ("shapesnet", "simplecnn_shapes")
    key = st.selectbox("Model", keys, key="wild_deploy_model", format_func=lambda k: cache.get_model(k).spec.label)
    if st.button("Export and time", key="wild_deploy_run"):
        with st.spinner("Exporting once per server, then timing 30 rounds..."):
            try:
                st.session_state["wild_deploy"] = (key, deploy.compare(cache.deployed(key),
                                                                       cache.get_model(key).spec.input_size))
            except CNNLabError as err:
                st.error(str(err))
    shown = st.session_state.get("wild_deploy")
    if shown is None:
        return
    key, rows = shown
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", column_config={
        "latency ms": st.column_config.NumberColumn(format="%.3f"),
        "speed vs eager": st.column_config.NumberColumn(format="%.2fx"),
        "file MB": st.column_config.NumberColumn(format="%.3f"),
        "max |diff| vs eager": st.column_config.NumberColumn(format="%.1e")})
    st.caption(f"{cache.get_model(key).spec.label}. File MB is the saved model (state dict for eager), which is "
               "also what its weights take in memory. The last column checks that the exported model still "
               "computes the same logits. Speed on a phone or GPU differs; the ordering often does not.")


main()
