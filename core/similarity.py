"""Visual similarity search, the way retail "more like this" works: embed every gallery image with
a CNN, then rank the gallery by cosine similarity to a query's embedding.

The gallery is built offline from scikit-image's sample photos and synthetic shapes scenes, each
with variants (flips, crops, colour shifts), so every query has known near-duplicates and a test
can check that they rank first.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
from sklearn.decomposition import PCA

from core.scenes import lesson_scene
from core.features import feature_maps
from core.images import SAMPLE_PHOTOS, resize_to, sample_photo
from core.models import LoadedModel, preprocess

THUMB = 128  # gallery images are kept at this size (the embedding model resizes them again)
# Variants of each source image: the "duplicates" a shop finds when a product is re-uploaded.
VARIANTS = ("original", "mirrored", "crop centre 80%", "crop top-left 75%", "crop bottom-right 75%",
            "warmer colours", "cooler colours", "darker", "brighter", "mirrored + crop 85%", "blurred",
            "rotated 8°")
SCENE_SEEDS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
# Layers whose globally pooled outputs make the embedding: several depths, so both colour and
# texture (early) and parts (late) count. Other models use the input of their last linear layer.
EMBED_LAYERS = {"shapesnet": ("features.block2", "features.block3", "features.block4")}


@dataclass
class Gallery:
    images: np.ndarray  # (N, THUMB, THUMB, 3) uint8
    source: list[str]  # which original each image came from
    variant: list[str]


@dataclass
class Index:
    model_key: str
    embeddings: np.ndarray  # (N, D) float32, unit length

    def search(self, query: np.ndarray, k: int = 8) -> list[tuple[int, float]]:
        """The k gallery entries most similar to a unit-length query: (index, cosine), best first."""
        scores = self.embeddings @ query
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(i), float(scores[i])) for i in top]


def variant(img: np.ndarray, name: str) -> np.ndarray:
    """One named variant of an RGB uint8 image, returned at THUMB x THUMB."""
    h, w = img.shape[:2]

    def crop(top: float, left: float, frac: float) -> np.ndarray:
        ch, cw = int(h * frac), int(w * frac)
        y, x = int((h - ch) * top), int((w - cw) * left)
        return img[y:y + ch, x:x + cw]

    f = img.astype(np.float32)
    if name == "original":
        out = img
    elif name == "mirrored":
        out = img[:, ::-1]
    elif name == "crop centre 80%":
        out = crop(0.5, 0.5, 0.8)
    elif name == "crop top-left 75%":
        out = crop(0.0, 0.0, 0.75)
    elif name == "crop bottom-right 75%":
        out = crop(1.0, 1.0, 0.75)
    elif name == "warmer colours":
        out = f * np.array([1.15, 1.0, 0.8])
    elif name == "cooler colours":
        out = f * np.array([0.8, 1.0, 1.15])
    elif name == "darker":
        out = f * 0.7
    elif name == "brighter":
        out = f * 0.6 + 100
    elif name == "mirrored + crop 85%":
        out = crop(0.5, 0.3, 0.85)[:, ::-1]
    elif name == "blurred":
        out = cv2.GaussianBlur(img, (0, 0), max(1.0, w / 150))
    elif name == "rotated 8°":
        rot = cv2.getRotationMatrix2D((w / 2, h / 2), 8, 1.1)
        out = cv2.warpAffine(img, rot, (w, h), borderMode=cv2.BORDER_REFLECT)
    else:
        raise ValueError(f"unknown variant {name!r}")
    out = np.clip(out, 0, 255).astype(np.uint8)
    return resize_to(np.ascontiguousarray(out), (THUMB, THUMB))


def build_gallery() -> Gallery:
    """Every sample photo and shapes scene in every variant: 252 images, deterministic."""
    sources = {name: sample_photo(name) for name in SAMPLE_PHOTOS}
    sources.update({f"Shapes scene {s}": lesson_scene(seed=s).image for s in SCENE_SEEDS})
    images, src, var = [], [], []
    for name, img in sources.items():
        for v in VARIANTS:
            images.append(variant(img, v))
            src.append(name)
            var.append(v)
    return Gallery(np.stack(images), src, var)


def embed(loaded: LoadedModel, rgb: np.ndarray) -> np.ndarray:
    """A unit-length embedding of one RGB uint8 image.

    Shipped ShapesNet: the global average of blocks 2-4, each block scaled to unit length before
    joining, so no depth drowns the others. Other models: the input of the final linear layer (for
    ResNet, its 512-d pooled features), the usual "penultimate layer" descriptor.
    """
    x = preprocess(rgb, loaded.spec)
    layers = EMBED_LAYERS.get(loaded.spec.key)
    if layers:
        maps, _ = feature_maps(loaded, x, list(layers))
        parts = [maps[n].mean((1, 2)) for n in layers]
        vec = torch.cat([p / p.norm().clamp_min(1e-12) for p in parts])
    else:
        vec = _penultimate(loaded, x)
    vec = vec.float().numpy()
    return vec / max(float(np.linalg.norm(vec)), 1e-12)


def _penultimate(loaded: LoadedModel, x: torch.Tensor) -> torch.Tensor:
    """The input of the model's last nn.Linear, for one image (a hook: holds the model's lock)."""
    last = [m for m in loaded.model.modules() if isinstance(m, torch.nn.Linear)][-1]
    grabbed: list[torch.Tensor] = []
    with loaded.lock:
        handle = last.register_forward_hook(lambda _m, inputs, _o: grabbed.append(inputs[0][0].detach().clone()))
        try:
            with torch.no_grad():
                loaded.model(x)
        finally:
            handle.remove()
    return grabbed[0]


def build_index(loaded: LoadedModel, gallery: Gallery) -> Index:
    return Index(loaded.spec.key, np.stack([embed(loaded, img) for img in gallery.images]).astype(np.float32))


def projection(index: Index, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The gallery's embeddings and the query's projected to 2D by the gallery's PCA (linear,
    deterministic, fast): ((N, 2), (2,))."""
    pca = PCA(n_components=2, random_state=0).fit(index.embeddings)
    return pca.transform(index.embeddings), pca.transform(query[None])[0]
