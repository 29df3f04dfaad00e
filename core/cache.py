"""Process-wide caches (Streamlit): models once per process, small data per input.

Models are shared by every session. Pure inference may run concurrently; anything that adds
hooks or needs gradients takes ``LoadedModel.lock`` (see core.features / core.models).

Each cached function imports the modules it needs when it first runs, so a page pays only for
what it uses (opening Home never imports captum, nibabel, onnx or tensorboard).

Memory is bounded for a server that runs all day: every cache keyed by user input has max_entries
(least recently used goes first), and what only one lab needs expires after a while (ttl; an expired
entry is dropped at the cache's next write, or recomputed when asked for again). Every model shares one
LRU of MODEL_SLOTS, so VGG19's style features give way once other models are in use. README ("Memory")
has the measured figures.
"""
from __future__ import annotations

import copy
import hashlib
import os

import numpy as np
import streamlit as st
import torch

from typing import TYPE_CHECKING

from core import models

if TYPE_CHECKING:
    from core import data, deploy, profile, quiz, scenes, similarity, tiling, transfer, volumes


def _available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


torch.set_num_threads(_available_cores())


MODEL_SLOTS = 4  # models held at once: ResNet-50 + VGG19's features + two small ones is about 250 MB
# TTLs in seconds: a string ("2h") makes Streamlit import pandas to parse it, half a second at start.
MODEL_TTL = 2 * 3600  # a model still in use is then reloaded (a second or two from the disk cache)
LAB_TTL = 3600  # data and derived models that one lab needs (galleries, tasks, compiled and exported models)
UPLOAD_TTL = 30 * 60  # what was decoded from one session's upload
STYLE_VGG19 = "vgg19 style features"  # not a registry model, but it takes a slot in the same LRU


def get_model(key: str) -> models.LoadedModel:
    """The process's shared instance of a registry model. A torchvision model loaded before its
    ImageNet weights arrived (random weights) is loaded again once they are in the cache."""
    from core import weights

    spec = models.REGISTRY.get(key)
    return _model(key, spec is not None and spec.kind == "torchvision" and weights.available(key))


@st.cache_resource(max_entries=MODEL_SLOTS, ttl=MODEL_TTL, show_spinner="Loading model...")
def _model(key: str, weights_cached: bool):
    if key == STYLE_VGG19:
        from core import style

        return style.vgg19_features()
    return models.load_model(key)


@st.cache_data(max_entries=16, show_spinner=False)
def sample_photo(name: str) -> np.ndarray:
    from core import images

    return images.sample_photo(name)


@st.cache_resource(max_entries=16, show_spinner=False)
def synthetic_scene(seed: int) -> scenes.Scene:
    """The image picker's shapes scene for a seed (read-only: callers must not modify it)."""
    from core import scenes

    return scenes.lesson_scene(seed=seed)


@st.cache_resource(max_entries=2, show_spinner=False)
def pointing_scenes(n: int) -> list[scenes.Scene]:
    """The pointing game's held-out scenes (read-only)."""
    from core import scorecard

    return scorecard.pointing_scenes(n)


@st.cache_resource(show_spinner=False)
def quiz_bank(section: str) -> quiz.Bank:
    from core import quiz

    return quiz.load_bank(section)


@st.cache_resource(max_entries=8, ttl=LAB_TTL, show_spinner="Running the CNN...")
def cnn_vision(model_key: str, pixels: np.ndarray) -> tuple[dict[str, torch.Tensor], list[tuple[str, float]]]:
    """Every conv layer's feature maps and the top-5 predictions for one photo. Read-only and shared:
    ResNet-18's maps are about 10 MB, and Home's layer explorer (a fragment) keeps what it was given for
    as long as the session lasts, so a copy per session (st.cache_data's way) would add up."""
    from core import features

    loaded = get_model(model_key)
    x = models.preprocess(pixels, loaded.spec)
    maps, logits = features.feature_maps(loaded, x, features.conv_layers(loaded.model))
    return maps, models.top_k(loaded, logits)


@st.cache_data(max_entries=8, show_spinner=False)
def preactivation_map(pixels: np.ndarray, block: str) -> np.ndarray:
    """ShapesNet's pre-ReLU output of one block for a photo, (C, h, w). Plain inference: no lock needed."""
    from core import activations

    loaded = get_model("shapesnet")
    x = models.preprocess(pixels, loaded.spec)
    return activations.preactivations(loaded.model.features, x, block)[0].numpy()


@st.cache_data(max_entries=4, show_spinner="Running 64 shapes through the model...")
def shapes_preactivations(block: str, n: int = 64) -> np.ndarray:
    """Pre-ReLU outputs (N, C, H, W) of one ShapesNet block over a fixed batch of synthetic shapes."""
    from core import activations, data

    loaded = get_model("shapesnet")
    batch = data.make_shapes(n, seed=2024)
    x = torch.cat([models.preprocess(img, loaded.spec) for img in batch.images])
    return activations.preactivations(loaded.model.features, x, block).numpy()


@st.cache_data(max_entries=128, show_spinner=False)
def arch_profile(key: str, size: int) -> profile.Profile:
    """Meta-device profile of an architecture (no weights allocated; shared by every session)."""
    from core import profile

    return profile.profile(key, size)


@st.cache_data(show_spinner="Loading the block diagram...")
def block_diagram(family: str) -> str:
    from core import blocks

    return blocks.block_dot(family)


@st.cache_data(max_entries=8, show_spinner=False)
def layer_shapes(model_key: str, _loaded: models.LoadedModel | None = None) -> dict[str, tuple[int, ...]]:
    """Every layer's output shape for the model's input size (from one forward pass). ``_loaded``
    passes a model that is not in the registry (a session-trained one; its key is unique)."""
    from core import explain

    loaded = _loaded or get_model(model_key)
    s = loaded.spec.input_size
    return explain.layer_shapes(loaded, torch.zeros(1, 3, s, s))


@st.cache_resource(max_entries=4, ttl=LAB_TTL, show_spinner="Loading the volume...")
def sample_volume(name: str) -> volumes.Volume:
    """A bundled volume, decoded once per process (read-only: callers must not modify it)."""
    from core import volumes

    return volumes.load_path(volumes.sample_volumes()[name])


@st.cache_data(max_entries=8, show_spinner=False)
def predict_volume(grid: np.ndarray) -> list[tuple[int, float]]:
    """(class index, probability) of the lesion model for a volume already on the model grid."""
    return models.predict_indices(get_model("lesion3d"), torch.from_numpy(grid)[None, None], 2)


@st.cache_data(max_entries=8, show_spinner="Computing the 3D Grad-CAM...")
def cam_volume(grid: np.ndarray) -> np.ndarray:
    """3D Grad-CAM of the lesion class for a volume on the model grid (64^3)."""
    from core import explain

    loaded = get_model("lesion3d")
    return explain.cam(loaded, torch.from_numpy(grid)[None, None], "Grad-CAM", loaded.spec.target_layer, 1)


# ---------------------------------------------------------------- Training Monitor data (read-only, shared)
@st.cache_resource(max_entries=4, ttl=LAB_TTL, show_spinner="Preparing the dataset...")
def training_dataset(name: str, limit: int) -> data.ImageDataset:
    """A built-in dataset by name, at most ``limit`` images (synthetic shapes are drawn to that count)."""
    from core import data

    return data.named_dataset(name, limit)


@st.cache_resource(max_entries=4, ttl=UPLOAD_TTL, show_spinner="Reading the zip...")
def _uploaded_dataset(digest: str, _data: bytes, name: str) -> tuple[data.ImageDataset, list[str]]:
    from core import imagefolder

    return imagefolder.read_imagefolder_zip(_data, name)


def uploaded_dataset(payload: bytes, name: str) -> tuple[str, data.ImageDataset, list[str]]:
    """An ImageFolder zip decoded once per content (keyed by its SHA-256): (key, dataset, notes)."""
    digest = hashlib.sha256(payload).hexdigest()
    return f"zip:{digest}", *_uploaded_dataset(digest, payload, name)


@st.cache_resource(max_entries=4, ttl=LAB_TTL, show_spinner="Splitting and resizing...")
def training_split(source: str, limit: int, size: int, val_fraction: float, seed: int, _ds: data.ImageDataset):
    """Train/validation tensors shared by every run on the same data (``source`` names _ds)."""
    from core import training

    return training.split_dataset(_ds, size=size, val_fraction=val_fraction, limit=limit, seed=seed)


# ---------------------------------------------------------------- Transfer Learning (read-only, shared)
TRANSFER_INPUT = {"resnet18": 112, "mobilenet_v3_small": 112}  # below ImageNet's 224: 2 CPU cores, many sessions


@st.cache_resource(max_entries=4, ttl=MODEL_TTL, show_spinner="Preparing the backbone...")
def transfer_backbone(key: str) -> transfer.Backbone:
    """A registry model cut into stages. Shared: TransferNet copies the body before training it."""
    from core import transfer

    backbone = transfer.backbone_from_loaded(get_model(key))
    backbone.input_size = TRANSFER_INPUT.get(key, backbone.input_size)
    return backbone


@st.cache_resource(max_entries=4, ttl=LAB_TTL, show_spinner="Drawing the target task...")
def transfer_data(target: str) -> tuple[data.ImageDataset, data.ImageDataset]:
    """A built-in target task as (pool to draw training shots from, fixed test set)."""
    from core import transfer

    return transfer.target_data(target)


@st.cache_resource(max_entries=3, ttl=LAB_TTL, show_spinner="Resizing the task for the backbone...")
def transfer_task(backbone_key: str, target_key: str, _backbone: transfer.Backbone, _pool: data.ImageDataset,
                  _test: data.ImageDataset, name: str) -> transfer.Task:
    from core import transfer

    return transfer.make_task(_pool, _test, _backbone, name)


@st.cache_data(max_entries=4, ttl=UPLOAD_TTL, show_spinner="Reading the signals...")
def signals_csv(payload: bytes, name: str):
    """An uploaded signals CSV, parsed once per content (see core.csvdata.read_signals_csv)."""
    from core import csvdata

    return csvdata.read_signals_csv(payload, name)


# ---------------------------------------------------------------- CNNs in the wild (read-only, shared)
@st.cache_resource(max_entries=1, ttl=LAB_TTL, show_spinner="Building the gallery (252 images)...")
def similarity_gallery() -> similarity.Gallery:
    from core import similarity

    return similarity.build_gallery()


@st.cache_resource(max_entries=2, ttl=LAB_TTL, show_spinner="Embedding the gallery...")
def similarity_index(model_key: str) -> similarity.Index:
    from core import similarity

    return similarity.build_index(get_model(model_key), similarity_gallery())


@st.cache_resource(max_entries=3, show_spinner="Drawing the scene...")
def tiling_scene(height: int, width: int, seed: int) -> scenes.Scene:
    from core import tiling

    return tiling.make_scene(height, width, seed=seed)


@st.cache_resource(max_entries=3, show_spinner="Classifying the tiles...")
def tile_map(height: int, width: int, seed: int, tile: int, overlap: float, localise: bool,
             stitch: str) -> tiling.TileMap:
    from core import tiling

    return tiling.classify_tiles(get_model("shapesnet"), tiling_scene(height, width, seed).image, tile, overlap,
                                 localise=localise, stitch=stitch)


def style_features():
    """VGG19's frozen conv layers with ImageNet weights, or (None, why not). Shared: only the image trains.
    Held in the models' LRU, so it is dropped once the style lab has not been used for a while."""
    from core import weights

    return _model(STYLE_VGG19, weights.available("vgg19"))


@st.cache_resource(max_entries=2, ttl=LAB_TTL, show_spinner="Exporting to TorchScript and ONNX...")
def deployed(model_key: str) -> list[deploy.Served]:
    from core import deploy

    loaded = get_model(model_key)
    return deploy.serve_all(loaded.model, loaded.spec.input_size)


# ---------------------------------------------------------------- Research frontiers (read-only, shared)
@st.cache_resource(max_entries=1, ttl=LAB_TTL, show_spinner="Drawing 600 held-out shapes...")
def compression_data() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """ShapesNet-ready held-out shapes (x, y) and 200 other images to calibrate int8 ranges on."""
    from core import data, training

    spec = models.REGISTRY["shapesnet"]
    test, calib = data.make_shapes(600, seed=4242), data.make_shapes(200, seed=4343)
    return (training.dataset_tensor(test, spec.input_size, spec.mean, spec.std), torch.from_numpy(test.labels),
            training.dataset_tensor(calib, spec.input_size, spec.mean, spec.std))


def _shapesnet_copy() -> torch.nn.Module:
    """A private copy of the shared ShapesNet, taken under its lock so that no other session's hooks
    (Grad-CAM, feature maps) are copied along."""
    loaded = get_model("shapesnet")
    with loaded.lock:
        return copy.deepcopy(loaded.model)


@st.cache_data(max_entries=64, show_spinner=False)
def pruned_accuracy(sparsity: float) -> tuple[float, int, float]:
    """(accuracy, nonzero parameters, measured sparsity) of ShapesNet pruned to ``sparsity``."""
    from core import compress

    x, y, _ = compression_data()
    model = compress.pruned(_shapesnet_copy(), sparsity)
    return compress.accuracy(model, x, y), compress.nonzero_params(model), compress.sparsity(model)


@st.cache_resource(max_entries=1, ttl=LAB_TTL, show_spinner="Quantizing ShapesNet to int8 (torchao)...")
def quantized_shapesnet():
    """ShapesNet statically quantized to int8 with torchao's x86 quantizer, calibrated on 200 shapes."""
    from core import compress

    _, _, calib = compression_data()
    return compress.quantize_int8(_shapesnet_copy(), calib)


@st.cache_data(show_spinner="Scoring both models on 600 shapes...")
def quantization_report() -> dict[str, float]:
    """Accuracy and weight bytes of float32 and int8 ShapesNet on the held-out shapes."""
    from core import compress

    x, y, _ = compression_data()
    fp32, int8 = get_model("shapesnet").model, quantized_shapesnet()
    return {"acc32": compress.accuracy(fp32, x, y), "acc8": compress.accuracy(int8, x, y),
            "bytes32": compress.weight_bytes(fp32), "bytes8": compress.weight_bytes(int8)}


@st.cache_resource(max_entries=2, ttl=LAB_TTL, show_spinner=False)
def compiled_pair(batch: int):
    """(fp32 compiled, int8 compiled, note) of ShapesNet for a batch size: compiled once per process."""
    from core import compress

    x, _, _ = compression_data()
    example = x[:batch]
    fp32, why32 = compress.compiled(_shapesnet_copy(), example)
    int8, why8 = compress.compiled(quantized_shapesnet(), example)
    return fp32, int8, why32 or why8


# ---------------------------------------------------------------- Ecosystem & tools
@st.cache_data(max_entries=4, show_spinner="Tracing every operation with TorchLens...")
def layer_trace(model_key: str, pixels: np.ndarray):
    """TorchLens's record of one forward pass of a registry model on a photo (core.tracing.Trace)."""
    from core import tracing

    loaded = get_model(model_key)
    return tracing.trace(loaded, models.preprocess(pixels, loaded.spec))


@st.cache_data(max_entries=16, show_spinner=False)
def transform_views(pixels: np.ndarray, settings) -> tuple[list, list[np.ndarray]]:
    """The transforms lab's step-by-step outputs and 8 seeded samples (core.transforms) for one photo."""
    from core import transforms

    photo = transforms.working_photo(pixels)
    return transforms.steps_on(photo, settings), transforms.samples(photo, settings, 8)
