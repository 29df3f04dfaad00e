"""Convolution Playground through AppTest: every shared view, bad links, bad uploads, the 5x5 example."""
from functools import partial

import pytest
from PIL import Image

from tests.inputs.images import BAD_IMAGES, encode
from tests.inputs.playground import BAD_QUERIES, VIEWS
from tests.pages import apptest
from tests.pages.apptest import texts, upload_photo

PAGE = "pages/convolution.py"


open_page = partial(apptest.open_page, PAGE)


@pytest.mark.parametrize("case,query,code", VIEWS, ids=[v[0] for v in VIEWS])
def test_shared_views_reproduce_the_exact_settings(case, query, code):
    at = open_page(**query)
    assert not at.exception and not at.error and not at.warning
    assert code in texts(at.code)
    for key, value in query.items():
        assert at.query_params[key] == value  # the link survives the run unchanged


def test_formula_shows_live_numbers_and_updates_with_stride():
    at = open_page()
    assert any(r"{341 + 2\cdot1 - 1\cdot(3-1) - 1}{1}" in f for f in texts(at.latex))
    at.slider(key="conv_stride").set_value(3).run()
    assert not at.exception
    assert any(r"\right\rfloor + 1 = 114" in f for f in texts(at.latex))  # floor(340 / 3) + 1
    assert at.query_params["stride"] == "3"
    assert any("-> output **1 x 114 x 171**" in m for m in texts(at.markdown))


def test_kernel_preset_and_size_change_the_layer():
    at = open_page()
    at.selectbox(key="conv_preset").set_value("Gaussian").run()
    at.radio(key="conv_size").set_value("5").run()
    assert not at.exception
    assert any("kernel_size=5" in c and "padding=2" in c for c in texts(at.code))


@pytest.mark.parametrize("case,query,message", BAD_QUERIES, ids=[b[0] for b in BAD_QUERIES])
def test_hand_edited_links_warn_and_fall_back(case, query, message):
    at = apptest.link_warns_and_falls_back(PAGE, query, message)
    assert at.code  # the playground still renders


def test_custom_kernel_from_a_link_does_not_leak_into_other_presets():
    at = open_page(k="0,0,0,0,2,0,0,0,0")
    assert at.query_params["k"] == "0,0,0,0,2,0,0,0,0"
    at.selectbox(key="conv_preset").set_value("box blur").run()
    assert not at.exception
    assert "k" not in at.query_params  # box blur shows its own weights, so no custom kernel in the link


def test_editing_the_kernel_grid_updates_the_link_and_a_cleared_cell_is_an_error():
    at = open_page()
    at.session_state["conv_kernel_Sobel x_3"] = {"edited_rows": {1: {"1": 9.0}}, "added_rows": [], "deleted_rows": []}
    at.run()
    assert not at.exception and not at.error
    assert at.query_params["k"] == "-1,0,1,-2,9,2,-1,0,1"
    at.session_state["conv_kernel_Sobel x_3"] = {"edited_rows": {0: {"0": None}}, "added_rows": [], "deleted_rows": []}
    at.run()
    assert not at.exception
    assert any("empty or non-numeric cell" in e for e in texts(at.error))


def test_kernel_larger_than_a_tiny_upload_is_an_error_not_a_crash():
    at = upload_photo(open_page(size="7", padding="valid"), "conv", "dot.png",
                      encode(Image.new("RGB", (4, 4), "red"), "PNG"))
    assert not at.exception
    assert any("output would be empty" in e for e in texts(at.error))
    assert at.slider(key="conv_step")  # the worked example below still renders


@pytest.mark.parametrize("case,make,message", BAD_IMAGES, ids=[c[0] for c in BAD_IMAGES])
def test_bad_uploads_keep_the_page_working(case, make, message):
    at = upload_photo(open_page(), "conv", f"{case}.jpg", make(), "image/jpeg")
    assert not at.exception
    assert any(message in e for e in texts(at.error))
    assert at.slider(key="conv_step")


def test_worked_example_steps_to_the_last_window():
    at = open_page()
    at.slider(key="conv_step").set_value(9).run()
    assert not at.exception
    assert any("= **-5** -> output[2, 2]" in m for m in texts(at.markdown))
    assert any("gives **4**" in m for m in texts(at.markdown))


def test_receptive_field_pick_and_pooling():
    at = open_page(kernel="identity", channels="per channel")
    at.slider(key="conv_row").set_value(0).run()
    at.slider(key="conv_col").set_value(0).run()
    assert not at.exception
    assert any("rows -1..1, columns -1..1" in caption for img in at.image for caption in img.captions)
    at.radio(key="conv_pool").set_value("global average").run()
    assert any("one number per channel" in m for m in texts(at.markdown))
    at.radio(key="conv_pool").set_value("max").run()
    at.slider(key="conv_pool_window").set_value(4).run()
    assert any("341x512 -> **169x255**" in m for m in texts(at.markdown))  # floor((341 - 4) / 2) + 1
    assert not at.exception


def test_width_formula_uses_w_and_the_width():
    at = open_page()  # the coffee cup: 341 rows x 512 columns
    h_line, w_line = (f.strip("$\n") for f in texts(at.latex)[:2])
    assert h_line.startswith("H_{out}") and r"\frac{H_{in} + 2p_H - d_H(k_H-1) - 1}{s_H}" in h_line
    assert w_line.startswith("W_{out}") and r"\frac{W_{in} + 2p_W - d_W(k_W-1) - 1}{s_W}" in w_line
    assert "H" not in w_line.replace("W_{out}", "") and r"{512 + 2\cdot1 - 1\cdot(3-1) - 1}{1}" in w_line


@pytest.mark.parametrize("size,rows,cols", [((1, 1), 1, 1), ((3, 4000), 512, 1)], ids=["1x1", "3x4000"])
def test_a_single_output_row_or_column_needs_no_slider(size, rows, cols):
    at = upload_photo(open_page(), "conv", "thin.png", encode(Image.new("RGB", size, "red"), "PNG"))
    assert not at.exception
    assert texts(at.error) == [f"The map is {rows}x{cols}, smaller than the 2x2 window."]  # pooling: said, not raised
    assert any(f"-> output **1 x {rows} x {cols}**" in m for m in texts(at.markdown))
    keys = {s.key for s in at.slider}
    assert ("conv_row" in keys) == (rows > 1) and ("conv_col" in keys) == (cols > 1)
    only = [c for c in texts(at.caption) if c.endswith("(the only one)")]
    assert only == [f"Output {axis}: 0 (the only one)" for axis, n in (("row", rows), ("column", cols)) if n == 1]
    # The receptive field, under the picture or, for a strip too thin to carry it, as text below it.
    assert any(f"that output ({rows // 2}, 0) reads" in c for c in apptest.captions(at) + texts(at.caption))
