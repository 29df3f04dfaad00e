"""Degenerate sizes on every uploader of every page (issue 16, item 6).

Each image picker gets 1x1, 1x4000, 4000x1 and 3x4000 images, the MRI viewer volumes one voxel thick,
the Specialized page one-row and one-column CSVs, the two ImageFolder uploaders a class with a single
image. For every case the page either works or says what was wrong, and never raises; then the
sliders and number inputs whose bounds come from the data are moved to both ends. The files of one
page go one after another into one shared AppTest, as a user would upload them.
"""
import pytest
from PIL import Image

from tests.inputs.csvs import SERIES_BAD, SERIES_OK, SIGNALS_BAD, SIGNALS_OK
from tests.inputs.images import DEGENERATE_IMAGES, encode
from tests.inputs.volumes import DEGENERATE_VOLUMES
from tests.inputs.zips import ONE_IMAGE_CLASS, ONE_IMAGE_EACH, TWO_IMAGES_EACH
from tests.pages import apptest
from tests.pages.apptest import drive_to_ends, no_traceback, screen_text, texts, upload_file, works_or_explains


@pytest.fixture(scope="module")
def shared():
    with apptest.error_details():
        yield apptest.SharedPages()


# ---------------------------------------------------------------- image pickers
# picker prefix -> (page, text shown once the page used the photo, sliders whose bounds come from it)
IMAGE_PAGES = {
    "home": (None, "Your photo, ", ()),
    "conv": ("pages/convolution.py", "The same computation in PyTorch", ("conv_row", "conv_col")),
    "act": ("pages/activations.py", "channels of", ()),
    "fr": ("pages/frontiers.py", "The first row of tokens", ()),
    "xai": ("pages/interpretability.py", "Pearson correlation over all pixels", ()),
    "wild_q": ("pages/wild.py", "Cosine similarity first", ()),
}
# The playground's cases are quick; the other pages load models, so theirs count as slow.
IMAGE_CASES = [pytest.param(prefix, case, make, id=f"{prefix}-{case}", marks=[] if prefix == "conv" else pytest.mark.slow)
               for prefix in IMAGE_PAGES for case, make in DEGENERATE_IMAGES]


@pytest.mark.parametrize("prefix,case,make", IMAGE_CASES)
def test_image_pickers_take_degenerate_sizes(shared, prefix, case, make):
    page, drawn, sliders = IMAGE_PAGES[prefix]
    at = apptest.upload_photo(shared(page), prefix, f"{case}.png", make())
    no_traceback(at)
    assert drawn in screen_text(at)  # every picker page works with such a photo (the conv page's pooling may refuse)
    drive_to_ends(at, sliders)


def test_one_pixel_camera_snapshot_on_the_playground(shared):
    at = shared("pages/convolution.py")
    at.segmented_control(key="conv_source").set_value("Camera").run()
    at.camera_input(key="conv_camera").set_value(("snap.jpg", encode(Image.new("RGB", (1, 1), "orange"), "JPEG"),
                                                  "image/jpeg")).run()
    no_traceback(at)
    assert "-> output **1 x 1 x 1**" in screen_text(at)


# ---------------------------------------------------------------- volumes
MRI = "pages/mri_viewer.py"
UPLOAD_VOLUME = "Upload a NIfTI file"


@pytest.mark.parametrize("case,make", DEGENERATE_VOLUMES, ids=[c[0] for c in DEGENERATE_VOLUMES])
def test_volumes_one_voxel_thick(shared, case, make):
    at = upload_file(shared(MRI, sample=UPLOAD_VOLUME), "mri_upload", f"{case}.nii", make())
    works_or_explains(at, "Crosshair voxel")
    assert not at.warning[1:], texts(at.warning)  # only the "not a diagnostic tool" notice, no link warning
    shape = tuple(int(n) for n in case.split("x"))
    assert f"Crosshair voxel **({shape[0] // 2}, {shape[1] // 2}, {shape[2] // 2})**" in screen_text(at)
    moved = drive_to_ends(at, ["mri_x_", "mri_y_", "mri_z_"])
    assert len(moved) == sum(n > 1 for n in shape)  # a one-voxel axis gets a caption, not a slider
    assert screen_text(at).count("(the only one)") == 3 - len(moved)


THIN = [c for c in DEGENERATE_VOLUMES if c[0] in ("1x12x10", "1x1x1")]  # the 3D CNN sees every one on its 64^3 grid


@pytest.mark.slow
@pytest.mark.parametrize("case,make", THIN, ids=[c[0] for c in THIN])
def test_lesion_and_3d_cam_on_thin_volumes(shared, case, make):
    at = upload_file(shared(MRI, sample=UPLOAD_VOLUME), "mri_upload", f"{case}.nii", make())
    at.button(key="mri_insert").click().run()
    no_traceback(at)
    assert any(c.startswith("Synthetic lesion at voxel") for c in texts(at.caption))
    at.toggle(key="mri_cam").set_value(True).run()
    no_traceback(at)
    assert "3D pointing game: **" in screen_text(at)
    at.button(key="mri_jump").click().run()
    no_traceback(at)
    at.toggle(key="mri_cam").set_value(False).run()
    at.button(key="mri_clear").click().run()
    no_traceback(at)


# ---------------------------------------------------------------- CSVs on the Specialized page
SPECIALIZED = "pages/specialized.py"
UPLOAD_SIGNALS = "Upload a CSV (one signal per row)"


@pytest.mark.parametrize("case,data,expected", SIGNALS_OK + SIGNALS_BAD,
                         ids=[c[0] for c in SIGNALS_OK + SIGNALS_BAD])
def test_signal_csvs_of_one_row_or_column(shared, case, data, expected):
    at = upload_file(shared(SPECIALIZED, signals=UPLOAD_SIGNALS), "sp_upload", f"{case}.csv", data, "text/csv")
    no_traceback(at)
    assert expected in screen_text(at)
    if (case, data, expected) in SIGNALS_OK:
        assert not at.error
        assert any("nn.Conv1d" in c for c in texts(at.code))  # the kernel ran on the single row
        drive_to_ends(at, ["sp_row"])
        assert any("eight labelled rows" in i for i in texts(at.info))  # too few rows to train: said so
    else:
        assert any(expected in e for e in texts(at.error))


@pytest.mark.parametrize("case,data,expected", SERIES_OK + SERIES_BAD, ids=[c[0] for c in SERIES_OK + SERIES_BAD])
def test_series_csvs_of_one_row_or_column(shared, case, data, expected):
    at = shared(SPECIALIZED, series="Upload a CSV column")
    at = upload_file(at, "fc_upload", f"{case}.csv", data, "text/csv")
    no_traceback(at)
    assert expected in screen_text(at)
    if (case, data, expected) in SERIES_BAD:
        assert any(expected in e for e in texts(at.error))


@pytest.mark.slow
def test_the_shortest_series_forecasts_and_a_longer_season_is_explained(shared):
    case, data, _ = SERIES_OK[1]
    at = upload_file(shared(SPECIALIZED, series="Upload a CSV column"), "fc_upload", f"{case}.csv", data, "text/csv")
    at.button(key="fc_run").click().run()
    no_traceback(at)
    assert "TCN MAE on the hold-out" in screen_text(at)
    at.number_input(key="fc_period").set_value(500).run()
    at.button(key="fc_run").click().run()
    no_traceback(at)
    assert any("is too short for a period of 500" in e for e in texts(at.error))


# ---------------------------------------------------------------- ImageFolder zips
# (id, zip, what the Training Monitor says, what Transfer Learning says)
ZIPS = [("one-image-class", ONE_IMAGE_CLASS, "6 training and 1 validation images", "Smallest class: 1 images"),
        ("one-image-each", ONE_IMAGE_EACH, "1 training and 1 validation images", "Every class has a single image"),
        ("two-images-each", TWO_IMAGES_EACH, "3 training and 1 validation images", "Smallest class: 1 images")]
UPLOAD_ZIP = "Upload an ImageFolder zip"


@pytest.mark.parametrize("case,data,expected,_", ZIPS, ids=[z[0] for z in ZIPS])
def test_training_monitor_takes_a_one_image_class(shared, case, data, expected, _):
    at = upload_file(shared("pages/training.py", ds=UPLOAD_ZIP, epochs="2"), "tr_zip", f"{case}.zip", data,
                     "application/zip")
    works_or_explains(at, expected)
    assert expected in screen_text(at)
    assert not any("The link's" in w for w in texts(at.warning))  # the previous zip's count is not applied
    assert drive_to_ends(at, ["tr_n_zip:"])


@pytest.mark.slow
@pytest.mark.parametrize("case,data,_,__", ZIPS, ids=[z[0] for z in ZIPS])
def test_training_on_a_one_image_class_finishes(shared, case, data, _, __):
    at = upload_file(shared("pages/training.py", ds=UPLOAD_ZIP, epochs="2"), "tr_zip", f"{case}.zip", data,
                     "application/zip")
    at.button(key="tr_start").click().run()
    run = at.session_state["tr_runs"][-1]
    assert run.join(timeout=120)
    at.run()
    works_or_explains(at, "Diagnosis")
    assert "Diagnosis" in screen_text(at)
    drive_to_ends(at, [f"tr_timeline_{run.id}"])


@pytest.mark.parametrize("case,data,_,expected", ZIPS, ids=[z[0] for z in ZIPS])
def test_transfer_takes_a_one_image_class(shared, case, data, _, expected):
    at = upload_file(shared("pages/transfer.py", target=UPLOAD_ZIP), "tl_zip", f"{case}.zip", data,
                     "application/zip")
    works_or_explains(at, expected)
    assert expected in screen_text(at)


@pytest.mark.slow
def test_transfer_runs_on_a_one_image_class(shared):
    case, data, _, _ = ZIPS[0]
    at = upload_file(shared("pages/transfer.py", target=UPLOAD_ZIP, steps="20"), "tl_zip", f"{case}.zip", data,
                     "application/zip")
    at.button(key="tl_run").click().run()
    assert at.session_state["tl_job"].join(timeout=120)
    at.run()
    works_or_explains(at, "training images per class")
    drive_to_ends(at, ["tl_image"])
    at.button(key="tl_probe").click().run()
    assert at.session_state["tl_probe_job"].join(timeout=120)
    at.run()
    works_or_explains(at, "On one-image-class.zip: ")


@pytest.mark.slow
def test_a_single_stage_backbone_needs_no_unfreeze_slider():
    """A VGG of depth 1 trained on the Training Monitor is a one-stage backbone for Transfer Learning."""
    with apptest.error_details():
        at = apptest.open_page("pages/training.py", arch="vgg", depth="1", width="8", n="300", epochs="1")
        at.button(key="tr_start").click().run()
        run = at.session_state["tr_runs"][-1]
        assert run.join(timeout=120)
        at.switch_page("pages/transfer.py").run()
        at.selectbox(key="tl_backbone").set_value(f"run-{run.id}").run()
        no_traceback(at)
        assert "Fine-tuning unfreezes the last N stages: 1 (the only one)" in texts(at.caption)
