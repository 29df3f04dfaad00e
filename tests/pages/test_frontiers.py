"""Research frontiers through AppTest: ViT vs CNN, NAS, pruning, int8, MLP-Mixer."""
import re
from functools import partial

import pytest

from core import estimates
from tests.inputs.images import BAD_IMAGES
from tests.pages import apptest
from tests.pages.apptest import texts, upload_photo

PAGE = "pages/frontiers.py"
open_page = partial(apptest.open_page, PAGE)


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_default_view_compares_vit_and_cnns():
    at = open_page()
    assert not at.exception and not at.error and not at.warning
    table = at.dataframe[0].value
    assert list(table.model) == ["ViT-B/16", "ResNet-50", "ConvNeXt-Tiny"]
    assert round(table["params (M)"][1], 3) == 25.557  # ResNet-50: 25,557,032
    m = metrics(at)
    assert m["Attention share of ViT"] == "14%" and m["ViT-B/16"] == "78.5 GMACs"  # at 448 px
    assert [c for img in at.image for c in img.captions][1:15] == [str(i) for i in range(1, 15)]  # token strip
    assert metrics(at)["Measured sparsity"] == "50.0%"
    assert "Section 10 · Research frontiers, measured" in texts(at.subheader)


def test_resolution_and_sparsity_follow_the_link():
    at = open_page(res="224", sparsity="90")
    assert not at.exception and not at.warning
    m = metrics(at)
    assert m["Attention share of ViT"] == "4%" and m["Measured sparsity"] == "90.0%"
    assert float(m["Accuracy"].rstrip("%")) < 50  # unretrained 90% pruning breaks ShapesNet
    at.slider(key="fr_sparsity").set_value(20).run()
    assert float(metrics(at)["Accuracy"].rstrip("%")) > 95 and at.query_params["sparsity"] == "20"


@pytest.mark.parametrize("query,message", [
    ({"res": "12345"}, "`res=12345` is not recognised"),
    ({"sparsity": "100"}, "`sparsity` must be a whole number from 0 to 95"),
    ({"search": "bayesian"}, "`search=bayesian` is not recognised"),
    ({"trials": "-4"}, "`trials` must be a whole number from 1 to 60"),
])
def test_bad_links_warn_and_fall_back(query, message):
    apptest.link_warns_and_falls_back(PAGE, query, message)


def test_too_many_trials_are_capped_with_a_message(monkeypatch):
    monkeypatch.setattr(estimates, "_rates", {})  # no search has run on this server yet
    at = open_page(trials="45")
    assert not at.exception
    assert any("capped at 30" in w for w in texts(at.warning))
    assert at.button(key="fr_nas_run").proto.label == "Run the search: 30 trials"  # no measurement, no number


@pytest.mark.parametrize("case,make,message", BAD_IMAGES[:3], ids=[c[0] for c in BAD_IMAGES[:3]])
def test_bad_uploads_keep_the_page_working(case, make, message):
    at = upload_photo(open_page(), "fr", f"{case}.png", make())
    assert not at.exception
    assert any(message in e for e in texts(at.error))
    assert "Attention share of ViT" in metrics(at)


def test_int8_table_shows_accuracy_and_size():
    at = open_page()
    at.button(key="fr_quant").click().run()
    assert not at.exception
    table = next(df.value for df in at.dataframe if "weights (KB)" in df.value.columns)
    fp32, int8 = table.to_dict("records")
    assert abs(fp32["accuracy"] - int8["accuracy"]) <= 0.01
    assert 3 < fp32["weights (KB)"] / int8["weights (KB)"] < 4


@pytest.mark.slow
def test_a_short_search_draws_the_pareto_front():
    at = open_page(trials="3")
    at.button(key="fr_nas_run").click().run()
    assert at.session_state["fr_nas_job"].join(timeout=120)
    at.run()
    assert not at.exception
    trials = next(df.value for df in at.dataframe if "architecture" in df.value.columns)
    assert len(trials) == 3 and trials["on the front"].any()
    at.number_input(key="fr_trials").set_value(6).run()  # from the search just measured here
    assert re.fullmatch(r"Run the search: 6 trials \(about \d+(\.\d)? (s|min) here, from the last run\)",
                        at.button(key="fr_nas_run").proto.label)


@pytest.mark.slow
def test_int8_timing_compiles_and_times_four_variants():
    at = open_page()
    at.button(key="fr_quant").click().run()
    at.radio(key="fr_qbatch").set_value(1).run()
    at.button(key="fr_qtime").click().run()
    assert at.session_state["fr_qtime_job"].join(timeout=300)
    at.run()
    assert not at.exception
    table = next(df.value for df in at.dataframe if "ms per batch" in df.value.columns)
    assert list(table.model) == ["float32, eager", "int8, eager (unfused reference)", "float32, compiled",
                                 "int8, compiled"]


@pytest.mark.slow
def test_mixer_lab_trains_both_models():
    at = open_page()
    at.select_slider(key="fr_mix_n").set_value(1000).run()
    at.button(key="fr_mix_run").click().run()
    assert at.session_state["fr_mix_job"].join(timeout=180)
    at.run()
    assert not at.exception
    table = next(df.value for df in at.dataframe if "params" in df.value.columns and "name" in df.value.columns)
    assert list(table.name) == ["SimpleCNN (convolution)", "MLP-Mixer (MLPs only)"]
