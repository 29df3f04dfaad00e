"""Training Monitor through AppTest: a tiny run end to end, comparison, checkpoints, bad input."""
import re
from functools import partial

import pytest

from core import checkpoints, estimates
from tests.inputs import zips
from tests.pages import apptest
from tests.pages.apptest import texts

PAGE = "pages/training.py"
open_page = partial(apptest.open_page, PAGE)
TINY = {"n": "300", "epochs": "2"}


def start_and_finish(at):
    at.button(key="tr_start").click().run()
    run = at.session_state["tr_runs"][-1]
    assert run.join(timeout=120)
    return at.run(), run


def test_default_setup_renders_and_mirrors_the_url():
    at = open_page()
    assert not at.exception and not at.error and not at.warning
    assert any("4800 training and 1200 validation images of 5 classes" in c for c in texts(at.caption))
    assert at.query_params["arch"] == "simplecnn" and at.query_params["opt"] == "adam"
    assert at.query_params["lr"] == "0.005" and at.query_params["sched"] == "onecycle"
    assert "Section 5 · Training CNNs" in texts(at.subheader)


def test_opening_the_page_describes_the_split_without_making_it(monkeypatch):
    """The resized split (74 MB at the defaults) is made by Start, not by opening the page; the counts
    shown before match the split the run then trains on."""
    from core import cache

    made = []
    real = cache.training_split
    monkeypatch.setattr(cache, "training_split", lambda *a, **k: made.append(a) or real(*a, **k))
    at = open_page(**TINY)
    assert not at.exception and not made
    assert any("240 training and 60 validation images" in c for c in texts(at.caption))
    at, run = start_and_finish(at)
    assert len(made) == 1 and (len(run.trainer.train), len(run.trainer.val)) == (240, 60)


def test_a_tiny_run_shows_curves_timeline_diagnosis_and_artefacts():
    at, run = start_and_finish(open_page(**TINY))
    assert not at.exception and not at.error
    assert "Finished all 2 epochs." in texts(at.success)
    assert run.trainer.snapshots[-1].epoch == 2 and len(run.trainer.batch_losses) == 2 * 8  # 240 images, batch 32
    assert len(at.get("plotly_chart")) >= 3  # curves, confusion matrix, per-class accuracy
    assert at.slider(key=f"tr_timeline_{run.id}").value == 2
    assert any(m.startswith("**Too early.**") for m in texts(at.markdown))
    assert any("TensorBoard logs of this run" in m for m in texts(at.markdown))
    assert at.get("download_button")


def test_two_runs_are_overlaid():
    at, _ = start_and_finish(open_page(**TINY))
    at.selectbox(key="tr_opt").set_value("sgd")
    at, _ = start_and_finish(at.run())
    assert not at.exception
    chosen = at.multiselect(key="tr_compare").value
    assert len(chosen) == 2 and "sgd" in chosen[-1] and "adam" in chosen[0]
    assert at.dataframe


def test_a_diverging_learning_rate_stops_with_a_message():
    at, run = start_and_finish(open_page(n="300", epochs="3", lr="10", opt="sgd", sched="none"))
    assert not at.exception and run.trainer.status == "diverged"
    assert any("the training diverged" in e and "learning rate" in e for e in texts(at.error))
    assert any(m.startswith("**Diverged.**") for m in texts(at.markdown))


def test_stop_and_resume_buttons():
    at = open_page(n="2000", epochs="50")
    at.button(key="tr_start").click().run()
    run = at.session_state["tr_runs"][-1]
    at.button(key="tr_stop").click().run()
    assert not run.alive and run.trainer.status == "stopped"
    assert any("Resume continues from there" in w for w in texts(at.warning))
    at.button(key="tr_resume").click().run()
    assert run.alive
    run.stop()
    assert run.join(timeout=10)


def test_checkpoint_round_trip_through_the_uploader():
    at, run = start_and_finish(open_page(**TINY))
    data = checkpoints.checkpoint_bytes(run.trainer, run.dataset)
    at.file_uploader(key="tr_load").upload("mine.pt", data, "application/octet-stream")
    at.run()
    assert not at.exception and not at.error
    assert any("weights_only=True: no code was run" in s for s in texts(at.success))
    metric = next(m for m in at.metric if m.label.startswith("Accuracy on the current validation split"))
    assert metric.value == f"{run.trainer.snapshots[-1].val_acc:.1%}"


def test_bad_checkpoint_shows_an_error():
    at = open_page(**TINY)
    at.file_uploader(key="tr_load").upload("evil.pt", b"\x80\x04not a checkpoint", "application/octet-stream")
    at.run()
    assert not at.exception
    assert any("Could not use **evil.pt**" in e and "Accepted: a .pt checkpoint" in e for e in texts(at.error))


def _upload_zip(data: bytes, name="classes.zip"):
    at = open_page(ds="Upload an ImageFolder zip")
    at.file_uploader(key="tr_zip").upload(name, data, "application/zip")
    return at.run()


def test_uploaded_imagefolder_zip_trains():
    at = _upload_zip(zips.two_class_zip(per_class=10))
    assert not at.exception and not at.error
    assert any("Uploaded classes.zip: 16 training and 4 validation images of 2 classes (blue, red)" in c
               for c in texts(at.caption))
    at, run = start_and_finish(at)
    assert not at.exception and run.trainer.status == "finished"


@pytest.mark.parametrize("data,message", [
    (zips.SLIP, "points outside its folder"),
    (zips.ONE_CLASS, "Only one class folder"),
    (zips.NON_IMAGES, "No usable images were found"),
    (zips.NOT_A_ZIP, "is not a readable zip file"),
])
def test_bad_zips_show_an_error(data, message):
    at = _upload_zip(data)
    assert not at.exception
    assert any(message in e for e in texts(at.error))


def test_empty_class_folder_is_reported():
    at = _upload_zip(zips.EMPTY_CLASS)
    assert not at.exception and not at.error
    assert any("Left out 1 class folder(s) with no usable images: green." in c for c in texts(at.caption))


def test_missing_torchvision_dataset_says_so():
    at = open_page(ds="CIFAR-10")
    assert not at.exception and not at.error
    assert any("CIFAR-10 is not stored under" in w and "downloads are off" in w for w in texts(at.warning))


def test_batch_bigger_than_the_data_warns():
    at = open_page(n="100", bs="512")
    assert any("The batch size (512) is larger than the 80 training images" in w for w in texts(at.warning))


@pytest.mark.parametrize("query,message", [
    ({"lr": "abc"}, "`lr=abc` is not recognised"),
    ({"opt": "lion"}, "`opt=lion` is not recognised"),
    ({"ds": "ImageNet"}, "`ds=ImageNet` is not recognised"),
    ({"epochs": "999"}, "`epochs` must be a whole number from 1 to 50"),
    ({"n": "0"}, "`n` must be a whole number from 50 to 8000"),
    ({"arch": "alexnet"}, "`arch=alexnet` is not recognised"),
])
def test_bad_links_warn_and_fall_back(query, message):
    apptest.link_warns_and_falls_back(PAGE, query, message)


@pytest.mark.slow
def test_ten_sessions_starting_the_same_run_share_one_job_and_one_setting_makes_another(monkeypatch):
    monkeypatch.setattr(estimates, "_rates", {})  # a server where nothing has run yet
    room = {**TINY, "seed": "11"}  # a seed no other test uses, so nothing is cached yet
    sessions = [open_page(**room) for _ in range(10)]
    assert sessions[0].button(key="tr_start").label == "Start training"  # no run measured here: no number
    views = []
    for at in sessions:
        at.button(key="tr_start").click().run()
        views.append(at.session_state["tr_runs"][-1])
    assert len({id(v.viewer.execution) for v in views}) == 1
    assert views[0].join(timeout=120) and views[0].trainer.status == "finished"
    curves = {(tuple(v.trainer.batch_losses), tuple(s.val_acc for s in v.trainer.snapshots)) for v in views}
    assert len(curves) == 1
    for at in sessions[:2]:  # each page shows the shared run as its own, finished
        assert "Finished all 2 epochs." in texts(at.run().success)
    # Now this server has measured one: a newcomer's button says how long it takes here.
    assert re.fullmatch(r"Start training \(about \d+(\.\d)? (s|min) here, from the last run\)",
                        open_page(**(room | {"epochs": "4"})).button(key="tr_start").label)
    other = sessions[1]
    other.select_slider(key="tr_bs").set_value(64).run()
    other.button(key="tr_start").click().run()
    changed = other.session_state["tr_runs"][-1]
    assert changed.viewer.execution is not views[0].viewer.execution
    assert changed.join(timeout=120) and len(changed.trainer.batch_losses) == 2 * 4  # 240 images, batch 64
