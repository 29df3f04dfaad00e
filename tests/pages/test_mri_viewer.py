"""3D MRI Viewer through AppTest: samples, sliders, window, 4D, uploads, the 3D CNN and its CAM."""
import base64
import json
from functools import partial

import numpy as np
import pytest

from core import volumes
from tests.inputs.volumes import BAD_VOLUMES, ODD_VOLUMES
from tests.pages import apptest
from tests.pages.apptest import texts

PAGE = "pages/mri_viewer.py"
open_page = partial(apptest.open_page, PAGE)
MNI = "MNI152 T1 template (nilearn, 1 mm)"


def views(at) -> list[str]:
    return [c for img in at.image for c in img.captions if c.split(" ")[0] in ("axial", "coronal", "sagittal")]


def test_template_opens_with_three_linked_views():
    at = open_page()
    assert not at.exception and not at.error
    assert views(at) == ["sagittal 98", "coronal 116", "axial 94"]
    at.slider(key=f"mri_x_{MNI}").set_value(60).run()
    assert not at.exception
    assert "sagittal 60" in views(at)
    assert any("world **(-38.0, -18.0, 22.0) mm**" in m for m in texts(at.markdown))
    assert at.query_params["x"] == "60"


def test_4d_volume_gets_a_frame_slider():
    at = open_page(sample="functional.nii (nibabel test data, 4D)")
    assert not at.exception
    frame = at.slider(key="mri_t_functional.nii (nibabel test data, 4D)")
    frame.set_value(7).run()
    assert not at.exception and at.query_params["t"] == "7"


def test_manual_window_must_be_ordered():
    at = open_page()
    at.selectbox(key="mri_preset").set_value("manual").run()
    at.number_input(key="mri_lo").set_value(300.0).run()
    assert not at.exception
    assert any("finite minimum below the maximum" in w for w in texts(at.warning))


@pytest.mark.parametrize("query,message", [
    ({"sample": "brain.exe"}, "`sample=brain.exe` is not recognised"),
    ({"x": "9999"}, "`x` must be a whole number from 0 to 196"),
    ({"z": "-1"}, "`z` must be a whole number from 0 to 188"),
])
def test_bad_links_warn_and_fall_back(query, message):
    at = apptest.link_warns_and_falls_back(PAGE, query, message)
    assert len(views(at)) == 3


def _upload(name: str, data: bytes):
    at = open_page(sample="Upload a NIfTI file")
    at.file_uploader(key="mri_upload").upload(name, data, "application/octet-stream")
    return at.run()


@pytest.mark.parametrize("case,make,message", BAD_VOLUMES, ids=[c[0] for c in BAD_VOLUMES])
def test_bad_uploads_show_an_error_and_the_page_keeps_working(case, make, message):
    at = _upload(f"{case}.nii.gz", make())
    assert not at.exception
    assert any(message in e for e in texts(at.error))
    assert at.subheader  # the quiz still renders


@pytest.mark.parametrize("case,make,note", ODD_VOLUMES, ids=[c[0] for c in ODD_VOLUMES])
def test_odd_uploads_are_shown_with_a_note(case, make, note):
    at = _upload(f"{case}.nii", make())
    assert not at.exception and not at.error
    assert any(note in i for i in texts(at.info)) and len(views(at)) == 3


def test_lesion_cnn_cam_and_jump():
    at = open_page()
    assert any(m.label == "P(lesion)" for m in at.metric)
    at.button(key="mri_insert").click().run()
    assert not at.exception
    assert any("Synthetic lesion at voxel (98, 116, 94)" in c for c in texts(at.caption))
    at.toggle(key="mri_cam").set_value(True).run()
    assert not at.exception
    line = next(m for m in texts(at.markdown) if m.startswith("The CAM's peak is at voxel"))
    assert "3D pointing game: **" in line
    assert any("on held-out volumes this CAM's peak fell inside the lesion" in c for c in texts(at.caption))
    at.button(key="mri_jump").click().run()
    assert not at.exception
    assert at.slider(key=f"mri_x_{MNI}").value != 0


def test_a_new_volume_starts_at_its_own_centre():
    from tests.inputs.volumes import nifti_bytes
    import numpy as np

    at = open_page(x="60")  # a shared link: its crosshair applies to the template it names
    assert "sagittal 60" in views(at)
    at.selectbox(key="mri_source").set_value("Upload a NIfTI file").run()
    small = nifti_bytes(np.random.default_rng(0).random((10, 10, 10)).astype(np.float32))
    at.file_uploader(key="mri_upload").upload("small.nii", small, "application/octet-stream")
    at.run()
    assert not at.exception and not at.error
    assert not any("The link's" in w for w in texts(at.warning))
    assert views(at) == ["sagittal 5", "coronal 5", "axial 5"] and at.query_params["x"] == "5"
    at.selectbox(key="mri_source").set_value(MNI).run()  # back to the template: the URL now describes the upload
    assert not at.exception and not any("The link's" in w for w in texts(at.warning))
    assert views(at) == ["sagittal 98", "coronal 116", "axial 94"]


def test_the_links_frame_applies_to_the_4d_volume_it_names():
    at = open_page(sample="functional.nii (nibabel test data, 4D)", t="3")
    assert not at.exception and at.slider(key="mri_t_functional.nii (nibabel test data, 4D)").value == 3


def test_a_slice_move_reuses_the_cnn_input_and_the_binned_histogram(monkeypatch):
    """What does not depend on the crosshair is not redone when it moves: the volume resampled for the
    3D CNN, the histogram (binned in core, 120 bars rather than the voxels) and the montage."""
    from core import lesions

    made = []
    real = lesions.to_grid
    monkeypatch.setattr(lesions, "to_grid", lambda v, *a: made.append(v.shape) or real(v, *a))
    at = open_page()
    assert len(made) == 1
    hist = next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if '"type":"bar"' in c.proto.spec)
    assert _values(hist["data"][0]["y"]).sum() == sum(volumes.frame_stats(_sample(MNI).data).counts)
    assert len(_values(hist["data"][0]["x"])) == volumes.HIST_BINS
    at.slider(key=f"mri_z_{MNI}").set_value(60).run()
    assert not at.exception and "axial 60" in views(at) and len(made) == 1
    at.button(key="mri_insert").click().run()  # a lesion changes the volume the CNN reads
    assert not at.exception and len(made) == 2


def _values(encoded) -> np.ndarray:
    """A plotly JSON array: a list, or numpy's bytes in base64 ({"dtype", "bdata"})."""
    if isinstance(encoded, list):
        return np.asarray(encoded)
    return np.frombuffer(base64.b64decode(encoded["bdata"]), dtype=np.dtype(encoded["dtype"]))


def _sample(name: str):
    return volumes.load_path(volumes.sample_volumes()[name])
