"""The MRI Viewer's default view is a lesson: the MNI template opens with its three slices crossing at
the volume's centre voxel, the millimetres shown are the file's affine applied to that voxel (what
nibabel computes), the window is the 2nd-98th percentile, and the 3D CNN, shown a healthy brain with no
lesion inserted, does not call it a lesion. A lesion inserted at that crosshair is where the CAM points."""
import re
from functools import partial

import numpy as np
from nibabel.affines import apply_affine

from core import cache
from tests.pages import apptest
from tests.pages.apptest import texts

PAGE = "pages/mri_viewer.py"
open_page = partial(apptest.open_page, PAGE)
MNI = "MNI152 T1 template (nilearn, 1 mm)"


def test_the_default_volume_opens_at_its_centre_with_the_files_millimetres_and_a_robust_window():
    at = open_page()
    assert not at.exception and not at.error
    vol = cache.sample_volume(MNI)
    data = vol.frame(0)
    centre = tuple(n // 2 for n in data.shape[:3])
    assert [c for img in at.image for c in img.captions if c.split(" ")[0] in ("sagittal", "coronal", "axial")] \
        == [f"sagittal {centre[0]}", f"coronal {centre[1]}", f"axial {centre[2]}"]  # each under its slider
    line = next(m for m in texts(at.markdown) if m.startswith("Crosshair voxel"))
    x, y, z = apply_affine(vol.affine, centre)
    assert line.startswith(f"Crosshair voxel **{centre}**, world **({x:.1f}, {y:.1f}, {z:.1f}) mm**, "
                           f"intensity **{data[centre]:.4g}**.".replace(",)", ")"))
    lo, hi = map(float, re.search(r"Window (\S+) to (\S+)\.$", line).groups())
    want = np.percentile(data[np.isfinite(data)], [2, 98])
    spread = float(want[1] - want[0])
    assert abs(lo - want[0]) <= 0.01 * spread and abs(hi - want[1]) <= 0.01 * spread


def test_the_healthy_template_is_not_called_a_lesion_and_3d_costs_what_the_caption_says():
    at = open_page()
    assert not any(c.startswith("Synthetic lesion at voxel") for c in texts(at.caption))  # none inserted
    p_lesion = float(next(m.value for m in at.metric if m.label == "P(lesion)").rstrip("%")) / 100
    assert p_lesion < 0.5
    # Conv2d(16, 32, 3x3) on 32x32 vs Conv3d(16, 32, 3x3x3) on 32x32x32: 27/9 of the weights, 32 slices more
    weights = (16 * 32 * 27 + 32) / (16 * 32 * 9 + 32)
    assert (f"The 3D kernel has {weights:.1f}x the weights and, sliding over 32 slices as well, does "
            f"{27 / 9 * 32:.0f}x the work.") in texts(at.caption)


def test_a_lesion_inserted_at_the_default_crosshair_is_found_and_pointed_at():
    at = open_page()
    at.button(key="mri_insert").click().run()
    p_lesion = float(next(m.value for m in at.metric if m.label == "P(lesion)").rstrip("%")) / 100
    assert p_lesion > 0.5
    at.toggle(key="mri_cam").set_value(True).run()
    assert not at.exception and not at.error
    line = next(m for m in texts(at.markdown) if m.startswith("The CAM's peak is at voxel"))
    assert line.endswith("3D pointing game: **hit** (is the peak inside the inserted lesion?).")
