"""Activation Lab (course section 3): curves and derivatives, a real feature map, dying ReLU."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core import activations as act
from core import cache, ui

INTRO = """
Convolutions are linear: stack ten of them and you still have one linear map. The **activation**
between layers bends that map, which is what lets a CNN separate cats from dogs. Its **derivative**
decides how much gradient flows back through the layer during training, so both curves matter.
"""
BLOCKS = ("block1", "block2", "block3", "block4")
NAMES = list(act.ACTIVATIONS)
BIASES = np.round(np.linspace(-4, 2, 61), 3)


def main() -> None:
    ui.route_through_home()
    st.title("Activation Lab")
    st.markdown(INTRO)
    curves_view()
    st.divider()
    st.header("An activation on a real feature map")
    st.markdown("The photo goes through the shipped ShapesNet; we take one block's output *before* its ReLU "
                "and apply the activation you pick.")
    photo = ui.image_picker("act", default_sample="Astronaut")
    if photo is not None:
        feature_map_view(photo.pixels)
    st.divider()
    st.header("Dying ReLU, made visible")
    dying_relu_view()
    st.divider()
    ui.quiz("activations")


@st.fragment
def curves_view() -> None:
    chosen = st.multiselect("Activations", NAMES, ui.query_multi("acts", NAMES, ["ReLU", "Leaky ReLU", "GELU"]),
                            key="act_names")
    st.query_params["acts"] = ",".join(chosen)
    curves_chart(chosen)
    for name in chosen:
        a = act.ACTIVATIONS[name]
        st.markdown(f"**{name}**: ${a.formula}$, derivative ${a.derivative_formula}$. {a.note}")


@st.fragment
def curves_chart(chosen: list[str]) -> None:
    """The sliders and the chart they drive, as their own fragment: a slider move redraws only these,
    not the picker and the formulas above and below."""
    lo_col, slope_col, alpha_col = st.columns(3)
    lo, hi = lo_col.slider("Input range", -10.0, 10.0, (ui.query_number("lo", -10, 0, -5.0),
                                                        ui.query_number("hi", 0.5, 10, 5.0)), 0.5, key="act_range")
    slope = slope_col.slider("Leaky ReLU slope a", 0.0, 0.5, ui.query_number("slope", 0, 0.5, 0.1), 0.01,
                             key="act_slope")
    alpha = alpha_col.slider("ELU alpha", 0.1, 3.0, ui.query_number("alpha", 0.1, 3, 1.0), 0.1, key="act_alpha")
    show_grad = st.toggle("Overlay derivatives (dashed)", True, key="act_grad")
    st.query_params.update(lo=f"{lo:g}", hi=f"{hi:g}", slope=f"{slope:g}", alpha=f"{alpha:g}")
    if not chosen:
        st.info("Pick at least one activation.")
        return
    if lo >= hi:
        st.warning("The range needs a lower bound below the upper bound.")
        return
    data = act.curves(chosen, lo, hi, {"slope": slope, "alpha": alpha})
    traces = []
    for i, name in enumerate(chosen):
        y, dy = data[name]
        color = f"hsl({i * 360 // len(chosen)}, 65%, 45%)"
        traces.append(go.Scatter(x=data["x"], y=y, name=name, line=dict(color=color, width=3)))
        if show_grad:
            traces.append(go.Scatter(x=data["x"], y=dy, name=f"{name}'", line=dict(color=color, dash="dash")))
    # One constructor call: add_scatter and update_layout each re-validate the figure on every move. Fixed
    # axis margins: plotly.js's automargin lays the chart out twice per move.
    st.plotly_chart(go.Figure(traces, layout=dict(height=420, margin=dict(t=20, l=60, b=50),
                                                  xaxis=dict(title="x", automargin=False),
                                                  yaxis=dict(title="f(x), f'(x)", automargin=False))),
                    width="stretch")


@st.fragment
def feature_map_view(pixels: np.ndarray) -> None:
    block_col, name_col = st.columns(2)
    block = block_col.radio("Block", BLOCKS, horizontal=True, key="act_fm_block")
    name = name_col.selectbox("Activation", NAMES, key="act_fm_name")
    pre = cache.preactivation_map(pixels, block)
    post = act.apply(name, pre, {"slope": 0.1, "alpha": 1.0})
    sample = np.random.default_rng(0).choice(pre.size, min(pre.size, 40_000), replace=False)
    fig = go.Figure()
    fig.add_histogram(x=pre.ravel()[sample], name="before", opacity=0.6, nbinsx=80)
    fig.add_histogram(x=post.ravel()[sample], name=f"after {name}", opacity=0.6, nbinsx=80)
    fig.update_layout(barmode="overlay", height=320, margin=dict(t=20), xaxis_title="activation value")
    st.plotly_chart(fig, width="stretch")
    st.markdown(f"{pre.shape[0]} channels of {pre.shape[1]}x{pre.shape[2]}. Before: {np.mean(pre < 0):.0%} of the "
                f"values are negative. After {name}: {np.mean(post == 0):.0%} are exactly zero "
                f"(Leaky ReLU and ELU use slope 0.1 and alpha 1 here).")


@st.fragment
def dying_relu_view() -> None:
    st.markdown("A batch of 64 synthetic shapes runs through ShapesNet. We add a bias to one block's "
                "pre-activations, as a bad update or a poor initialisation might. A channel is **dead** when its "
                "ReLU output is zero for every image and position: it passes no gradient back, so it can never "
                "recover.")
    block_col, bias_col = st.columns(2)
    block = block_col.radio("Block", BLOCKS, horizontal=True, key="act_dead_block",
                            index=BLOCKS.index(ui.query_choice("block", BLOCKS, "block1")))
    bias = bias_col.slider("Bias added to every pre-activation", -4.0, 2.0, ui.query_number("bias", -4, 2, 0.0), 0.1,
                           key="act_bias")
    st.query_params.update(block=block, bias=f"{bias:g}")
    pre = cache.shapes_preactivations(block)
    zero, dead = act.dead_curve(pre, BIASES)
    relu, leaky = act.dead_units(pre, bias, "ReLU"), act.dead_units(pre, bias, "Leaky ReLU", 0.01)
    m1, m2, m3 = st.columns(3)
    m1.metric("ReLU outputs that are 0", f"{relu.zero_fraction:.1%}")
    m2.metric("Dead channels with ReLU", f"{relu.dead_channels:.0%}")
    m3.metric("Dead channels with Leaky ReLU", f"{leaky.dead_channels:.0%}",
              help="Leaky ReLU's slope for negative inputs (0.01 here) keeps every unit's gradient non-zero.")
    fig = go.Figure()
    fig.add_scatter(x=BIASES, y=zero, name="ReLU outputs = 0")
    fig.add_scatter(x=BIASES, y=dead, name="dead channels (ReLU)")
    fig.add_vline(x=bias, line_dash="dash", annotation_text="your bias")
    fig.update_layout(height=340, margin=dict(t=20), xaxis_title="bias", yaxis=dict(title="fraction", range=[0, 1.02],
                                                                                  tickformat=".0%"))
    st.plotly_chart(fig, width="stretch")


main()
