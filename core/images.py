"""Safe image decoding: untrusted bytes in, an RGB uint8 array out, or a CNNLabError.

Pillow decodes; every cap is checked from the header before the pixel data is touched,
so a decompression bomb costs a few header bytes, not gigabytes.
"""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image, ImageOps

from core.errors import CNNLabError

# Only formats a photo plausibly arrives in. Pillow would otherwise also try EPS (which
# shells out to Ghostscript), ICNS, PSD and others we never want to parse from strangers.
ACCEPTED_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")
ACCEPTED_EXTENSIONS = ("png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff")
MAX_FILE_BYTES = 25 * 1024 * 1024
MAX_SOURCE_PIXELS = 50_000_000  # what the header may declare (e.g. 8660x5773)
MAX_SIDE = 1024  # long side of the returned array; the CNNs need far less
_EXIF_ORIENTATION = 0x0112

ACCEPTED_TEXT = (
    f"Accepted: {', '.join(ACCEPTED_FORMATS)} images up to {MAX_FILE_BYTES // 2**20} MB "
    f"and {MAX_SOURCE_PIXELS // 1_000_000} megapixels."
)


@dataclass
class DecodedImage:
    """Decoded pixels plus what was done to them, so the UI can say so."""

    pixels: np.ndarray  # (H, W, 3) uint8, C-contiguous
    source_format: str
    source_size: tuple[int, int]  # (width, height) as stored, before rotation/downscale
    notes: list[str] = field(default_factory=list)
    scene: object | None = None  # a synthetic core.scenes.Scene it shows (every pixel's class known), else None


def decode_image(
    data: bytes,
    *,
    max_side: int = MAX_SIDE,
    max_pixels: int = MAX_SOURCE_PIXELS,
    max_bytes: int = MAX_FILE_BYTES,
) -> DecodedImage:
    """Decode untrusted image bytes to RGB uint8, downscaled so the long side <= max_side."""
    if not data:
        raise CNNLabError(f"The file is empty. {ACCEPTED_TEXT}")
    if len(data) > max_bytes:
        raise CNNLabError(
            f"The file is {len(data) / 2**20:.1f} MB, over the {max_bytes / 2**20:.0f} MB limit. {ACCEPTED_TEXT}"
        )
    with warnings.catch_warnings():
        # Pillow warns (then raises) on big images; our own cap below decides instead.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
        except Image.DecompressionBombError:
            raise CNNLabError(f"The image declares an enormous size and was refused. {ACCEPTED_TEXT}") from None
        except Exception:  # Pillow raises many types on hostile headers; all mean "not an image we read"
            raise CNNLabError(f"This file is not an image we can read. {ACCEPTED_TEXT}") from None

        width, height = img.size
        if width < 1 or height < 1:
            raise CNNLabError(f"The image has no pixels ({width}x{height}). {ACCEPTED_TEXT}")
        if width * height > max_pixels:
            raise CNNLabError(
                f"The image is {width}x{height} ({width * height / 1e6:.0f} megapixels); "
                f"the limit is {max_pixels / 1e6:.0f} megapixels. Downscale it first. {ACCEPTED_TEXT}"
            )
        source = DecodedImage(np.empty(0, np.uint8), img.format or "?", (width, height))
        try:
            frames = getattr(img, "n_frames", 1)
            if frames > 1:
                source.notes.append(f"Animated image: the first of its {frames} frames is used.")
            if img.format == "JPEG" and max(width, height) > 2 * max_side:
                # DCT-domain downscale while decoding: a 40 MP JPEG decodes at 1/4 or 1/8 cost.
                scale = max_side / max(width, height)
                img.draft("RGB", (max(1, round(width * scale)), max(1, round(height * scale))))
            img.load()
            if img.getexif().get(_EXIF_ORIENTATION, 1) != 1:
                source.notes.append("Rotated upright using the photo's EXIF orientation.")
            rotated = ImageOps.exif_transpose(img)
            rgb = _to_rgb_array(rotated, source.notes)
        except CNNLabError:
            raise
        except Exception:  # truncated data, corrupt chunks, bad EXIF: all surface as broken file
            raise CNNLabError(
                f"The image file is damaged or truncated and could not be decoded. {ACCEPTED_TEXT}"
            ) from None

    source.pixels = _fit_long_side(rgb, max_side, source.notes)
    return source


def _to_rgb_array(img: Image.Image, notes: list[str]) -> np.ndarray:
    """Any Pillow mode -> (H, W, 3) uint8. High bit depths are scaled, not clipped."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img).astype(np.float64)
        # 16-bit data is scaled by its full range (65535 -> 255); plain 8-bit-valued 'I' stays put.
        if arr.max(initial=0) > 255:
            arr = arr / 257.0
            notes.append("16-bit image scaled to 8 bits.")
        grey = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if mode == "F":
        arr = np.nan_to_num(np.asarray(img, dtype=np.float64))
        lo, hi = float(arr.min()), float(arr.max())
        grey = np.zeros_like(arr) if hi <= lo else (arr - lo) / (hi - lo) * 255.0
        notes.append("Floating-point image stretched to 0-255.")
        return np.repeat(np.rint(grey).astype(np.uint8)[..., None], 3, axis=2)
    has_alpha = mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        mode in ("P", "L", "RGB") and "transparency" in img.info
    )
    if has_alpha:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        notes.append("Transparent areas were placed on white.")
        return np.ascontiguousarray(np.asarray(Image.alpha_composite(white, rgba).convert("RGB")))
    if mode == "CMYK":
        notes.append("CMYK image converted to RGB.")
    return np.ascontiguousarray(np.asarray(img.convert("RGB")))


def _fit_long_side(rgb: np.ndarray, max_side: int, notes: list[str]) -> np.ndarray:
    height, width = rgb.shape[:2]
    if max(height, width) <= max_side:
        return rgb
    scale = max_side / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    notes.append(f"Downscaled from {width}x{height} to {new_w}x{new_h}.")
    return np.ascontiguousarray(cv2.resize(rgb, (new_w, new_h), interpolation=cv2.INTER_AREA))


# Photos that ship inside scikit-image's wheel (no download). Name -> loader of skimage.data.
SAMPLE_PHOTOS = {
    "Cat (chelsea)": lambda d: d.chelsea(),
    "Astronaut": lambda d: d.astronaut(),
    "Coffee cup": lambda d: d.coffee(),
    "Rocket": lambda d: d.rocket(),
    "Motorcycle": lambda d: d.stereo_motorcycle()[0],
    "Retina": lambda d: d.retina(),
    "Hubble deep field": lambda d: d.hubble_deep_field(),
    "Cameraman (grey)": lambda d: d.camera(),
    "Coins (grey)": lambda d: d.coins(),
}


def sample_photo(name: str) -> np.ndarray:
    """A bundled scikit-image photo as RGB uint8 (grey ones repeated to 3 channels)."""
    import skimage.data

    if name not in SAMPLE_PHOTOS:
        raise CNNLabError(f"Unknown sample photo {name!r}; choose from {list(SAMPLE_PHOTOS)}.")
    img = SAMPLE_PHOTOS[name](skimage.data)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return _fit_long_side(np.ascontiguousarray(img[..., :3], dtype=np.uint8), MAX_SIDE, [])


def is_one_colour(rgb: np.ndarray) -> bool:
    """Every pixel the same (a 1x1 upload, a blank canvas): a picture with nothing in it to find."""
    flat = rgb.reshape(-1, rgb.shape[-1]) if rgb.ndim == 3 else rgb.reshape(-1, 1)
    return bool((flat == flat[0]).all())


def resize_to(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an RGB uint8 array to (width, height), area-averaging when shrinking."""
    h, w = rgb.shape[:2]
    shrink = size[0] < w or size[1] < h
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
