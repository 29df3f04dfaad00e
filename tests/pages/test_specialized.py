"""Specialized CNNs page through AppTest: 1D kernels, the TCN receptive field and causality, transposed convs."""
from functools import partial

import pytest

from tests.pages import apptest
from tests.pages.apptest import texts

PAGE = "pages/specialized.py"
open_page = partial(apptest.open_page, PAGE)


def test_default_view_renders_every_lab():
    at = open_page()
    assert not at.exception and not at.error and not at.warning
    latex = texts(at.latex)
    assert any("= 252" in x for x in latex)  # 256 samples, 5-tap moving average
    assert any(r"= 1 + 1\cdot(1 + 2 + 4 + 8) = 16" in x for x in latex)
    assert any("= 9" in x for x in latex)  # transposed: (4-1)*2 + 2 + 1
    assert any("exactly 16 input steps" in c for c in texts(at.caption))
    assert any("Causal stack: 0 outputs up to step 30 changed" in c for c in texts(at.caption))
    assert "Section 8 · Specialized CNNs: signals, time and dense prediction" in texts(at.subheader)


def test_receptive_field_follows_the_sliders():
    at = open_page()
    at.slider(key="tcn_k").set_value(3).run()
    at.selectbox(key="tcn_sched").set_value("constant (1, 1, 1, ...)").run()
    assert not at.exception
    assert any(r"= 1 + 2\cdot(1 + 1 + 1 + 1) = 9" in x for x in texts(at.latex))
    assert at.query_params["tk"] == "3"


def test_custom_kernel_and_bad_kernel():
    at = open_page(kernel="custom")
    at.text_input(key="sp_custom").input("1, -2, 1").run()
    assert not at.exception and not at.error
    assert any("kernel_size=3" in c for c in texts(at.code))
    at.text_input(key="sp_custom").input("1, x, 1").run()
    assert not at.exception and any("numbers separated by commas" in e for e in texts(at.error))


def test_transposed_settings_torch_refuses_show_a_message():
    at = open_page(tstride="1", topad="2")
    assert not at.exception
    assert any("output_padding must be smaller than the stride" in e for e in texts(at.error))


def test_checkerboard_note_appears_only_when_kernel_is_not_a_multiple_of_stride():
    at = open_page(tker="3", tstride="2")
    assert any("checkerboard" in c for c in texts(at.caption))
    at = open_page(tker="4", tstride="2", tpad="1")
    assert not any("checkerboard" in c for c in texts(at.caption))


@pytest.mark.parametrize("query,message", [
    ({"kind": "arrhythmia"}, "`kind=arrhythmia` is not recognised"),
    ({"layers": "40"}, "`layers` must be a whole number from 1 to 6"),
    ({"tin": "-3"}, "`tin` must be a whole number from 1 to 8"),
    ({"noise": "loud"}, "`noise` must be a number from 0 to 0.5"),
    ({"period": "1"}, "`period` must be a whole number from 2 to 500"),
    ({"trend": "9"}, "`trend` must be a number from 0 to 0.05"),
    ({"seg": "instances"}, "`seg=instances` is not recognised"),
])
def test_bad_links_warn_and_fall_back(query, message):
    apptest.link_warns_and_falls_back(PAGE, query, message)


def test_the_1d_cnn_trains_and_explains():
    at = open_page()
    at.button(key="sp_train").click().run()
    assert at.session_state["sp_job"].join(timeout=120)
    at.run()
    assert not at.exception and not at.error
    metric = next(m for m in at.metric if m.label == "Held-out accuracy")
    assert float(metric.value.rstrip("%")) >= 90
    at.selectbox(key="sp_cam_cls").set_value(2).run()
    assert not at.exception


@pytest.mark.slow
def test_segmentation_trains_with_and_without_skips():
    at = open_page()
    at.button(key="seg_train").click().run()
    assert at.session_state["seg_job"].join(timeout=300)
    at.run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert list(table["decoder"]) == ["with skips", "without skips"] and (table["mean IoU"] > 0.85).all()
    assert any(c == "predicted mask 128 x 192" for img in at.image for c in img.captions)


def test_forecast_beats_the_seasonal_naive_baseline():
    at = open_page()
    at.button(key="fc_run").click().run()
    assert not at.exception and not at.error
    tcn = next(m for m in at.metric if m.label == "TCN MAE on the hold-out")
    naive = next(m for m in at.metric if m.label == "Seasonal naive MAE")
    assert float(tcn.value) < float(naive.value)


@pytest.mark.parametrize("data,message", [
    (b"", "is empty"),
    (b"a,b\nx,y\n", "no column of numbers"),
    (b"\x89PNG\r\n\x1a\n" + bytes(300), "could not be read as CSV|no column of numbers"),
])
def test_bad_csv_upload_shows_an_error(data, message):
    import re

    at = open_page()
    at.radio(key="fc_source").set_value("Upload a CSV column").run()
    at.file_uploader(key="fc_upload").upload("series.csv", data, "text/csv")
    at.run()
    assert not at.exception and any(re.search(message, e) for e in texts(at.error))


def test_csv_upload_forecasts():
    import numpy as np

    from core.forecast import seasonal_series

    csv = "value\n" + "\n".join(f"{v:.4f}" for v in seasonal_series(length=200, period=12, seed=2))
    at = open_page()
    at.radio(key="fc_source").set_value("Upload a CSV column").run()
    at.file_uploader(key="fc_upload").upload("series.csv", csv.encode(), "text/csv")
    at.run()
    at.number_input(key="fc_period").set_value(12).run()
    at.button(key="fc_run").click().run()
    assert not at.exception and not at.error
    assert any("Using column 'value' (200 rows)." in c for c in texts(at.caption))
    assert np.isfinite(float(next(m for m in at.metric if m.label == "TCN MAE on the hold-out").value))


def test_uploaded_labelled_signals_are_convolved_and_classified():
    from tests.core.test_forecast import _signals_csv

    at = open_page(signals="Upload a CSV (one signal per row)")
    at.file_uploader(key="sp_upload").upload("motion.csv", _signals_csv(rows=60), "text/csv")
    at.run()
    assert not at.exception and not at.error
    assert any("60 signals of 64 samples" in c for c in texts(at.caption))
    assert any(m.startswith("Label: **") for m in texts(at.markdown))
    at.button(key="sp_train").click().run()
    assert at.session_state["sp_job"].join(timeout=120)
    at.run()
    assert not at.exception
    assert any(m.label == "Held-out accuracy" for m in at.metric)


def test_bad_signals_csv_upload_shows_an_error():
    at = open_page(signals="Upload a CSV (one signal per row)")
    at.file_uploader(key="sp_upload").upload("bad.csv", b"a,b\n1,2\n", "text/csv")
    at.run()
    assert not at.exception and any("numeric columns per row" in e for e in texts(at.error))


def test_motion_family_renders():
    at = open_page(signals="motion sensor (accelerometer-like)", kind="running")
    assert not at.exception and not at.error and not at.warning


def test_forecast_and_segmentation_settings_come_from_the_link():
    at = open_page(period="12", trend="0.01", fnoise="0.3", seg="which shape, per pixel")
    assert not at.exception and not at.warning
    assert at.number_input(key="fc_period").value == 12 and at.slider(key="fc_trend").value == 0.01
    assert at.slider(key="fc_noise").value == 0.3 and at.selectbox(key="seg_task").value == "which shape, per pixel"


def test_a_one_pixel_transposed_input_needs_no_pixel_slider():
    at = open_page(tin="1")
    assert not at.exception and not at.error
    assert "Input pixel row: 0 (the only one)" in texts(at.caption)
    assert not any(s.key in ("tc_i", "tc_j") for s in at.slider)
    assert any(r"= (1-1)\cdot2" in x for x in texts(at.latex))
