"""CNN Lab entry point: the page config and the course-section sidebar come first, before anything
heavy is imported, so a fresh server paints at once; then the chosen page runs. Home (section 1) is
defined here and imports PyTorch and the app's modules only when it runs."""
from __future__ import annotations

import sys

import streamlit as st

from core import memory
from core.navigation import PAGES, sections

memory.cap_arenas()

INTRO = """
A **convolutional neural network** (CNN) is a network built for data laid out on a grid, such as
the pixels of a photo. A plain neural network flattens the photo into one long vector and forgets
which pixels were neighbours. A CNN keeps the grid and slides small learned filters across it.

Three ideas do the work:
- **Locality.** A filter looks at a small patch (say 3x3 pixels), because nearby pixels are what
  make up an edge or a texture.
- **Weight sharing.** The same filter is applied at every position, so a detector for vertical
  edges works anywhere in the photo and costs only 9 weights per input channel.
- **Hierarchy.** Stacked layers combine what the layer below found: edges become corners and
  textures, those become parts, and parts become objects. Each layer sees a wider area of the input
  than the one before.

The idea echoes Hubel and Wiesel's recordings from the visual cortex, where some neurons fire for
an edge at one orientation in one small region of view, and others further along pool them.
"""

PIPELINE = """photo (3 x 32 x 32)
  -> conv 3x3, 16 filters -> ReLU -> max-pool 2x2   16 x 16 x 16   edges, colour blobs
  -> conv 3x3, 32 filters -> ReLU -> max-pool 2x2   32 x  8 x  8   corners, simple shapes
  -> flatten (2,048 numbers) -> linear layer         class scores
  -> softmax (inside the loss)                       class probabilities"""

VISION_MODELS = ("shapesnet", "simplecnn_shapes", "resnet18", "mobilenet_v3_small")


def home() -> None:
    st.title("CNN Lab")
    st.markdown(INTRO)
    with st.expander("The course's first CNN, layer by layer"):
        st.code(PIPELINE, language=None)
        st.caption("This is the SimpleCNN in the model list below; the project trained it on synthetic shapes "
                   "(its last layer gives each shape its own sigmoid rather than one softmax over all five, so "
                   "it can also say that it sees none of them).")
    load_pytorch_once()  # the text above needs none of it, so a fresh server shows it at once
    from core import ui

    st.header("CNN vision: what each layer sees")
    default_model, default_source = ui.photo_defaults()
    left, right = st.columns(2)
    with left:
        photo = ui.image_picker("home", default_source=default_source)
    with right:
        loaded = ui.model_picker(VISION_MODELS, "home", default=default_model)
    if photo is not None and loaded is not None:
        vision_viewer(photo, loaded)

    st.divider()
    ui.quiz("foundations")


def vision_viewer(photo, loaded) -> None:
    from core import cache, ui
    from core.features import first_conv, strongest_channels
    from core.viz import colorize, filter_grid, upscale

    pixels = photo.pixels
    maps, preds = cache.cnn_vision(loaded.spec.key, pixels)
    size = loaded.spec.input_size
    photo_col, pred_col = st.columns(2)
    with photo_col:
        ui.picture(st, pixels, f"Your photo, {pixels.shape[1]}x{pixels.shape[0]}. "
                   f"The model sees it resized to {size}x{size}.")
    with pred_col:
        predictions(loaded, preds)
        ui.scene_caveat(loaded, photo)

    st.subheader("First-layer filters")
    conv = first_conv(loaded.model)
    st.image(filter_grid(conv.weight), caption=f"All {conv.out_channels} filters of the first conv "
             f"({conv.in_channels} -> {conv.out_channels}, {conv.kernel_size[0]}x{conv.kernel_size[1]}). "
             "Grey is zero; colour shows what each filter responds to.")

    names = list(maps)
    st.subheader(f"Feature maps of all {len(names)} conv layers")
    st.caption("The most active channel of every conv layer, from the input side to the output side. "
               "Early maps keep the photo's detail; deep ones are coarse and abstract.")
    strongest = [int(strongest_channels(maps[n], 1)[0]) for n in names]
    st.image([upscale(colorize(maps[n][c].numpy()), 96) for n, c in zip(names, strongest)],
             caption=[f"{n}: {'x'.join(map(str, maps[n].shape))}" for n in names], width=96)
    layer_explorer(maps, pixels, loaded.spec.key)


def predictions(loaded, preds: list[tuple[str, float]]) -> None:
    """The model's answer: the top-5 of a softmax model, or every class of a multi-label one with its
    own probability and the line it must cross to count as found."""
    from core.models import NONE_BELOW, sees_nothing

    st.plotly_chart(_prediction_chart(preds, loaded.spec.multilabel), width="stretch")
    if not loaded.spec.multilabel:
        return
    found = [name for name, p in preds if p >= NONE_BELOW]
    name, p = preds[0]
    if sees_nothing(loaded.spec, preds):
        st.info(f"**None of my classes.** This model knows only five synthetic shapes ({', '.join(loaded.class_names)}) "
                f"and finds none of them here: its highest score is {name} at {p:.0%}, below {NONE_BELOW:.0%}. "
                "Try the *Synthetic shapes* source to see it work.")
    else:
        st.success(f"Found: **{', '.join(found)}**. Each shape has its own sigmoid, so every shape present can "
                   "score high at once; the scores need not add up to 100%.")


@st.fragment
def layer_explorer(maps, pixels, model_key: str) -> None:
    from core import ui
    from core.features import strongest_channels
    from core.viz import COLORMAPS, channel_grid, overlay

    names = list(maps)
    pick, style = st.columns([3, 1])
    # Keys carry the model/layer: their options differ, so each gets its own widget state.
    layer = pick.select_slider("Layer", names, value=names[0], key=f"home_layer_{model_key}")
    cmap = style.selectbox("Colormap", list(COLORMAPS), key="home_cmap")
    fmap = maps[layer]
    c, h, w = fmap.shape
    top = strongest_channels(fmap, min(16, c))
    grid_col, blend_col = st.columns(2)
    grid_col.image(channel_grid(fmap, top, cmap), caption=f"{layer}: the {len(top)} strongest of {c} channels, "
                   f"each {h}x{w}, strongest first.", width="stretch")
    with blend_col:
        channel = st.selectbox("Channel to blend onto the photo", top, key=f"home_channel_{model_key}_{layer}",
                               format_func=lambda i: f"channel {i}")
        alpha = st.slider("Blend (0 = photo, 1 = feature map)", 0.0, 1.0, 0.5, 0.05, key="home_alpha")
        ui.picture(st, overlay(pixels, fmap[channel].numpy(), alpha, cmap if cmap != "gray" else "jet"),
                   f"{layer}, channel {channel}, upsampled from {h}x{w} onto the photo.")


def _prediction_chart(preds: list[tuple[str, float]], multilabel: bool):
    import plotly.graph_objects as go

    from core.models import NONE_BELOW

    labels = [name for name, _ in preds][::-1]
    probs = [p for _, p in preds][::-1]
    fig = go.Figure(go.Bar(x=probs, y=labels, orientation="h", text=[f"{p:.1%}" for p in probs]))
    if multilabel:
        fig.add_vline(x=NONE_BELOW, line_dash="dot", annotation_text="found", annotation_position="top")
    fig.update_layout(title="Each shape's own probability" if multilabel else "Top predictions",
                      xaxis=dict(range=[0, 1], tickformat=".0%"), height=260, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def course_sidebar() -> None:
    """The course's sections and pages, drawn by the app (the automatic list of pages/ file names is
    switched off in .streamlit/config.toml, so it never shows, not even before this runs)."""
    with st.sidebar:
        for section, pages in sections().items():
            st.caption(section)
            for p in pages:
                st.page_link(routes[p], label=p.title, icon=p.icon)


def load_pytorch_once() -> None:
    """On a fresh server the first run imports PyTorch and the app's modules (seconds): say so, in
    place of the page, rather than leave the main area blank."""
    if "torch" in sys.modules:
        return
    slot = st.empty()
    with slot.status("Loading PyTorch... (once, when the server starts)"):
        import core.ui  # noqa: F401  torch, the model registry and the widgets
    slot.empty()


st.set_page_config(page_title="CNN Lab", page_icon=":material/neurology:", layout="wide")
routes = {p: st.Page(home if p.script is None else p.script, title=p.title, icon=p.icon, default=p.script is None)
          for p in PAGES}
nav = st.navigation(list(routes.values()), position="hidden")
course_sidebar()
if nav is not next(routes[p] for p in PAGES if p.script is None):  # Home loads PyTorch after its text
    load_pytorch_once()
try:
    nav.run()
finally:
    memory.trim()
