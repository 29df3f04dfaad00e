"""Ecosystem & tools through AppTest: the pipeline run, bad input, the labs, and the code behind
the views on the other pages."""
from functools import partial

import pytest

from tests.inputs import zips
from tests.pages import apptest
from tests.pages.apptest import captions, texts

PAGE = "pages/ecosystem.py"
open_page = partial(apptest.open_page, PAGE)


def _small(at, n=120):
    at.number_input(key="eco_n_Synthetic shapes").set_value(n)
    at.slider(key="eco_epochs").set_value(1)
    at.slider(key="eco_cam_n").set_value(2)
    at.checkbox(key="eco_export").uncheck()
    return at.run()


@pytest.mark.slow
def test_pipeline_runs_stage_by_stage_from_the_button():
    at = _small(open_page())
    at.button(key="eco_run").click().run()
    assert at.session_state["eco_job"].join(timeout=300)
    at.run()
    assert not at.exception and not at.error
    run = at.session_state["eco_pipeline"]
    assert [s.status for s in run.stages.values()] == ["done"] * 5 + ["skipped"]
    page = texts(at.markdown)
    assert any(m.startswith(":material/check_circle: Data") and ":material/do_not_disturb_on: Export" in m
               for m in page)  # the timeline
    assert any("wandb sync " in m for m in page) and any("tensorboard --logdir" in m for m in page)
    assert any(c.startswith("Grad-CAM of the predicted class at `conv2`") for c in texts(at.caption))
    assert sum(", peak " in c for c in captions(at)) == 2


def test_bad_zip_and_a_zip_with_a_one_image_class():
    at = open_page()
    at.selectbox(key="eco_ds").set_value("Upload an ImageFolder zip").run()
    at.file_uploader(key="eco_zip").upload("bad.zip", zips.NOT_A_ZIP, "application/zip").run()
    assert not at.exception and any("not a readable zip file" in e for e in texts(at.error))
    assert not any(b.key == "eco_run" for b in at.button)  # nothing to run without data
    one = zips.make_zip({**{f"red/{i}.png": zips.png((200, 20, i)) for i in range(5)}, "blue/0.png": zips.png((0, 0, 255))})
    at.file_uploader(key="eco_zip").upload("tiny.zip", one, "application/zip").run()
    assert not at.exception and not at.error
    assert at.number_input(key="eco_n_Upload an ImageFolder zip").value == 6  # capped at the zip's images
    assert at.button(key="eco_run")


def test_cifar10_absent_offline_says_so():
    at = open_page()
    at.selectbox(key="eco_ds").set_value("CIFAR-10").run()
    assert not at.exception
    assert any("CIFAR-10 is not stored under" in w and "downloads are off" in w for w in texts(at.warning))


@pytest.mark.parametrize("key,value,message", [
    ("eco_crop", 500, "RandomCrop(500) needs an image at least 500x500"),
    ("eco_resize", 0, None),  # Resize off is a valid pipeline
])
def test_transform_settings_that_cannot_run_say_why(key, value, message):
    at = open_page()
    at.number_input(key=key).set_value(value).run()
    assert not at.exception
    if message:
        assert any(message in e for e in texts(at.error))
    else:
        compose = next(c.value for c in at.code if c.value.startswith("v2.Compose(["))
        assert not at.error and "v2.Resize(" not in compose


def test_tracing_a_resnet_finds_the_residual_additions():
    at = open_page()
    at.selectbox(key="eco_trace_model").set_value("resnet18").run()
    assert not at.exception and not at.error
    assert any("other **9** are functional calls" in m and "__iadd__, flatten" in m for m in texts(at.markdown))
    assert at.get("graphviz_chart")


def test_degenerate_upload_photos_keep_the_labs_working():
    for size in ((1, 1), (4000, 3)):
        at = apptest.upload_photo(open_page(), "eco", "strip.png", zips.png((90, 160, 40), size))
        assert not at.exception
        assert at.get("graphviz_chart")  # tracing still runs on the resized input
        if size == (4000, 3):
            assert any("Resize(160)" in e and "too large" in e for e in texts(at.error))


@pytest.mark.parametrize("page,key,label", [
    ("pages/convolution.py", "conv_code", "The photo as the app saw it (PNG)"),
    ("pages/interpretability.py", "xai_code", "Weights (shapesnet.safetensors)"),
    ("pages/transfer.py", "tl_code", None),
])
def test_the_code_behind_the_view_is_offered_when_opened(page, key, label):
    at = apptest.open_page(page)
    assert not at.exception
    expander = next(e for e in at.expander if e.label.startswith("The code behind this view"))
    assert not expander.code and not expander.get("download_button")  # closed: nothing built or sent
    at.session_state[f"{key}_open"] = True
    at.run()
    expander = next(e for e in at.expander if e.label.startswith("The code behind this view"))
    code = expander.code[0].value
    assert "from core" not in code and code.startswith('"""')
    labels = [b.label for b in at.get("download_button")]
    assert {"Script (.py)", "Notebook (.ipynb)"} <= set(labels)
    assert label is None or label in labels


@pytest.mark.slow
def test_the_training_monitor_offers_the_code_of_the_finished_run():
    at, run = apptest.train_tiny_run()
    at.session_state[f"tr_code_{run.id}_open"] = True
    at.run()
    expander = next(e for e in at.expander if e.label.startswith("The code behind this view"))
    code = expander.code[0].value
    assert "named_dataset('Synthetic shapes', 300)" in code and f"seed={run.trainer.cfg.seed}" in code
    assert repr(run.trainer.cfg) in code
