"""The Interpretability page's default view is a lesson: the map it shows sits on the object.

Offline it opens on ShapesNet and a shapes scene holding each class once; for every class, the
Grad-CAM's peak lies on that class's shape (the page says so), and the pointing game beats both
baselines by a wide margin."""
from functools import partial

import pytest

from core.data import SHAPE_CLASSES
from tests.pages import apptest
from tests.pages.apptest import captions, texts

PAGE = "pages/interpretability.py"
open_page = partial(apptest.open_page, PAGE)


def test_the_default_view_explains_a_shape_the_model_finds():
    at = open_page()
    assert not at.exception and not at.error and not at.warning
    assert at.query_params["model"] == "shapesnet" and at.query_params["source"] == "Synthetic shapes"
    target = SHAPE_CLASSES[int(at.query_params["cls"])]
    assert f"Grad-CAM for '{target}' at features.block4" in captions(at)
    assert f"Its peak lies **on the {target}** (white outline): the map points at the object." in texts(at.markdown)


@pytest.mark.parametrize("cls", range(len(SHAPE_CLASSES)))
def test_every_class_in_the_default_scene_has_its_grad_cam_on_its_own_shape(cls):
    at = open_page(cls=str(cls))
    assert not at.exception and not at.error
    name = SHAPE_CLASSES[cls]
    assert f"Grad-CAM for '{name}' at features.block4" in captions(at)
    assert f"Its peak lies **on the {name}** (white outline): the map points at the object." in texts(at.markdown)


@pytest.mark.slow
def test_the_pointing_game_beats_the_centre_guess_and_random_peaks():
    at = open_page()
    at.button(key="xai_pg_run").click().run()
    assert not at.exception and not at.error
    value = {m.label.split(",")[0]: int(m.value.rstrip("%")) / 100 for m in at.metric
             if m.label.startswith(("Pointing game", "Centre guess", "Random peak"))}
    assert value["Pointing game"] >= 0.85 and value["Centre guess"] <= 0.35
    assert value["Pointing game"] - value["Centre guess"] >= 0.45 and value["Random peak"] <= 0.3
