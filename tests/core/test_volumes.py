import numpy as np
import pytest

from core import volumes
from core.errors import CNNLabError
from tests.inputs.volumes import BAD_VOLUMES, ODD_VOLUMES, nifti_bytes


@pytest.mark.parametrize("case,make,message", BAD_VOLUMES, ids=[c[0] for c in BAD_VOLUMES])
def test_bad_volumes_raise_clear_errors(case, make, message):
    with pytest.raises(CNNLabError) as err:
        volumes.load_volume(make())
    assert message in str(err.value) and "Accepted: NIfTI" in str(err.value)


@pytest.mark.parametrize("case,make,note", ODD_VOLUMES, ids=[c[0] for c in ODD_VOLUMES])
def test_odd_volumes_load_with_a_note(case, make, note):
    vol = volumes.load_volume(make())
    assert any(note in n for n in vol.notes)
    lo, hi = volumes.robust_window(vol.data)
    assert np.isfinite(lo) and np.isfinite(hi) and hi > lo


def test_upload_over_the_cap_is_refused_before_parsing(monkeypatch):
    monkeypatch.setattr(volumes, "MAX_FILE_BYTES", 1000)
    with pytest.raises(CNNLabError, match="over the 0 MB limit"):
        volumes.load_volume(b"\0" * 2000)


def test_flipped_affine_shows_the_same_anatomy():
    rng = np.random.default_rng(0)
    data = rng.random((6, 7, 8)).astype(np.float32)
    ras = volumes.load_volume(nifti_bytes(data))
    flip = np.diag([-1.0, 1, 1, 1])
    flip[0, 3] = 5  # x axis runs right-to-left (LAS), same world positions
    las = volumes.load_volume(nifti_bytes(data[::-1].copy(), affine=flip))
    np.testing.assert_array_equal(ras.data, las.data)
    assert las.header["orientation (file)"] == "LAS" and las.header["orientation (shown)"] == "RAS"
    np.testing.assert_allclose(ras.affine, las.affine)


def test_slope_and_intercept_are_applied():
    vol = volumes.load_volume(nifti_bytes(np.full((4, 4, 4), 3, np.int16), scl_slope=2.0, scl_inter=10.0))
    assert vol.data.dtype == np.float32 and np.all(vol.data == 16.0)


def test_big_endian_and_4d_samples_load():
    samples = volumes.sample_volumes()
    anat = volumes.load_path(samples["anatomical.nii (nibabel test data, big-endian int16)"])
    assert anat.header["stored dtype"] == ">i2" and anat.data.shape == (33, 41, 25) and anat.data.max() > 0
    func = volumes.load_path(samples["functional.nii (nibabel test data, 4D)"])
    assert func.frames == 20 and func.frame(3).shape == (17, 21, 3) and func.zooms == (4.0, 4.0, 8.0)


def test_singleton_fourth_axis_is_3d():
    vol = volumes.load_volume(nifti_bytes(np.ones((4, 5, 6, 1), np.float32)))
    assert vol.data.shape == (4, 5, 6) and vol.frames == 1


def test_windowing_handles_nan_and_inf():
    s = np.array([[np.nan, -np.inf, 0.0], [5.0, 10.0, np.inf]], np.float32)
    np.testing.assert_array_equal(volumes.window(s, 0, 10), [[0, 0, 0], [128, 255, 255]])
    data = np.concatenate([np.arange(100, dtype=np.float32), [np.nan, np.inf, -np.inf]])
    lo, hi = volumes.robust_window(data)
    assert lo == pytest.approx(1.98) and hi == pytest.approx(97.02)


def test_planes_are_oriented_for_display():
    vol = np.zeros((5, 6, 7), np.float32)
    vol[4, 0, 6] = 1  # right, posterior, superior corner
    ax = volumes.plane_slice(vol, "axial", 6)
    assert ax.shape == (6, 5) and ax[-1, -1] == 1  # posterior at the bottom, right on the right
    cor = volumes.plane_slice(vol, "coronal", 0)
    assert cor.shape == (7, 5) and cor[0, -1] == 1  # superior at the top
    sag = volumes.plane_slice(vol, "sagittal", 4)
    assert sag.shape == (7, 6) and sag[0, 0] == 1  # superior at the top, posterior on the left


def test_display_keeps_physical_proportions_and_flips_for_radiology():
    slice_u8 = np.zeros((10, 20), np.uint8)
    slice_u8[:, :2] = 255  # patient's left edge in neurological view
    neuro = volumes.display(slice_u8, "axial", (1.0, 2.0, 1.0), (0, 0, 0), height=100)
    assert neuro.shape == (100, 100, 3)  # 20 x 1 mm wide, 10 x 2 mm tall: a square
    radio = volumes.display(slice_u8, "axial", (1.0, 2.0, 1.0), (0, 0, 0), radiological=True, height=100)
    assert neuro[50, 3, 0] > 200 and radio[50, 96, 0] > 200  # the bright edge swaps sides


def test_world_coordinates_follow_the_affine():
    mni = volumes.load_path(volumes.sample_volumes()["MNI152 T1 template (nilearn, 1 mm)"])
    assert mni.data.shape == (197, 233, 189)
    assert volumes.world_mm(mni.affine, (98, 116, 94)) == pytest.approx((0.0, -18.0, 22.0))
    assert volumes.montage(mni.data, "axial", 0, 200).ndim == 3


def test_frame_stats_are_computed_once_and_match_the_window():
    vol = volumes.load_path(volumes.sample_volumes()["functional.nii (nibabel test data, 4D)"])
    first = vol.stats(2)
    assert vol.stats(2) is first and first.robust == volumes.robust_window(vol.frame(2))
    assert first.full == (float(vol.frame(2).min()), float(vol.frame(2).max()))
    # The histogram is binned over the full range and counts every finite voxel of this small frame.
    assert first.counts.sum() == np.isfinite(vol.frame(2)).sum() and len(first.edges) == volumes.HIST_BINS + 1
    assert (first.edges[0], first.edges[-1]) == first.full
