"""Activation Lab through AppTest: curves, URL state, a real feature map, dying ReLU."""
from functools import partial

import pytest

from tests.inputs.images import BAD_IMAGES
from tests.pages import apptest
from tests.pages.apptest import texts, upload_photo

PAGE = "pages/activations.py"


open_page = partial(apptest.open_page, PAGE)


def test_default_view_plots_three_activations_with_formulas():
    at = open_page()
    assert not at.exception and not at.error and not at.warning
    assert at.multiselect(key="act_names").value == ["ReLU", "Leaky ReLU", "GELU"]
    assert any(m.startswith("**GELU**") for m in texts(at.markdown))
    assert at.query_params["acts"] == "ReLU,Leaky ReLU,GELU"


def test_link_restores_choices_and_parameters():
    at = open_page(acts="Sigmoid,Tanh", lo="-3", hi="4", slope="0.2", alpha="2", bias="-1.5", block="block3")
    assert not at.exception and not at.warning
    assert at.multiselect(key="act_names").value == ["Sigmoid", "Tanh"]
    assert at.slider(key="act_range").value == (-3.0, 4.0)
    assert at.slider(key="act_bias").value == -1.5 and at.radio(key="act_dead_block").value == "block3"


@pytest.mark.parametrize("query,message", [
    ({"acts": "ReLU,Mish,<b>x</b>"}, "unknown entries (Mish, <b>x</b>)"),
    ({"lo": "nan"}, "`lo` must be a number from -10 to 0"),
    ({"hi": "1e400"}, "`hi` must be a number from 0.5 to 10"),
    ({"bias": "-99"}, "`bias` must be a number from -4 to 2"),
    ({"block": "block9"}, "`block=block9` is not recognised"),
])
def test_bad_links_warn_and_fall_back(query, message):
    apptest.link_warns_and_falls_back(PAGE, query, message)


def test_no_activation_selected_is_a_hint_not_an_error():
    at = open_page()
    at.multiselect(key="act_names").set_value([]).run()
    assert not at.exception
    assert "Pick at least one activation." in texts(at.info)


def test_negative_bias_kills_relu_channels_but_not_leaky_ones():
    at = open_page()
    at.slider(key="act_bias").set_value(-4.0).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert float(metrics["ReLU outputs that are 0"].rstrip("%")) > 90
    assert float(metrics["Dead channels with ReLU"].rstrip("%")) > 0
    assert metrics["Dead channels with Leaky ReLU"] == "0%"


def test_feature_map_view_reports_zeroed_values():
    at = open_page()
    at.radio(key="act_fm_block").set_value("block2").run()
    at.selectbox(key="act_fm_name").set_value("ReLU").run()
    assert not at.exception
    summary = next(m for m in texts(at.markdown) if "channels of" in m)
    assert summary.startswith("32 channels of 32x32")


@pytest.mark.parametrize("case,make,message", BAD_IMAGES, ids=[c[0] for c in BAD_IMAGES])
def test_bad_uploads_keep_the_page_working(case, make, message):
    at = upload_photo(open_page(), "act", f"{case}.png", make())
    assert not at.exception
    assert any(message in e for e in texts(at.error))
    assert at.slider(key="act_bias")  # the dying-ReLU section still renders
