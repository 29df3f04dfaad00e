"""Transfer Learning through AppTest: a tiny comparison end to end, probes, session backbones, bad input."""
from functools import partial

import pytest

from tests.inputs import zips
from tests.pages import apptest
from tests.pages.apptest import texts

PAGE = "pages/transfer.py"
open_page = partial(apptest.open_page, PAGE)


def finish(at, key):
    job = at.session_state[key]
    assert job.join(timeout=180) and not job.error
    return at.run()


def test_default_view_shows_backbone_task_and_trainable_counts():
    at = open_page()
    assert not at.exception and not at.error and not at.warning
    captions = texts(at.caption)
    assert any("Stages: block1, block2, block3, block4; 60,688 backbone params" in c for c in captions)
    assert any("Trainable: feature extractor 195, fine-tune 37,187, from scratch 60,883." in c for c in captions)
    assert at.query_params["backbone"] == "shapesnet" and at.query_params["shots"] == "10"


def test_a_tiny_comparison_runs_end_to_end():
    at = open_page(steps="20", shots="5")
    at.button(key="tl_run").click().run()
    at = finish(at, "tl_job")
    assert not at.exception and not at.error
    table = at.dataframe[-1].value
    assert list(table["strategy"]) == ["feature extractor", "fine-tune", "from scratch"]
    assert list(table["trainable params"]) == [195, 37_187, 60_883]
    assert at.get("download_button")  # the fine-tuned model's export
    at.checkbox(key="tl_pca").check().run()
    assert not at.exception and len(at.get("plotly_chart")) >= 3


def test_probe_ranks_the_offline_backbones():
    at = open_page()
    at.button(key="tl_probe").click().run()
    at = finish(at, "tl_probe_job")
    assert not at.exception
    ranking = at.dataframe[-1].value
    assert ranking["backbone"].iloc[0].startswith("ShapesNet") and len(ranking) == 2
    assert any(m.startswith("On New shapes (hexagon, heart, arrow): Use **ShapesNet") for m in texts(at.markdown))


def test_a_model_trained_on_the_training_page_becomes_a_backbone():
    at, run = apptest.train_tiny_run()
    at.switch_page(PAGE).run()
    options = at.selectbox(key="tl_backbone").options
    assert "Training page run #1 (simplecnn, Synthetic shapes)" in options
    at.selectbox(key="tl_backbone").set_value(f"run-{run.id}").run()
    assert not at.exception and not at.error
    assert any("trained on the Training Monitor in this session" in c for c in texts(at.caption))


def _upload(data: bytes):
    at = open_page(target="Upload an ImageFolder zip")
    at.file_uploader(key="tl_zip").upload("mine.zip", data, "application/zip")
    return at.run()


def test_uploaded_zip_with_mixed_sizes_and_modes_is_a_task():
    at = _upload(zips.two_class_zip(per_class=12))
    assert not at.exception and not at.error
    assert any("2 classes (blue, red); a pool of 18 images" in c for c in texts(at.caption))


@pytest.mark.parametrize("data,message", [
    (zips.ONE_CLASS, "Only one class folder"),
    (zips.NON_IMAGES, "No usable images were found"),
    (zips.SLIP, "points outside its folder"),
])
def test_bad_zips_show_an_error(data, message):
    at = _upload(data)
    assert not at.exception and any(message in e for e in texts(at.error))


def test_empty_class_folder_is_reported():
    at = _upload(zips.EMPTY_CLASS)
    assert not at.exception and not at.error
    assert any("Left out 1 class folder(s) with no usable images: green." in c for c in texts(at.caption))


@pytest.mark.parametrize("query,message", [
    ({"backbone": "vgg16"}, "`backbone=vgg16` is not recognised"),
    ({"shots": "7"}, "`shots=7` is not recognised"),
    ({"steps": "5000"}, "`steps` must be a whole number from 20 to 200"),
    ({"target": "cats"}, "`target=cats` is not recognised"),
])
def test_bad_links_warn_and_fall_back(query, message):
    apptest.link_warns_and_falls_back(PAGE, query, message)
