"""Home page (section 1) through Streamlit's AppTest: the router, the CNN vision viewer, the quiz."""
import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.images import SAMPLE_PHOTOS
from tests.inputs.images import BAD_IMAGES, ODD_IMAGES, encode
from tests.pages.apptest import open_page, texts, upload_photo


def run_home(**query):
    return open_page(None, **query)


def test_home_renders_the_viewer_with_the_shipped_model():
    at = run_home()
    assert not at.exception
    assert at.title[0].value == "CNN Lab"
    assert at.selectbox(key="home_model").value == "shapesnet"
    assert any(c.startswith("Held-out figures (model card: assets/models/shapesnet.md)") for c in texts(at.caption))
    assert any("filters of the first conv (3 -> 16, 3x3)" in c for c in _image_captions(at))
    assert not at.warning and not at.error
    assert at.query_params == {"source": "Synthetic shapes", "seed": "0", "model": "shapesnet"}


def _image_captions(at: AppTest) -> list[str]:
    return [caption for image in at.image for caption in image.captions]


def test_switching_model_and_layer_updates_the_view():
    at = run_home()
    at.selectbox(key="home_model").set_value("simplecnn_shapes").run()
    assert not at.exception
    layer = at.select_slider(key="home_layer_simplecnn_shapes")
    assert layer.options == ["conv1", "conv2"]
    layer.set_value("conv2").run()
    assert not at.exception
    assert at.query_params["model"] == "simplecnn_shapes"


def test_untrained_torchvision_model_is_labelled_as_such():
    at = run_home(model="resnet18")
    assert not at.exception
    assert any("random weights" in w for w in texts(at.warning))


def test_synthetic_scene_source():
    at = run_home(source="Synthetic shapes", seed="7")
    assert not at.exception
    assert at.number_input(key="home_seed").value == 7


@pytest.mark.parametrize("query,message", [
    ({"model": "alexnet-9000"}, "`model=alexnet-9000` is not recognised"),
    ({"source": "Sample photo", "photo": "<script>alert(1)</script>"},
     "`photo=<script>alert(1)</script>` is not recognised"),
    ({"source": "Sample photo", "photo": "x" * 500}, "..."),
    ({"source": "Synthetic shapes", "seed": "-5"}, "whole number from 0 to 10000"),
    ({"source": "Synthetic shapes", "seed": "1e99"}, "whole number from 0 to 10000"),
])
def test_bad_url_parameters_warn_and_fall_back(query, message):
    at = run_home(**query)
    assert not at.exception
    assert any(message in w for w in texts(at.warning))
    assert at.image  # the viewer still renders with the defaults


def _upload(at: AppTest, name: str, data: bytes) -> AppTest:
    return upload_photo(at, "home", name, data)


@pytest.mark.parametrize("case,make,message", BAD_IMAGES, ids=[c[0] for c in BAD_IMAGES])
def test_bad_uploads_show_an_error_and_the_page_keeps_working(case, make, message):
    at = _upload(run_home(), f"{case}.png", make())
    assert not at.exception
    errors = texts(at.error)
    assert len(errors) == 1 and message in errors[0] and "Accepted: PNG, JPEG" in errors[0]
    assert at.subheader  # the quiz below still renders
    at.segmented_control(key="home_source").set_value("Sample photo").run()
    assert not at.exception and not at.error  # and the user can carry on


@pytest.mark.parametrize("case,make,note", ODD_IMAGES, ids=[c[0] for c in ODD_IMAGES])
def test_odd_but_valid_uploads_are_shown_with_what_was_done(case, make, note):
    at = _upload(run_home(), f"{case}.png", make())  # content is sniffed, not trusted from the name
    assert not at.exception and not at.error
    # The viewer ran (a strip too thin to carry its caption has it as text below the picture).
    assert any(c.startswith("Your photo") for c in _image_captions(at) + texts(at.caption))
    if note:
        assert any(note in c for c in texts(at.caption))


@pytest.mark.parametrize("photo", list(SAMPLE_PHOTOS))
def test_every_sample_photo_works_offline_with_the_shipped_model(photo):
    at = run_home(source="Sample photo", photo=photo)
    assert not at.exception and not at.error and not at.warning
    assert at.selectbox(key="home_sample").value == photo


def test_upload_with_a_refused_extension_is_an_error_not_a_traceback():
    at = _upload(run_home(), "model.pkl", b"\x80\x04K\x01.")
    assert not at.exception
    assert any("Accepted: PNG, JPEG" in e for e in texts(at.error))


def test_good_upload_runs_the_model_and_reports_downscaling():
    photo = np.random.default_rng(3).integers(0, 255, (1500, 2000, 3), dtype=np.uint8)
    at = _upload(run_home(), "big.png", encode(Image.fromarray(photo), "PNG"))
    assert not at.exception and not at.error
    assert any("Downscaled from 2000x1500 to 1024x768" in c for c in texts(at.caption))


def test_quiz_checks_answers_and_keeps_score():
    at = run_home()
    first = at.radio(key="quiz_foundations_why-not-dense")
    first.set_value(3)  # options are shuffled per session; the radio's values are the bank's indices
    at.form_submit_button[0].click().run()
    assert not at.exception
    assert "Correct." in texts(at.success)
    assert any("1 of 7 correct" in (p.proto.text or "") for p in at.get("progress"))
    second = at.radio(key="quiz_foundations_kernel-learns")
    second.set_value(0)
    at.form_submit_button[1].click().run()
    assert "Not quite." in texts(at.error)


def test_simplecnn_on_a_scene_says_it_learned_one_shape_per_image():
    at = run_home(model="simplecnn_shapes")
    assert not at.exception and not at.error
    assert any("learned one shape per image" in c for c in texts(at.caption))
    at = run_home()  # ShapesNet learned scenes: no such caveat
    assert not any("learned one shape per image" in c for c in texts(at.caption))


@pytest.mark.parametrize("size", [(1, 1), (64, 48)])
def test_a_single_colour_picture_is_called_what_it_is(size):
    """A blank picture holds no shape: whatever the model scores there, the page says it is an error."""
    blank = encode(Image.new("RGB", size, (230, 20, 20)), "PNG")
    at = upload_photo(open_page(), "home", "blank.png", blank)
    assert not at.exception and not at.error
    assert any("single colour" in w for w in texts(at.warning))
    noise = upload_photo(open_page(), "home", "noise.png", encode(
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)), "PNG"))
    assert not any("single colour" in w for w in texts(noise.warning))
