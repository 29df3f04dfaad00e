"""CNNs in the wild through AppTest: bias lab, similarity search, tiling, style transfer, deployment."""
from functools import partial

import pytest

from tests.inputs.images import BAD_IMAGES
from tests.pages import apptest
from tests.pages.apptest import captions, texts, upload_photo

PAGE = "pages/wild.py"
open_page = partial(apptest.open_page, PAGE)


def test_default_view_renders_every_lab():
    at = open_page()
    assert not at.exception and not at.error and not at.warning
    caps = captions(at)
    legend = [c.split(":")[0] for c in caps if c.endswith("absent") or ": IoU " in c]  # tiling legend
    assert legend == ["background", "circle", "square", "triangle", "star", "cross"]
    # Similarity: the default query is the cat photo, which is in the gallery: an exact duplicate first.
    assert any(c.startswith("1.000 · Cat (chelsea), original") for c in caps)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Tiles classified"] == "315"  # 768x1024, 96 px tiles, 50% overlap: 15 x 21
    assert any("Style transfer is off here" in i.value for i in at.info)  # no VGG19 weights offline
    assert "Section 9 · CNNs in the wild" in texts(at.subheader)


def test_a_shared_link_reproduces_the_settings():
    at = open_page(cue="80", canvas="512x512", tile="64", overlap="0", k="5", source="Synthetic shapes", seed="3")
    assert not at.exception and not at.warning
    assert at.slider(key="wild_cue").value == 80
    assert {m.label: m.value for m in at.metric}["Tiles classified"] == "64"
    assert len([c for c in captions(at) if c[0].isdigit() and " · " in c]) == 5  # k=5 search results
    assert any(c.startswith("1.000 · Shapes scene 3, original") for c in captions(at))


def test_too_many_tiles_are_refused_with_a_message():
    at = open_page(canvas="2048x2048", tile="32", overlap="75")
    assert not at.exception
    assert any("limit here is 3,000" in e for e in texts(at.error))
    at.slider(key="wild_tile").set_value(256).run()  # 29 x 29 tiles
    assert not at.exception and not at.error


@pytest.mark.parametrize("query,message", [
    ({"cue": "150"}, "`cue` must be a whole number from 0 to 100"),
    ({"canvas": "99999x99999"}, "`canvas=99999x99999` is not recognised"),
    ({"tile": "7"}, "`tile` must be a whole number from 32 to 256"),
    ({"overlap": "abc"}, "`overlap` must be a whole number from 0 to 75"),
    ({"embedder": "vgg"}, "`embedder=vgg` is not recognised"),
    ({"k": "1000"}, "`k` must be a whole number from 3 to 16"),
    ({"conf": "nan"}, "`conf` must be a number from 0.05 to 0.95"),
])
def test_bad_links_warn_and_fall_back(query, message):
    apptest.link_warns_and_falls_back(PAGE, query, message)


@pytest.mark.parametrize("case,make,message", BAD_IMAGES[:5], ids=[c[0] for c in BAD_IMAGES[:5]])
def test_bad_query_uploads_keep_the_page_working(case, make, message):
    at = upload_photo(open_page(), "wild_q", f"{case}.png", make())
    assert not at.exception
    assert any(message in e for e in texts(at.error))
    assert {m.label for m in at.metric} >= {"Tiles classified"}  # the other labs still work


def test_an_untrained_resnet_is_never_used_for_search():
    at = open_page(embedder="resnet18")
    assert not at.exception
    assert any("random weights would rank the gallery by noise" in w for w in texts(at.warning))
    assert any(c.startswith("1.000 · Cat (chelsea), original") for c in captions(at))  # ShapesNet instead


@pytest.mark.slow
def test_deployment_table_compares_three_runtimes():
    at = open_page()
    at.selectbox(key="wild_deploy_model").set_value("simplecnn_shapes").run()
    at.button(key="wild_deploy_run").click().run()
    assert not at.exception
    table = at.dataframe[-1].value
    assert list(table.runtime) == ["PyTorch eager", "TorchScript", "ONNX Runtime"]
    assert (table["max |diff| vs eager"] < 1e-3).all()


@pytest.mark.slow
def test_the_bias_lab_shows_the_collapse_and_the_fix():
    at = open_page()
    at.button(key="wild_bias_run").click().run()
    assert at.session_state["wild_bias_job"].join(timeout=240)
    at.run()
    assert not at.exception
    table = next(df.value for df in at.dataframe if "broken test" in df.value.columns)
    plain, fixed = table.to_dict("records")
    assert plain["matched test"] - plain["broken test"] > 0.5
    assert fixed["broken test"] > plain["broken test"] + 0.3
    assert any("it learned the colour, not the shape" in w for w in texts(at.warning))
    assert sum("said" in c for c in captions(at)) == 12  # six Grad-CAM examples per model


@pytest.fixture
def vgg19_in_cache():
    """A VGG19 checkpoint (conv layers, re-initialised) in the test's torch hub cache, for as long as
    the test runs: the page then offers style transfer as it would with the real weights."""
    import torch
    from torchvision.models.vgg import cfgs, make_layers

    from core import weights

    path = weights.cached_path("vgg19")
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    torch.save({f"features.{k}": v for k, v in make_layers(cfgs["E"]).state_dict().items()}, path)
    yield  # core.cache keys the model on whether the weights are present, so nothing to clear
    path.unlink()


@pytest.mark.slow
def test_style_transfer_runs_when_vgg19_weights_are_present(vgg19_in_cache):
    at = open_page()
    assert not any("Style transfer is off" in i.value for i in at.info)
    at.slider(key="wild_size").set_value(64).run()
    at.slider(key="wild_steps").set_value(10).run()
    at.button(key="wild_paint").click().run()
    assert at.session_state["wild_style_job"].join(timeout=120)
    at.run()
    assert not at.exception
    assert "After 10 steps" in captions(at)


def test_a_bad_style_upload_is_refused_with_a_message(vgg19_in_cache):
    at = open_page()
    at.selectbox(key="wild_style").set_value("Upload").run()
    at.file_uploader(key="wild_style_upload").upload("style.png", b"not an image at all", "image/png")
    at.run()
    assert not at.exception
    assert any("Could not use **style.png**" in e for e in texts(at.error))
