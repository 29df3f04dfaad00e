"""Large-image tiling, the way satellite scenes are classified: cut the big image into tiles (with
overlap), classify every tile, and stitch the tile scores back into a map.

The big image is a synthetic "scene": shapes scattered over one textured canvas, each with its
mask, so every pixel's true class is known and the map can be scored.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from core.data import SHAPE_CLASSES, shape_mask, textured_background
from core.errors import CNNLabError
from core.models import LoadedModel, preprocess

MAX_CANVAS = 2048  # px per side
MAX_TILES = 3000  # tiles classified per map: about 3 s on 2 cores for ShapesNet
BACKGROUND = -1  # label of pixels with no shape


@dataclass
class Scene:
    image: np.ndarray  # (H, W, 3) uint8
    labels: np.ndarray  # (H, W) int: class index, or BACKGROUND
    objects: list[tuple[int, int, int, int]]  # (class, centre y, centre x, size) of every shape


def make_scene(height: int, width: int, *, seed: int = 0, cell: int = 96, fill: float = 0.6) -> Scene:
    """Shapes scattered over a textured canvas: the canvas is split into cell x cell slots and each slot
    holds one shape (of a random class, size and place within it) with probability ``fill``."""
    check_canvas(height, width)
    rng = np.random.default_rng(seed)
    image = textured_background(max(height, width), rng)[:height, :width].copy()
    labels = np.full((height, width), BACKGROUND, np.int64)
    objects = []
    for top in range(0, height - cell + 1, cell):
        for left in range(0, width - cell + 1, cell):
            if rng.random() > fill:
                continue
            kind = int(rng.integers(len(SHAPE_CLASSES)))
            size = int(rng.integers(cell // 2, cell + 1))
            y, x = top + int(rng.integers(0, cell - size + 1)), left + int(rng.integers(0, cell - size + 1))
            mask = shape_mask(SHAPE_CLASSES[kind], size, rng)
            patch = image[y:y + size, x:x + size]
            bg_mean = patch.reshape(-1, 3).mean(0)
            colour = rng.uniform(0, 255, 3)
            if np.linalg.norm(colour - bg_mean) < 120:
                colour = 255.0 - bg_mean
            patch[mask] = colour + rng.normal(0, 6, (int(mask.sum()), 3))
            labels[y:y + size, x:x + size][mask] = kind
            objects.append((kind, y + size // 2, x + size // 2, size))
    image += rng.normal(0, 5, image.shape)
    return Scene(np.clip(image, 0, 255).astype(np.uint8), labels, objects)


def check_canvas(height: int, width: int) -> None:
    if not (64 <= height <= MAX_CANVAS and 64 <= width <= MAX_CANVAS):
        raise CNNLabError(f"The canvas must be 64 to {MAX_CANVAS} px on each side (asked for {width}x{height}); "
                          "larger scenes would take too long to classify here.")


def tile_origins(length: int, tile: int, stride: int) -> list[int]:
    """Start positions of tiles along one side: every ``stride`` px, plus one flush with the far edge."""
    if tile > length:
        return [0]
    starts = list(range(0, length - tile + 1, stride))
    if starts[-1] != length - tile:
        starts.append(length - tile)
    return starts


def tile_grid(height: int, width: int, tile: int, overlap: float) -> tuple[list[int], list[int]]:
    """Tile origins (rows, cols) for a tile size and overlap fraction; refuses too many tiles."""
    if not 0 <= overlap < 1:
        raise CNNLabError(f"Overlap must be from 0% to below 100% (got {overlap:.0%}).")
    if tile < 16:
        raise CNNLabError("Tiles must be at least 16 px.")
    stride = max(1, int(round(tile * (1 - overlap))))
    rows, cols = tile_origins(height, tile, stride), tile_origins(width, tile, stride)
    if len(rows) * len(cols) > MAX_TILES:
        raise CNNLabError(f"That is {len(rows) * len(cols):,} tiles; the limit here is {MAX_TILES:,}. "
                          "Use bigger tiles, less overlap or a smaller canvas.")
    return rows, cols


@dataclass
class TileMap:
    rows: list[int]
    cols: list[int]
    tile: int
    probs: np.ndarray  # (len(rows), len(cols), classes): each tile's softmax
    pixel_probs: np.ndarray  # (H, W, classes) float16: overlapping tiles' probabilities averaged per pixel

    @property
    def tile_classes(self) -> np.ndarray:
        return self.probs.argmax(-1)


def classify_tiles(loaded: LoadedModel, image: np.ndarray, tile: int, overlap: float, batch: int = 256) -> TileMap:
    """Classify every tile (resized to the model's input) and average tile probabilities per pixel."""
    h, w = image.shape[:2]
    rows, cols = tile_grid(h, w, tile, overlap)
    crops = [image[r:r + tile, c:c + tile] for r in rows for c in cols]
    out = []
    with torch.no_grad():
        for i in range(0, len(crops), batch):
            x = torch.cat([preprocess(np.ascontiguousarray(c), loaded.spec) for c in crops[i:i + batch]])
            out.append(loaded.model(x).softmax(1))
    probs = torch.cat(out).numpy().reshape(len(rows), len(cols), -1)
    total = np.zeros((h, w, probs.shape[-1]), np.float32)
    count = np.zeros((h, w, 1), np.float32)
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            total[r:r + tile, c:c + tile] += probs[i, j]
            count[r:r + tile, c:c + tile] += 1
    return TileMap(rows, cols, tile, probs, (total / np.maximum(count, 1)).astype(np.float16))


def object_accuracy(scene: Scene, tiles: TileMap) -> float:
    """Share of shapes whose centre pixel gets the right class on the stitched map."""
    if not scene.objects:
        return float("nan")
    pred = tiles.pixel_probs.argmax(-1)
    return float(np.mean([pred[y, x] == k for k, y, x, _ in scene.objects]))


def tile_accuracy(scene: Scene, tiles: TileMap, min_cover: float = 0.15) -> tuple[float, int]:
    """Accuracy over tiles where one class covers at least ``min_cover`` of the tile (its true
    class = the most-covered one), and how many such tiles there were."""
    right, n = 0, 0
    for i, r in enumerate(tiles.rows):
        for j, c in enumerate(tiles.cols):
            patch = scene.labels[r:r + tiles.tile, c:c + tiles.tile]
            counts = np.bincount(patch[patch >= 0], minlength=len(SHAPE_CLASSES))
            if counts.max() < min_cover * patch.size:
                continue
            n += 1
            right += int(tiles.probs[i, j].argmax() == counts.argmax())
    return (right / n if n else float("nan")), n


def map_labels(tiles: TileMap, min_conf: float = 0.0) -> np.ndarray:
    """The stitched prediction per pixel: a class index, or BACKGROUND where the averaged confidence
    is below ``min_conf`` (draw it with core.segmentation.mask_rgb(labels + 1))."""
    labels = tiles.pixel_probs.argmax(-1).astype(np.int64)
    labels[tiles.pixel_probs.max(-1) < min_conf] = BACKGROUND
    return labels


def grid_lines(image: np.ndarray, tiles: TileMap) -> np.ndarray:
    """The image with every tile's outline drawn (thin white lines)."""
    out = image.copy()
    for r in tiles.rows:
        for c in tiles.cols:
            cv2.rectangle(out, (c, r), (c + tiles.tile - 1, r + tiles.tile - 1), (255, 255, 255), 1)
    return out
