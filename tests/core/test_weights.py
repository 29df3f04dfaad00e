"""ImageNet weights: the real download path against a local HTTP server on 127.0.0.1 that serves a
fabricated checkpoint (no network), a broken download of every kind, and the cache."""
from pathlib import Path

import pytest
import torch

from core import weights
from core.errors import CNNLabError
from tests.inputs import weights_server


@pytest.fixture
def server(monkeypatch):
    httpd, base = weights_server.start()
    monkeypatch.setenv(weights.MIRROR_ENV, base)
    monkeypatch.setattr(weights, "_downloads", {})
    yield weights_server.Handler
    httpd.shutdown()


@pytest.fixture(scope="module")
def checkpoint() -> tuple[str, bytes, dict]:
    return weights_server.resnet18_checkpoint()


@pytest.fixture
def online(monkeypatch, tmp_path, checkpoint):
    """Downloads allowed, an empty hub cache, and resnet18's file name pointing at the fabricated checkpoint."""
    monkeypatch.setenv("CNNLAB_OFFLINE", "0")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(weights, "file_name", lambda key: checkpoint[0])
    return tmp_path


def test_the_table_of_addresses_is_torchvisions():
    from torchvision.models import get_model_weights

    from core.models import REGISTRY

    keys = [k for k, spec in REGISTRY.items() if spec.kind == "torchvision"] + ["vgg19"]
    assert sorted(weights.CHECKPOINT_URLS) == sorted(keys)
    for key in keys:
        assert weights.url(key) == get_model_weights(key).DEFAULT.url, key


def test_the_official_names_carry_their_hash():
    assert weights.file_name("resnet18") == "resnet18-f37072fd.pth"
    assert weights.expected_hash_prefix("resnet18-f37072fd.pth") == "f37072fd"
    assert weights.url("resnet18").startswith("https://download.pytorch.org/")
    with pytest.raises(CNNLabError, match="no hash"):
        weights.expected_hash_prefix("weights.pth")


def test_download_lands_in_the_cache_with_progress(server, online, checkpoint):
    name, body, state = checkpoint
    server.files[name] = body
    seen = []
    dest = weights.cached_path("resnet18")
    weights.fetch(weights.url("resnet18"), dest, lambda done, total: seen.append((done, total)))
    assert dest.read_bytes() == body and dest.parent == Path(online) / "hub" / "checkpoints"
    assert seen[-1] == (len(body), len(body)) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert len(seen) > 3  # reported chunk by chunk, not once at the end
    assert not list(dest.parent.glob("*.part"))


def test_the_model_loads_downloaded_weights_shared_by_every_caller(server, online, checkpoint):
    from core.models import load_model

    server.files[checkpoint[0]] = checkpoint[1]
    first, second = weights.download("resnet18"), weights.download("resnet18")
    assert first is second  # one download per server, however many sessions ask
    assert first.finished.wait(30) and first.ok and first.fraction == 1.0
    loaded = load_model("resnet18")
    assert loaded.trained and loaded.notice is None and "local cache" in loaded.weights_source
    assert torch.equal(loaded.model.conv1.weight, checkpoint[2]["conv1.weight"])


@pytest.mark.parametrize("breakage,message", [
    ("missing", "HTTPError"),
    ("truncated", "stopped after"),
    ("tampered", "damaged or not the published file"),
])
def test_a_broken_download_leaves_nothing_behind_and_falls_back(server, online, checkpoint, breakage, message):
    from core.models import load_model

    name, body, _ = checkpoint
    if breakage == "truncated":
        server.files[name], server.lie_about_length = body, True
    elif breakage == "tampered":
        server.files[name] = body[:-10] + b"0123456789"
    job = weights.download("resnet18")
    assert job.finished.wait(30) and message in job.error and not job.ok
    folder = weights.cached_path("resnet18").parent
    assert not weights.available("resnet18")
    assert not folder.exists() or not list(folder.iterdir())  # no half file, no temporary file
    assert weights.download("resnet18") is None and not weights.obtainable("resnet18")  # no retry every rerun
    loaded = load_model("resnet18")
    assert not loaded.trained and "random weights" in loaded.notice


def test_offline_nothing_is_fetched(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(weights, "_downloads", {})
    assert weights.download("resnet18") is None and not weights.obtainable("resnet18")
    assert weights.state_dict("resnet18") == (None, "downloads are off here")
