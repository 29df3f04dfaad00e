"""Convolution Playground (course section 2, and pooling from section 3)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core import conv, recipes, ui
from core.cpu import one_thread
from core.errors import CNNLabError
from core.viz import diverging, mark_box, png_bytes

INTRO = """
A convolution layer slides a small grid of weights, the **kernel**, over the image. At every
position it multiplies the kernel with the pixels under it and adds the products up; that sum is
one pixel of the **feature map**. Choose a kernel, change stride, padding and dilation, and watch
the output and its size change. In a trained CNN nobody picks the kernels: they are learned.
"""

CHANNEL_HELP = ("per channel: the kernel runs on R, G and B separately (a depthwise conv, 3 maps out). "
                "summed: one copy of the kernel per input channel, results added (Conv2d(3, 1)). "
                "grey: the photo is turned to grey first.")


def main() -> None:
    ui.route_through_home()
    st.title("Convolution Playground")
    st.markdown(INTRO)
    photo = ui.image_picker("conv", default_sample="Coffee cup")
    if photo is not None:
        playground(conv.working_image(photo.pixels), photo.pixels)
    st.divider()
    st.header("The course's 5x5 example, step by step")
    worked_example()
    st.divider()
    ui.quiz("convolution")


@st.fragment
def playground(image: np.ndarray, pixels: np.ndarray) -> None:
    """The kernel's widgets. A kernel change reruns everything below it; a move of a sliding setting
    reruns only ``sliding`` (nested), so the kernel grid is not rebuilt on every slider step."""
    presets = list(conv.KERNEL_PRESETS)
    sizes = [str(s) for s in conv.KERNEL_SIZES]
    choose, grid = st.columns(2)
    with choose:
        preset = st.selectbox("Kernel preset", presets, key="conv_preset",
                              index=presets.index(ui.query_choice("kernel", presets, "Sobel x")))
        size = int(st.radio("Kernel size", sizes, horizontal=True, key="conv_size",
                            index=sizes.index(ui.query_choice("size", sizes, "3"))))
        st.caption("Edit any cell of the kernel; the output updates at once.")
    initial = conv.kernel_of_size(preset, size)
    # A link's custom kernel seeds only the first editor of the session; a preset picked later
    # starts from its own values.
    if "k" in st.query_params and not st.session_state.get("conv_link_kernel_used"):
        try:
            from_link = conv.kernel_from_param(st.query_params["k"])
            if from_link.shape[0] == size:
                initial = from_link
        except CNNLabError as err:
            st.warning(f"{err} The preset is used instead.")
    st.session_state["conv_link_kernel_used"] = True
    edited = grid.data_editor(pd.DataFrame(initial, columns=[str(c) for c in range(size)]), hide_index=True,
                              key=f"conv_kernel_{preset}_{size}", width="stretch")
    try:
        kernel = conv.validate_kernel(edited.to_numpy(dtype=float, na_value=np.nan))
    except (CNNLabError, ValueError) as err:
        st.error(str(err) if isinstance(err, CNNLabError) else "Every kernel cell must be a number.")
        return
    st.query_params.update(kernel=preset, size=str(size))
    if np.array_equal(kernel, conv.kernel_of_size(preset, size)):
        st.query_params.pop("k", None)
    else:
        st.query_params["k"] = conv.kernel_to_param(kernel)
    sliding(image, pixels, kernel, size)


def _sliding_settings(size: int) -> conv.ConvSettings:
    move, edge, chan = st.columns(3)
    stride = move.slider("Stride", 1, 4, ui.query_number("stride", 1, 4, 1), key="conv_stride")
    dilation = move.slider("Dilation", 1, 4, ui.query_number("dilation", 1, 4, 1), key="conv_dilation")
    padding = edge.radio("Padding", conv.PADDINGS, horizontal=True, key="conv_padding",
                         index=conv.PADDINGS.index(ui.query_choice("padding", conv.PADDINGS, "same")))
    amount = 0
    if padding == "explicit":
        amount = edge.slider("Pixels added per side", 0, 8, ui.query_number("pad", 0, 8, 1), key="conv_pad")
    border = edge.radio("Fill the border with", conv.BORDERS, horizontal=True, key="conv_border",
                        index=conv.BORDERS.index(ui.query_choice("border", conv.BORDERS, "zeros")))
    channels = chan.radio("Channels", conv.CHANNEL_MODES, key="conv_channels", help=CHANNEL_HELP,
                          index=conv.CHANNEL_MODES.index(ui.query_choice("channels", conv.CHANNEL_MODES,
                                                                         conv.CHANNEL_MODES[1])))
    st.query_params.update(stride=str(stride), padding=padding, border=border, dilation=str(dilation),
                           channels=channels)
    if padding == "explicit":
        st.query_params["pad"] = str(amount)
    return conv.ConvSettings(size, stride, padding, amount, border, dilation, channels)


@st.fragment
def sliding(image: np.ndarray, pixels: np.ndarray, kernel: np.ndarray, size: int) -> None:
    settings = _sliding_settings(size)
    try:
        with one_thread():  # a few ms alone; split over two cores it waits whenever the browser holds one
            out = conv.convolve(image, kernel, settings)
    except CNNLabError as err:
        st.error(str(err))
        return
    h, w, c = image.shape
    st.subheader("Output size")
    st.latex(r"H_{out} = " + conv.formula_latex(h, settings, "H"))
    if w != h:
        st.latex(r"W_{out} = " + conv.formula_latex(w, settings, "W"))
    c_in = 1 if settings.channels == "grey" else c
    st.markdown(f"Input **{c_in} x {h} x {w}** -> output **{out.shape[0]} x {out.shape[1]} x {out.shape[2]}** "
                f"(channels x height x width). The same computation in PyTorch:")
    st.code(conv.conv2d_line(settings, c), language="python")

    st.subheader("Feature map and receptive field")
    pick_r, pick_c, pick_ch = st.columns(3)
    row = ui.data_slider("Output row", 0, out.shape[1] - 1, out.shape[1] // 2, "conv_row", pick_r)
    col = ui.data_slider("Output column", 0, out.shape[2] - 1, out.shape[2] // 2, "conv_col", pick_c)
    names = ["red", "green", "blue"] if out.shape[0] == 3 else ["output"]
    shown = names.index(pick_ch.radio("Show channel", names, horizontal=True, key="conv_show")) if len(names) > 1 else 0
    rows, cols = conv.receptive_field(row, col, settings)
    photo_u8 = np.round(image * 255).astype(np.uint8)
    left, right = st.columns(2)
    ui.picture(left, mark_box(photo_u8, int(rows[0]), int(cols[0]), settings.span, settings.span),
               f"Input. The box is the {settings.span}x{settings.span} patch (rows {rows[0]}..{rows[-1]}, "
               f"columns {cols[0]}..{cols[-1]}; negative or past the edge = padding) that output ({row}, {col}) reads.")
    fmap, vmax = diverging(out[shown])
    ui.picture(right, mark_box(fmap, row, col, 1, 1, (0, 0, 0)),
               f"Feature map ({names[shown]}), blue = negative, white = 0, red = positive "
               f"(scale +/-{vmax:.3g}). The box marks output ({row}, {col}).")
    _explain_pixel(image, kernel, settings, row, col, shown, float(out[shown, row, col]))
    view = recipes.ConvView(tuple(map(tuple, kernel.tolist())), settings, row, col, shown)
    ui.code_behind(lambda: recipes.conv_script(view), "conv_code",
                   [("The photo as the app saw it (PNG)", lambda: png_bytes(pixels), "photo.png")])
    if out.shape[0] == 3:
        st.image(np.clip(out.transpose(1, 2, 0), 0, 1), caption="The three per-channel maps shown as one "
                 "RGB picture (clipped to 0..1): blur and sharpen kernels look like photo filters.", width=360)
    pooling(out[shown])


def _explain_pixel(image, kernel, settings, row, col, channel, value) -> None:
    patch, products, total = conv.pixel_breakdown(image, kernel, settings, row, col, channel)
    # A fixed label: one that named the output would make a new expander, closed again, on every move.
    with st.expander("How the boxed output is computed"):
        what = ("the channel's pixel values" if settings.channels == "per channel"
                else "the input values (summed over channels, since the same kernel multiplies each)")
        st.markdown(f"Output ({row}, {col}) = {value:.4f}. Under the kernel sit {what}; multiply them cell by "
                    "cell with the kernel (⊙) and add up.")
        st.latex(conv.breakdown_latex(patch, kernel, products, total))
        st.markdown(f"Sum of products = **{total:.4f}**, the same as the feature map's {value:.4f}.")


def pooling(fmap: np.ndarray) -> None:
    st.subheader("Pooling the feature map")
    kind_col, win_col, stride_col = st.columns(3)
    kind = kind_col.radio("Pooling", conv.POOLS, horizontal=True, key="conv_pool")
    window = win_col.slider("Window", 2, 8, 2, key="conv_pool_window", disabled=kind == "global average")
    stride = stride_col.slider("Pool stride", 1, 8, 2, key="conv_pool_stride", disabled=kind == "global average")
    try:
        pooled = conv.pool(fmap[None], kind, window, stride)[0]
    except CNNLabError as err:
        st.error(str(err))
        return
    before, after = fmap.size, pooled.size
    st.markdown(f"{fmap.shape[0]}x{fmap.shape[1]} -> **{pooled.shape[0]}x{pooled.shape[1]}**: "
                f"{after:,} of {before:,} values kept ({after / before:.1%}).")
    if kind == "global average":
        st.markdown(f"Global average pooling leaves one number per channel: **{float(pooled[0, 0]):.4f}**. "
                    "Classification heads use it to turn any-sized maps into a fixed-length vector.")
    else:
        st.image(diverging(pooled)[0], width=360, caption=f"{kind} pooled, same colour scale rule as above.")


@st.fragment
def worked_example() -> None:
    steps = conv.worked_steps()
    st.markdown("Input X (5x5) and the vertical-edge kernel K (3x3). No padding, stride 1, so the output is "
                f"{conv.output_size(5, 3, 1, 0, 1)}x{conv.output_size(5, 3, 1, 0, 1)}.")
    n = st.slider("Window position", 1, len(steps), 1, key="conv_step") - 1
    step = steps[n]
    x_col, k_col, p_col, o_col = st.columns([5, 3, 3, 3])
    x_col.markdown("**Input X**, window highlighted")
    x_col.dataframe(_highlight(pd.DataFrame(conv.SEED_INPUT.astype(int)), step.row, step.col, 3), hide_index=True)
    k_col.markdown("**Kernel K**")
    k_col.dataframe(pd.DataFrame(conv.SEED_KERNEL.astype(int)), hide_index=True)
    p_col.markdown("**Products**")
    p_col.dataframe(pd.DataFrame(step.products.astype(int)), hide_index=True)
    result = conv.step_result(steps, n, (3, 3))
    o_col.markdown("**Output so far**")
    shown = pd.DataFrame([["" if np.isnan(v) else f"{v:g}" for v in r] for r in result])  # blank = not reached yet
    o_col.dataframe(_highlight(shown, step.row, step.col, 1), hide_index=True)
    terms = " + ".join(f"({v + 0:g})" for v in step.products.ravel())  # + 0 turns -0 into 0
    st.markdown(f"Step {n + 1}: window at row {step.row}, column {step.col}. "
                f"Sum = {terms} = **{step.total:g}** -> output[{step.row}, {step.col}].")
    flipped = conv.worked_steps(conv.SEED_INPUT, conv.SEED_KERNEL[::-1, ::-1])
    cross = conv.step_result(steps, len(steps) - 1, (3, 3))
    true_conv = conv.step_result(flipped, len(flipped) - 1, (3, 3))
    with st.expander("Cross-correlation or convolution?"):
        st.markdown(
            "Deep-learning libraries compute **cross-correlation**: the kernel is used as written. Textbook "
            "convolution flips it left-right and top-bottom first. Since the kernel is learned, the network "
            "simply learns the flipped weights, so nothing is lost. For this kernel, flipping swaps the +1 and "
            "-1 columns, and every output changes sign:")
        a, b = st.columns(2)
        a.markdown("What PyTorch's conv2d computes")
        a.dataframe(pd.DataFrame(cross).astype(int), hide_index=True)
        b.markdown("Textbook convolution (flipped kernel)")
        b.dataframe(pd.DataFrame(true_conv).astype(int), hide_index=True)
    patch = np.array([[[1.0, 3.0], [2.0, 4.0]]])
    st.markdown(f"Pooling, the course's example: max-pooling the 2x2 patch [[1, 3], [2, 4]] gives "
                f"**{conv.pool(patch, 'max')[0, 0, 0]:g}**; average pooling gives "
                f"{conv.pool(patch, 'average')[0, 0, 0]:g}.")


def _highlight(df: pd.DataFrame, row: int, col: int, size: int):
    def style(_):
        css = pd.DataFrame("", index=df.index, columns=df.columns)
        css.iloc[row:row + size, col:col + size] = "background-color: #fde68a"
        return css
    return df.style.apply(style, axis=None)


main()
