"""Arrays -> pictures: colour-mapped heatmaps, overlays on photos, tiled grids (OpenCV)."""
from __future__ import annotations

import cv2
import numpy as np
import torch

COLORMAPS = {
    "viridis": cv2.COLORMAP_VIRIDIS,
    "inferno": cv2.COLORMAP_INFERNO,
    "jet": cv2.COLORMAP_JET,
    "magma": cv2.COLORMAP_MAGMA,
    "gray": None,
}


def normalize01(a: np.ndarray) -> np.ndarray:
    """Scale to [0, 1]; a constant map becomes all zeros rather than NaN."""
    a = np.nan_to_num(np.asarray(a, dtype=np.float32))
    lo, hi = float(a.min()), float(a.max())
    return np.zeros_like(a) if hi - lo < 1e-12 else (a - lo) / (hi - lo)


def colorize(a: np.ndarray, cmap: str = "viridis") -> np.ndarray:
    """2D array -> RGB uint8 via an OpenCV colormap (min-max normalised)."""
    u8 = np.round(normalize01(a) * 255).astype(np.uint8)
    if COLORMAPS[cmap] is None:
        return np.repeat(u8[..., None], 3, axis=2)
    return cv2.cvtColor(cv2.applyColorMap(u8, COLORMAPS[cmap]), cv2.COLOR_BGR2RGB)


def overlay(rgb: np.ndarray, heat: np.ndarray, alpha: float, cmap: str = "jet") -> np.ndarray:
    """Blend a heatmap (any size) onto an RGB uint8 photo; alpha=0 is the photo, 1 the map."""
    h, w = rgb.shape[:2]
    heat_rgb = colorize(cv2.resize(np.asarray(heat, np.float32), (w, h), interpolation=cv2.INTER_LINEAR), cmap)
    return cv2.addWeighted(rgb, 1.0 - alpha, heat_rgb, alpha, 0.0)


def tile(images: list[np.ndarray], cols: int, pad: int = 2, pad_value: int = 255) -> np.ndarray:
    """Equal-size RGB uint8 tiles -> one grid image."""
    if not images:
        raise ValueError("no images to tile")
    th, tw = images[0].shape[:2]
    rows = -(-len(images) // cols)
    grid = np.full((rows * (th + pad) - pad, cols * (tw + pad) - pad, 3), pad_value, np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        grid[r * (th + pad):r * (th + pad) + th, c * (tw + pad):c * (tw + pad) + tw] = im
    return grid


def upscale(img: np.ndarray, size: int) -> np.ndarray:
    """Nearest-neighbour enlarge so single pixels stay visible as blocks."""
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_NEAREST)


def channel_grid(fmap: torch.Tensor, channels: list[int], cmap: str = "viridis", tile_px: int = 96) -> np.ndarray:
    """Selected channels of a (C, h, w) feature map, each colour-mapped on its own scale."""
    tiles = [upscale(colorize(fmap[c].numpy(), cmap), tile_px) for c in channels]
    return tile(tiles, cols=min(8, len(tiles)))


def filter_grid(weight: torch.Tensor, tile_px: int = 48, cols: int = 16) -> np.ndarray:
    """First-layer conv weights (O, I, k, k) as a grid: RGB when I == 3, grey otherwise.

    Each filter is scaled on its own symmetric range so 0 maps to mid-grey and sign is visible.
    """
    w = weight.detach().float().numpy()
    tiles = []
    for f in w:
        img = f[:3].transpose(1, 2, 0) if f.shape[0] == 3 else np.repeat(f[:1].transpose(1, 2, 0), 3, axis=2)
        m = float(np.abs(img).max()) or 1.0
        tiles.append(upscale(np.round((img / m * 0.5 + 0.5) * 255).astype(np.uint8), tile_px))
    return tile(tiles, cols=min(cols, len(tiles)))


def diverging(a: np.ndarray) -> tuple[np.ndarray, float]:
    """Signed 2D array -> RGB uint8 on a symmetric blue-white-red scale, and the scale's |max|.

    Blue is negative, white zero, red positive, so the sign of a response stays visible.
    """
    a = np.nan_to_num(np.asarray(a, dtype=np.float32))
    vmax = float(np.abs(a).max()) or 1.0
    # A 1025-step table, indexed once per pixel: a fifth of the cost of blending per pixel, which a
    # live slider pays on every move; colours differ from the exact blend by at most one level.
    steps = np.clip(np.rint((a / vmax + 1.0) * (_DIVERGING.shape[0] // 2)), 0, _DIVERGING.shape[0] - 1)
    return _DIVERGING[steps.astype(np.intp)], vmax


def _diverging_table(half: int = 512) -> np.ndarray:
    t = np.linspace(-1.0, 1.0, 2 * half + 1)[:, None]
    white, red, blue = np.array([255, 255, 255.0]), np.array([178, 24, 43.0]), np.array([33, 102, 172.0])
    return np.round(np.where(t >= 0, white + t * (red - white), white - t * (blue - white))).astype(np.uint8)


_DIVERGING = _diverging_table()


def mark_box(rgb: np.ndarray, top: int, left: int, height: int, width: int,
             color: tuple[int, int, int] = (255, 215, 0)) -> np.ndarray:
    """Copy of an RGB image with a rectangle outlined (clipped to the image, visible at any size)."""
    out = rgb.copy()
    thick = max(1, round(max(rgb.shape[:2]) / 200))
    h, w = rgb.shape[:2]
    y0, x0 = max(0, top), max(0, left)
    y1, x1 = min(h - 1, top + height - 1), min(w - 1, left + width - 1)
    if y0 <= y1 and x0 <= x1:
        cv2.rectangle(out, (x0, y0), (x1, y1), color, thick)
    return out


def png_bytes(rgb: np.ndarray) -> bytes:
    """RGB uint8 image -> PNG file bytes (for download buttons)."""
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError("PNG encoding failed")
    return buf.tobytes()


def outline(rgb: np.ndarray, mask: np.ndarray, color: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """Copy of an RGB image with a mask's contour drawn on it (mask resized to the image)."""
    h, w = rgb.shape[:2]
    m = cv2.resize(mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    out = rgb.copy()
    cv2.drawContours(out, contours, -1, color, max(1, round(max(h, w) / 150)))
    return out
