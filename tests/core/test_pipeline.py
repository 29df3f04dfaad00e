"""The section-11 pipeline: every stage, stopping, offline wandb, CIFAR-10 and zips as data."""
import pickle

import numpy as np
import pytest
import torchvision

from core import pipeline, recipes
from core.errors import CNNLabError
from core.imagefolder import read_imagefolder_zip
from tests.inputs import zips

TINY = dict(limit=120, epochs=1, batch_size=32, cam_images=2)


def _run(settings, dataset=None, should_stop=lambda: False):
    seen = []
    run = pipeline.Pipeline(settings, dataset).run(lambda f, t: seen.append((f, t)), should_stop)
    return run, seen


@pytest.mark.slow
def test_every_stage_runs_and_says_where_its_logs_are():
    run, seen = _run(pipeline.PipelineSettings(**TINY))
    assert run.finished and [s.status for s in run.stages.values()] == ["done"] * 6
    assert all(s.seconds > 0 for s in run.stages.values())
    data, training = run.stages["Data"].output, run.stages["Training"].output
    assert (data["train"], data["val"], sum(data["counts"])) == (96, 24, 96)
    assert training["status"] == "finished" and len(training["history"]["val_acc"]) == 1
    items = run.stages["Grad-CAM"].output["items"]
    assert len(items) == 2 and items[0]["overlay"].shape == (32, 32, 3)
    logging = run.stages["Logging"].output
    assert list((run.dir / "tensorboard").glob("events.out.tfevents.*"))
    wandb_dir = run.dir / "wandb"
    assert logging["wandb"].startswith(str(wandb_dir / "offline-run-")) and logging["sync"] == f"wandb sync {logging['wandb']}"
    assert list(wandb_dir.glob("offline-run-*/run-*.wandb"))
    assert run.stages["Export"].output["onnx_max_diff"] < 1e-4 and run.stages["Export"].output["torchscript"]
    assert [f for f, _ in seen] == sorted(f for f, _ in seen) and any("s of training left" in t for _, t in seen)


def test_stop_ends_the_run_where_it_is_and_closes_wandb():
    calls = {"n": 0}

    def stop_in_training():
        calls["n"] += 1
        return calls["n"] > 6  # a few checks into the first epoch

    run, _ = _run(pipeline.PipelineSettings(**TINY), should_stop=stop_in_training)
    statuses = {n: s.status for n, s in run.stages.items()}
    assert statuses == {"Data": "done", "Model": "done", "Training": "stopped", "Grad-CAM": "waiting",
                        "Logging": "waiting", "Export": "waiting"}
    assert run.stages["Training"].output["wandb"]._is_finished


def test_switched_off_export_and_wandb_are_skipped():
    run, _ = _run(pipeline.PipelineSettings(**TINY, wandb=False, export=False))
    assert run.stages["Export"].status == "skipped" and run.finished
    assert "wandb" not in run.stages["Logging"].output and not (run.dir / "wandb").exists()


def test_a_zip_with_a_one_image_class_trains_with_a_note():
    data = zips.make_zip({**{f"red/{i}.png": zips.png((200 + i, 20, 20)) for i in range(8)},
                          **{f"blue/{i}.png": zips.png((20, 20, 200 + i)) for i in range(8)},
                          "green/0.png": zips.png((20, 200, 20))})
    ds, _ = read_imagefolder_zip(data, "mine.zip")
    run, _ = _run(pipeline.PipelineSettings(recipes.UPLOAD, 17, "simplecnn", 1, 8, cam_images=2, wandb=False,
                                            export=False, zip_name="mine.zip"), ds)
    assert run.finished
    assert any("too few images for a stratified split" in n for n in run.stages["Data"].output["notes"])


def test_cifar10_stored_locally_is_used(tmp_path, monkeypatch):
    """A fabricated CIFAR-10 folder in torchvision's on-disk layout (pickled batches). Its bytes
    differ from the real files, so torchvision's MD5 check is bypassed for this test."""
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"):
        batch = {"data": rng.integers(0, 255, (20, 3072), dtype=np.uint8), "labels": list(np.arange(20) % 10)}
        (folder / name).write_bytes(pickle.dumps(batch))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": ["airplane", "automobile", "bird", "cat",
                                                                       "deer", "dog", "frog", "horse", "ship",
                                                                       "truck"]}))
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *args, **kwargs: True)
    assert pipeline.cifar_stored()
    run, _ = _run(pipeline.PipelineSettings("CIFAR-10", 60, "simplecnn", 1, 16, cam_images=1, wandb=False,
                                            export=False))
    data = run.stages["Data"].output
    assert run.finished and data["name"] == "CIFAR-10" and data["train"] + data["val"] == 60
    assert data["classes"][0] == "airplane" and data["samples"][0].shape == (32, 32, 3)


def test_cifar10_absent_offline_fails_the_data_stage_with_a_message(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path))
    assert not pipeline.cifar_stored()
    run, _ = _run(pipeline.PipelineSettings("CIFAR-10", 60, **{k: v for k, v in TINY.items() if k != "limit"}))
    assert run.stages["Data"].status == "failed" and "downloads are off" in run.stages["Data"].message
    assert run.stages["Model"].status == "waiting"


@pytest.mark.parametrize("kwargs,message", [
    ({"arch": "vgg"}, "Unknown model"), ({"limit": 1}, "at least 2"), ({"val_fraction": 1.0}, "between 0 and 1"),
    ({"lr": 0.0}, "learning rate"),
])
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(CNNLabError, match=message):
        pipeline.Pipeline(pipeline.PipelineSettings(**kwargs))


def test_cam_layer_keeps_a_usable_map():
    assert pipeline.cam_layer("simplecnn", 3, 32) == ("conv2", (32, 16, 16))
    assert pipeline.cam_layer("resnet18", 3, 64) == ("layer3", (256, 4, 4))  # layer4 would be 2x2
