"""Process-wide caches (Streamlit): models once per process, small data per input.

Models are shared by every session. Pure inference may run concurrently; anything that adds
hooks or needs gradients takes ``LoadedModel.lock`` (see core.features / core.models).
"""
from __future__ import annotations

import os

import numpy as np
import streamlit as st
import torch

from core import activations, blocks, data, explain, features, images, models, profile, quiz, volumes


def _available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


torch.set_num_threads(_available_cores())


@st.cache_resource(max_entries=4, show_spinner="Loading model...")
def get_model(key: str) -> models.LoadedModel:
    return models.load_model(key)


@st.cache_data(max_entries=16, show_spinner=False)
def sample_photo(name: str) -> np.ndarray:
    return images.sample_photo(name)


@st.cache_data(max_entries=8, show_spinner=False)
def synthetic_photo(seed: int) -> np.ndarray:
    return data.shapes_scene(seed=seed)


@st.cache_resource(show_spinner=False)
def quiz_bank(section: str) -> quiz.Bank:
    return quiz.load_bank(section)


@st.cache_data(max_entries=8, show_spinner="Running the CNN...")
def cnn_vision(model_key: str, pixels: np.ndarray) -> tuple[dict[str, torch.Tensor], list[tuple[str, float]]]:
    """Every conv layer's feature maps and the top-5 predictions for one photo."""
    loaded = get_model(model_key)
    x = models.preprocess(pixels, loaded.spec)
    maps, logits = features.feature_maps(loaded, x, features.conv_layers(loaded.model))
    return maps, models.top_k(loaded, logits)


@st.cache_data(max_entries=8, show_spinner=False)
def preactivation_map(pixels: np.ndarray, block: str) -> np.ndarray:
    """ShapesNet's pre-ReLU output of one block for a photo, (C, h, w). Plain inference: no lock needed."""
    loaded = get_model("shapesnet")
    x = models.preprocess(pixels, loaded.spec)
    return activations.preactivations(loaded.model.features, x, block)[0].numpy()


@st.cache_data(max_entries=4, show_spinner="Running 64 shapes through the model...")
def shapes_preactivations(block: str, n: int = 64) -> np.ndarray:
    """Pre-ReLU outputs (N, C, H, W) of one ShapesNet block over a fixed batch of synthetic shapes."""
    loaded = get_model("shapesnet")
    batch = data.make_shapes(n, seed=2024)
    x = torch.cat([models.preprocess(img, loaded.spec) for img in batch.images])
    return activations.preactivations(loaded.model.features, x, block).numpy()


@st.cache_data(max_entries=128, show_spinner=False)
def arch_profile(key: str, size: int) -> profile.Profile:
    """Meta-device profile of an architecture (no weights allocated; shared by every session)."""
    return profile.profile(key, size)


@st.cache_data(show_spinner="Loading the block diagram...")
def block_diagram(family: str) -> str:
    return blocks.block_dot(family)


@st.cache_data(max_entries=8, show_spinner=False)
def layer_shapes(model_key: str) -> dict[str, tuple[int, ...]]:
    """Every layer's output shape for the model's input size (from one forward pass)."""
    loaded = get_model(model_key)
    s = loaded.spec.input_size
    return explain.layer_shapes(loaded, torch.zeros(1, 3, s, s))


@st.cache_resource(max_entries=4, show_spinner="Loading the volume...")
def sample_volume(name: str) -> volumes.Volume:
    """A bundled volume, decoded once per process (read-only: callers must not modify it)."""
    return volumes.load_path(volumes.sample_volumes()[name])


@st.cache_data(max_entries=8, show_spinner=False)
def predict_volume(grid: np.ndarray) -> list[tuple[int, float]]:
    """(class index, probability) of the lesion model for a volume already on the model grid."""
    return models.predict_indices(get_model("lesion3d"), torch.from_numpy(grid)[None, None], 2)


@st.cache_data(max_entries=8, show_spinner="Computing the 3D Grad-CAM...")
def cam_volume(grid: np.ndarray) -> np.ndarray:
    """3D Grad-CAM of the lesion class for a volume on the model grid (64^3)."""
    loaded = get_model("lesion3d")
    return explain.cam(loaded, torch.from_numpy(grid)[None, None], "Grad-CAM", loaded.spec.target_layer, 1)
