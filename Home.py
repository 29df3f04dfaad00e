"""CNN Lab entry point: page config, the course-section router, and the Home page (section 1)."""
from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from core import cache, ui
from core.features import first_conv, strongest_channels
from core.navigation import sections
from core.viz import COLORMAPS, channel_grid, colorize, filter_grid, overlay, upscale

VISION_MODELS = ("shapesnet", "simplecnn_shapes", "resnet18", "mobilenet_v3_small")

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


def home() -> None:
    st.title("CNN Lab")
    st.markdown(INTRO)
    with st.expander("The course's first CNN, layer by layer"):
        st.code(PIPELINE, language=None)
        st.caption("This is the SimpleCNN in the model list below; the project trained it on synthetic shapes.")

    st.header("CNN vision: what each layer sees")
    left, right = st.columns(2)
    with left:
        photo = ui.image_picker("home")
    with right:
        loaded = ui.model_picker(VISION_MODELS, "home")
    if photo is not None and loaded is not None:
        vision_viewer(photo.pixels, loaded)

    st.divider()
    ui.quiz("foundations")


def vision_viewer(pixels, loaded) -> None:
    maps, preds = cache.cnn_vision(loaded.spec.key, pixels)
    size = loaded.spec.input_size
    photo_col, pred_col = st.columns(2)
    with photo_col:
        st.image(pixels, caption=f"Your photo, {pixels.shape[1]}x{pixels.shape[0]}. "
                 f"The model sees it resized to {size}x{size}.", width="stretch")
    with pred_col:
        st.plotly_chart(_prediction_chart(preds), width="stretch")
        if loaded.spec.kind == "shipped":
            st.caption("This model only knows five synthetic shapes, so on a real photo its answer is "
                       "a forced choice. Try the *Synthetic shapes* source to see it work.")

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


@st.fragment
def layer_explorer(maps, pixels, model_key: str) -> None:
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
        st.image(overlay(pixels, fmap[channel].numpy(), alpha, cmap if cmap != "gray" else "jet"),
                 caption=f"{layer}, channel {channel}, upsampled from {h}x{w} onto the photo.", width="stretch")


def _prediction_chart(preds: list[tuple[str, float]]) -> go.Figure:
    labels = [name for name, _ in preds][::-1]
    probs = [p for _, p in preds][::-1]
    fig = go.Figure(go.Bar(x=probs, y=labels, orientation="h", text=[f"{p:.1%}" for p in probs]))
    fig.update_layout(title="Top predictions", xaxis=dict(range=[0, 1], tickformat=".0%"),
                      height=260, margin=dict(l=10, r=10, t=40, b=10))
    return fig


st.set_page_config(page_title="CNN Lab", page_icon=":material/neurology:", layout="wide")
nav = st.navigation({
    section: [st.Page(home if p.script is None else p.script, title=p.title, icon=p.icon, default=p.script is None)
              for p in pages]
    for section, pages in sections().items()
})
nav.run()
