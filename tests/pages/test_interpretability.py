"""Interpretability page through AppTest: methods, links, slow methods, sanity check, pointing game."""
import json
from functools import partial

import pytest

from core.data import SHAPE_CLASSES
from tests.inputs.images import BAD_IMAGES
from tests.pages import apptest
from tests.pages.apptest import captions, texts, upload_photo

PAGE = "pages/interpretability.py"
open_page = partial(apptest.open_page, PAGE)


def test_default_view_explains_the_top_class():
    at = open_page()
    assert not at.exception and not at.error and not at.warning
    probs = next(m for m in texts(at.markdown) if m.startswith("Each class's own probability"))
    top = probs.split("**")[1]  # the most probable class comes first, in bold
    assert f"Grad-CAM for '{top}' at features.block4" in captions(at)
    assert at.query_params["layer"] == "features.block4" and at.query_params["cls"] == str(SHAPE_CLASSES.index(top))


@pytest.mark.parametrize("method", ["Grad-CAM++", "XGrad-CAM", "Layer-CAM", "Eigen-CAM", "Saliency"])
def test_each_live_method_renders(method):
    at = open_page(method=method, cls="3")
    assert not at.exception and not at.error
    assert any(c.startswith(f"{method} for 'star'") for c in captions(at))


def test_link_picks_class_and_layer():
    at = open_page(cls="1", layer="features.block3")
    assert not at.exception and not at.warning
    assert at.selectbox(key="xai_cls_shapesnet").value == 1
    assert "Grad-CAM for 'square' at features.block3" in captions(at)


@pytest.mark.parametrize("query,message", [
    ({"cls": "5"}, "`cls` must be a whole number from 0 to 4"),
    ({"cls": "-1"}, "`cls` must be a whole number from 0 to 4"),
    ({"layer": "fc"}, "`layer=fc` is not recognised"),
    ({"method": "Magic-CAM"}, "`method=Magic-CAM` is not recognised"),
    ({"alpha": "7"}, "`alpha` must be a number from 0 to 1"),
])
def test_bad_links_warn_and_fall_back(query, message):
    apptest.link_warns_and_falls_back(PAGE, query, message)


def _deletion_legend(at) -> list[str]:
    chart = next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if "Deletion curve" in c.proto.spec)
    return [trace["name"] for trace in chart["data"]]


def _code(at) -> str:
    return next(c.value for c in at.code if "Interpretability:" in c.value)


@pytest.mark.parametrize("method", ["Eigen-CAM", "Saliency"])
def test_the_deletion_curve_sanity_check_and_code_follow_the_method(method):
    at = open_page(cls="3")
    assert _deletion_legend(at)[0].startswith("Grad-CAM order (area ")
    at.session_state["xai_code_open"] = True  # the code behind is built only while its expander is open
    at.radio(key="xai_method").set_value(method).run()
    assert not at.exception and not at.error
    assert _deletion_legend(at)[0].startswith(f"{method} order (area ")
    assert f"Interpretability: {method} for class 3 at features.block4" in _code(at)
    at.button(key="xai_sanity").click().run()
    assert f"{method}, scrambled weights" in captions(at)
    at.selectbox(key="xai_cmap").set_value("magma").run()
    assert "cv2.COLORMAP_MAGMA" in _code(at)


def test_slow_methods_sanity_check_and_pointing_game():
    at = open_page()
    at.button(key="xai_slow").click().run()
    assert not at.exception and not at.error
    assert {"Score-CAM", "SmoothGrad"} <= set(captions(at))
    assert any(c.startswith("Occlusion: drop in probability") for c in captions(at))
    at.button(key="xai_sanity").click().run()
    assert any(m.startswith("Rank correlation between the two maps") for m in texts(at.markdown))
    at.button(key="xai_pg_run").click().run()
    assert not at.exception
    assert any(m.label.startswith("Pointing game") for m in at.metric)
    at.button(key="xai_sanity").click().run()  # another button: both results stay on the page
    assert any(m.startswith("Rank correlation between the two maps") for m in texts(at.markdown))
    assert any(m.label.startswith("Pointing game") for m in at.metric)


def test_a_photo_with_a_shape_model_says_none_and_offers_no_pointing_verdict():
    at = open_page(source="Sample photo", photo="Cat (chelsea)")
    assert not at.exception and not at.error
    assert any("none of its classes" in i for i in texts(at.info))
    assert not any(m.startswith("Its peak lies") for m in texts(at.markdown))  # no truth on a photo


def test_untrained_imagenet_model_is_labelled_and_still_explained():
    at = open_page(model="resnet18")
    assert not at.exception and not at.error
    assert any("random weights" in w for w in texts(at.warning))
    assert any(c.startswith("Grad-CAM for") and c.endswith("at layer4") for c in captions(at))
    assert any("needs a model that knows the five shapes" in c for c in texts(at.caption))


@pytest.mark.parametrize("case,make,message", BAD_IMAGES, ids=[c[0] for c in BAD_IMAGES])
def test_bad_uploads_keep_the_page_working(case, make, message):
    at = upload_photo(open_page(), "xai", f"{case}.png", make())
    assert not at.exception
    assert any(message in e for e in texts(at.error))
    assert at.button(key="xai_pg_run")  # the pointing-game section still works


def test_a_model_trained_on_the_training_page_can_be_explained():
    at, run = apptest.train_tiny_run()
    at.switch_page(PAGE).run()
    key = f"run-{run.id}-e2"
    assert "Training page run #1 (simplecnn, Synthetic shapes)" in at.selectbox(key="xai_model").options
    at.selectbox(key="xai_model").set_value(key).run()
    assert not at.exception and not at.error
    assert any(c.startswith("Grad-CAM for '") and c.endswith("at conv2") for c in captions(at))
    assert any("Trained on the Training Monitor in this session" in c for c in texts(at.caption))
    # Explaining never touches the run's own model: no hooks left, gradients still on.
    assert not any(m._forward_hooks or m._backward_hooks for m in run.trainer.model.modules())
    assert all(p.requires_grad for p in run.trainer.model.parameters())
