"""3D MRI Viewer (course section 8's volumes, section 9's healthcare case)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import cache, lesions, temporal, ui, volumes
from core.errors import CNNLabError
from core.viz import png_bytes

INTRO = """
A brain scan is a 3D grid of *voxels*. Here you can move through one the way a radiologist does:
three orthogonal slices that share one crosshair, a window that chooses which intensities are
visible, and the file's own description of how voxels map to millimetres. Volumes are reoriented
so that the first axis runs to the patient's **R**ight, the second **A**nterior and the third
**S**uperior (RAS).
"""
SAMPLES = list(volumes.sample_volumes())
UPLOAD = "Upload a NIfTI file"
CMAPS = ("gray", "inferno", "viridis", "magma", "jet")
PRESETS = ("robust (2nd-98th percentile)", "full range", "manual")


def main() -> None:
    ui.route_through_home()
    st.title("3D MRI Viewer")
    st.markdown(INTRO)
    sources = SAMPLES + [UPLOAD]
    source = st.selectbox("Volume", sources, key="mri_source",
                          index=sources.index(ui.query_choice("sample", sources, SAMPLES[0])))
    st.query_params["sample"] = source
    # The link's crosshair (x, y, z, t) describes the volume it names; an upload is never named by one.
    st.session_state.setdefault("mri_link_volume", None if source == UPLOAD else source)
    loaded = _load(source)
    if loaded is not None:
        vol, vol_id = loaded
        for note in vol.notes:
            st.info(note)
        viewer(vol, vol_id)
    st.divider()
    ui.quiz("specialized")


def _load(source: str) -> tuple[volumes.Volume, str] | None:
    """The volume and a name for it that differs for every uploaded file (its widgets are keyed by it)."""
    if source != UPLOAD:
        return cache.sample_volume(source), source
    upload = st.file_uploader("NIfTI volume (.nii or .nii.gz)", key="mri_upload", help=volumes.ACCEPTED,
                              max_upload_size=volumes.MAX_FILE_BYTES // 2**20)
    if upload is None:
        st.info(f"Choose a file. {volumes.ACCEPTED}")
        return None
    try:
        return volumes.load_volume(upload.getvalue(), upload.name), f"{UPLOAD} {upload.file_id}"
    except CNNLabError as err:
        st.error(f"Could not use **{upload.name}**: {err}")
        return None


def _crosshair_default(vol_id: str, param: str, count: int) -> int:
    """Where a slider over `count` positions starts: at the link's value when the link describes this
    volume, else at the centre (a new volume must not inherit the previous one's crosshair)."""
    if st.session_state.get("mri_link_volume") == vol_id and count > 1:
        return ui.query_number(param, 0, count - 1, count // 2)
    return count // 2


@st.fragment
def viewer(vol: volumes.Volume, vol_id: str) -> None:
    shape = vol.data.shape[:3]
    with st.expander("Header"):
        st.dataframe(pd.DataFrame({"field": list(vol.header), "value": [str(v) for v in vol.header.values()]}),
                     hide_index=True, width="stretch")
    frame = 0
    if vol.frames > 1:
        linked = st.session_state.get("mri_link_volume") == vol_id
        frame = st.slider("Frame (4D)", 0, vol.frames - 1, ui.query_number("t", 0, vol.frames - 1, 0) if linked else 0,
                          key=f"mri_t_{vol_id}")
    data = vol.frame(frame)
    axes = zip(("Sagittal (x)", "Coronal (y)", "Axial (z)"), "xyz", shape, st.columns(3))
    i, j, k = (ui.data_slider(label, 0, n - 1, _crosshair_default(vol_id, axis, n), f"mri_{axis}_{vol_id}", col)
               for label, axis, n, col in axes)
    w1, w2, w3, w4 = st.columns(4)
    preset = w1.selectbox("Window", PRESETS, key="mri_preset")
    stats = vol.stats(frame)
    robust = stats.robust
    lo, hi = robust if preset == PRESETS[0] else stats.full
    if preset == "manual":
        lo = w2.number_input("Min", value=robust[0], key="mri_lo")
        hi = w3.number_input("Max", value=robust[1], key="mri_hi")
        if not np.isfinite(lo) or not np.isfinite(hi) or hi <= lo:
            st.warning("The window needs a finite minimum below the maximum; the robust window is used.")
            lo, hi = robust
    cmap = w4.selectbox("Colormap", CMAPS, key="mri_cmap")
    radiological = st.toggle("Radiological convention (patient's right on the left)", key="mri_radio")
    st.query_params.update(x=str(i), y=str(j), z=str(k), t=str(frame))
    st.session_state["mri_link_volume"] = vol_id  # the URL's crosshair now describes this volume
    ijk = (i, j, k)
    data, mask, lesion = _with_lesion(data, vol_id, ijk, lo, hi)
    # What the 3D CNN reads changes with the volume, frame and lesion, not with a slice move.
    scan = (vol_id, frame, lesion)
    heat, alpha, threshold = cnn_panel(ui.session_memo("mri_grid", scan, lambda: lesions.to_grid(data)), mask,
                                       vol_id, ijk, data.shape)
    # Views in the sliders' order (sagittal, coronal, axial, as FSLeyes lays them out), each under its slider.
    for col, plane in zip(st.columns(3), ("sagittal", "coronal", "axial")):
        index = ijk[volumes.PLANE_AXIS[plane]]
        heat_slice = None if heat is None else volumes.plane_slice(heat, plane, index)
        view = volumes.display(volumes.window(volumes.plane_slice(data, plane, index), lo, hi), plane, vol.zooms,
                               ijk, cmap, radiological, heat_slice, alpha, threshold)
        col.image(view, caption=f"{plane} {index}", width="stretch")
    x, y, z = volumes.world_mm(vol.affine, ijk)
    value = data[ijk]
    st.markdown(f"Crosshair voxel **({i}, {j}, {k})**, world **({x:.1f}, {y:.1f}, {z:.1f}) mm**, intensity "
                f"**{value:.4g}**. Window {lo:.4g} to {hi:.4g}.")
    st.plotly_chart(ui.session_memo("mri_hist", (vol_id, frame, lo, hi), lambda: histogram(stats, lo, hi)),
                    width="stretch")
    cost_panel()
    plane = st.radio("Slice montage of", volumes.PLANES, horizontal=True, key="mri_montage")
    montage = ui.session_memo("mri_montage", (scan, plane, lo, hi),
                              lambda: png_bytes(volumes.montage(data, plane, lo, hi)))
    st.image(montage, caption=f"12 {plane} slices, windowed as above", width="stretch")


def _with_lesion(data: np.ndarray, vol_id: str, ijk: tuple[int, int, int], lo: float, hi: float):
    """The frame with the user's synthetic lesion added (if any), the lesion's mask, and what describes
    the lesion (None without one)."""
    st.subheader("A 3D CNN looks for lesions")
    st.warning("The model below was trained on synthetic lesions inserted into a brain template. It is a "
               "teaching demo of 3D convolution and 3D Grad-CAM, **not a diagnostic tool**.")
    r_col, c_col = st.columns(2)
    radius = r_col.slider("Lesion radius (voxels)", 3, 30, 15, key="mri_radius")
    contrast = c_col.slider("Lesion intensity (share of the window, - = dark)", -1.0, 1.0, -0.6, 0.05,
                            key="mri_contrast")
    state_key = f"mri_lesion_{vol_id}"
    shape = data.shape
    buttons = st.container(horizontal=True)  # each button as wide as its label: none is cut off
    if buttons.button("Insert at crosshair", key="mri_insert"):
        st.session_state[state_key] = ijk
    if buttons.button("Insert at random", key="mri_random"):
        rng = np.random.default_rng()
        _, brain = lesions.template()
        spot = np.argwhere(brain)[rng.integers(int(brain.sum()))]
        st.session_state[state_key] = lesions.native_index(tuple(int(v) for v in spot), shape)
    if buttons.button("Remove", key="mri_clear"):
        st.session_state.pop(state_key, None)
    center = st.session_state.get(state_key)
    if center is None:
        return data, None, None
    st.caption(f"Synthetic lesion at voxel {center}, radius {radius}, intensity {contrast:+.2f} of the window.")
    return *lesions.insert_lesion(data, center, radius, contrast * (hi - lo)), (center, radius, contrast * (hi - lo))


def _jump(vol_id: str, target: tuple[int, int, int], shape: tuple[int, ...]) -> None:
    for axis, value, n in zip("xyz", target, shape):
        if n > 1:  # a one-voxel axis has no slider to move
            st.session_state[f"mri_{axis}_{vol_id}"] = int(value)


def cnn_panel(grid: np.ndarray, mask: np.ndarray | None, vol_id: str, ijk, shape: tuple[int, ...]) -> tuple:
    """The 3D CNN's verdict on the volume (already on the model grid), and its CAM when asked."""
    try:
        model = cache.get_model("lesion3d")
    except CNNLabError as err:
        st.error(str(err))
        return None, 0.0, 0
    p_lesion = dict(cache.predict_volume(grid))[model.class_names.index("lesion")]
    p_col, o_col, t_col = st.columns(3)
    p_col.metric("P(lesion)", f"{p_lesion:.1%}", help=f"from the volume resampled to {lesions.GRID}^3")
    alpha = o_col.slider("CAM opacity", 0.0, 1.0, 0.45, 0.05, key="mri_alpha")
    threshold = t_col.slider("CAM threshold", 0, 255, 100, 5, key="mri_threshold")
    if not st.toggle("Show 3D Grad-CAM for 'lesion'", key="mri_cam"):
        return None, alpha, threshold
    if "cam_pointing_game" in model.card:
        score = model.card["cam_pointing_game"]
        st.caption(f"Check before you trust it: on held-out volumes this CAM's peak fell inside the lesion "
                   f"{score:.0%} of the time (3D pointing game, model card). "
                   + ("The model learned where lesions are as well as whether there is one (its training loss "
                      "includes the lesion masks), which is why its CAM can localise." if score >= 0.85 else
                      "The model detects lesions, but this CAM does not localise them well."))
    cam = cache.cam_volume(grid)
    heat = lesions.upsample(cam, shape)
    target = lesions.native_index(lesions.peak(cam), shape)
    line = f"The CAM's peak is at voxel {target}."
    if mask is not None:
        hit = bool(mask[target])
        line += f" 3D pointing game: **{'hit' if hit else 'miss'}** (is the peak inside the inserted lesion?)."
    st.markdown(line)
    st.button("Jump the crosshair to the CAM's peak", key="mri_jump", on_click=_jump, args=(vol_id, target, shape))
    return heat, alpha, threshold


def cost_panel() -> None:
    with st.expander("Why 3D convolutions cost more"):
        rows = []
        for dims in (2, 3):
            params, macs = temporal.conv_cost(dims)
            rows.append({"layer": f"Conv{dims}d(16, 32, kernel {'x'.join(['3'] * dims)})",
                         "input": "x".join(["32"] * dims), "parameters": params, "MACs": macs})
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
        st.caption(f"The 3D kernel has {rows[1]['parameters'] / rows[0]['parameters']:.1f}x the weights and, "
                   f"sliding over 32 slices as well, does {rows[1]['MACs'] / rows[0]['MACs']:.0f}x the work.")


def histogram(stats: volumes.FrameStats, lo: float, hi: float) -> go.Figure:
    """The frame's intensity histogram (binned once, in core) with the window shaded."""
    centres = (stats.edges[:-1] + stats.edges[1:]) / 2
    window = dict(type="rect", xref="x", yref="paper", x0=lo, x1=hi, y0=0, y1=1, fillcolor="green", opacity=0.12,
                  line_width=0)
    return go.Figure(go.Bar(x=centres, y=stats.counts, width=float(stats.edges[1] - stats.edges[0])),
                     layout=dict(height=220, margin=dict(t=10, b=10), yaxis_type="log", xaxis_title="intensity",
                                 yaxis_title="voxels (log)", bargap=0, shapes=[window]))


main()
