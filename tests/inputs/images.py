"""Image files a user might upload, as data: (case id, bytes factory, expected outcome).

Shared by the core unit tests and the page tests (traingenerator-style input lists), so every
bad case is checked both in core.images and on screen.
"""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width x height but carries almost no pixel data (a bomb's header)."""
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def photo_jpeg(width: int = 64, height: int = 48) -> bytes:
    rng = np.random.default_rng(0)
    return encode(Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)), "JPEG")


# (id, bytes, substring the error message must contain)
BAD_IMAGES = [
    ("empty", lambda: b"", "empty"),
    ("text", lambda: b"hello, this is not an image\n" * 10, "not an image"),
    ("random-bytes", lambda: np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes(), "not an image"),
    ("pdf", lambda: b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF", "not an image"),
    ("truncated-jpeg", lambda: photo_jpeg(256, 256)[:5000], "damaged or truncated"),
    ("truncated-png", lambda: encode(Image.new("RGB", (300, 300), "red"), "PNG")[:80], "damaged or truncated"),
    ("bomb-60mp", lambda: png_header_only(10_000, 6_000), "megapixels"),
    ("bomb-huge", lambda: png_header_only(100_000, 100_000), "enormous"),
    ("zero-size-header", lambda: png_header_only(0, 0), "not an image"),
    ("icon-format", lambda: encode(Image.new("RGB", (32, 32), "blue"), "ICO"), "not an image"),
]


def _animated_gif() -> bytes:
    buf = io.BytesIO()
    frames = [Image.new("RGB", (40, 30), c) for c in ("red", "lime", "blue")]
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100)
    return buf.getvalue()


def _exif_rotated_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(Image.new("RGB", (80, 40), "orange"), "JPEG", exif=exif.tobytes())


# Unusual but valid files: (id, bytes factory, a note the UI should show, or None)
ODD_IMAGES = [
    ("cmyk-jpeg", lambda: encode(Image.new("CMYK", (50, 40), (0, 255, 255, 0)), "JPEG"), "CMYK"),
    ("rgba-png", lambda: encode(Image.new("RGBA", (50, 40), (255, 0, 0, 0)), "PNG"), "white"),
    ("palette-png", lambda: encode(Image.new("RGB", (50, 40), "teal").convert("P"), "PNG"), None),
    ("grey16-png", lambda: encode(Image.fromarray(np.full((40, 50), 40000, np.uint16)), "PNG"), "16-bit"),
    ("animated-gif", _animated_gif, "first of its 3 frames"),
    ("exif-rotated-jpeg", _exif_rotated_jpeg, "EXIF"),
    ("one-pixel", lambda: encode(Image.new("RGB", (1, 1), "white"), "PNG"), None),
    ("needle-3x4000", lambda: encode(Image.new("RGB", (3, 4000), "green"), "PNG"), "Downscaled"),
    ("photo-4000x3000", lambda: encode(Image.new("RGB", (4000, 3000), "navy"), "JPEG"), "Downscaled"),
    ("webp", lambda: encode(Image.new("RGB", (50, 40), "pink"), "WEBP"), None),
    ("bmp", lambda: encode(Image.new("RGB", (50, 40), "pink"), "BMP"), None),
    ("tiff", lambda: encode(Image.new("RGB", (50, 40), "pink"), "TIFF"), None),
]


def _noise_png(width: int, height: int) -> bytes:
    """Random pixels, so a degenerate image still has something to convolve and classify."""
    rng = np.random.default_rng(width * 7919 + height)
    return encode(Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)), "PNG")


# Degenerate sizes (width x height) every image uploader must survive: (id, bytes factory).
DEGENERATE_IMAGES = [
    ("1x1", lambda: _noise_png(1, 1)),
    ("1x4000", lambda: _noise_png(1, 4000)),
    ("4000x1", lambda: _noise_png(4000, 1)),
    ("3x4000", lambda: _noise_png(3, 4000)),
]
