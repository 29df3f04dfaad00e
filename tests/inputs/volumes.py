"""NIfTI files a user might upload, as data: (case id, bytes factory, expected message or note)."""
from __future__ import annotations

import gzip
import io

import nibabel as nib
import numpy as np
from PIL import Image


def nifti_bytes(data: np.ndarray, affine: np.ndarray | None = None, gz: bool = False, **header) -> bytes:
    img = nib.Nifti1Image(data, np.eye(4) if affine is None else affine)
    for key, value in header.items():
        img.header[key] = value
    raw = img.to_bytes()
    return gzip.compress(raw) if gz else raw


def _absurd_header() -> bytes:
    raw = bytearray(nifti_bytes(np.zeros((4, 4, 4), np.int16)))
    # dim[1..3] live at byte offsets 42, 44, 46 (int16 each): claim 30000 x 30000 x 30000.
    for off in (42, 44, 46):
        raw[off:off + 2] = np.int16(30000).tobytes()
    return bytes(raw)


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buf, "PNG")
    return buf.getvalue()


BAD_VOLUMES = [
    ("empty", lambda: b"", "empty"),
    ("png-renamed", _png, "not a NIfTI file"),
    ("truncated-gz", lambda: nifti_bytes(np.random.default_rng(0).random((20, 20, 20)).astype(np.float32), gz=True)[:3000],
     "damaged or truncated"),
    ("truncated-voxels", lambda: nifti_bytes(np.ones((20, 20, 20), np.float32))[:5000], "damaged or shorter"),
    ("2d", lambda: nifti_bytes(np.ones((16, 16), np.float32)), "2D data"),
    ("5d", lambda: nifti_bytes(np.ones((4, 4, 4, 2, 2), np.float32)), "5D data"),
    ("absurd-dims", _absurd_header, "outside what we accept"),
]
# Valid but odd: (case id, bytes factory, note the viewer must show)
ODD_VOLUMES = [
    ("constant", lambda: nifti_bytes(np.full((8, 8, 8), 7, np.float32)), "same value"),
    ("nan-inf", lambda: nifti_bytes(np.where(np.arange(512).reshape(8, 8, 8) % 5 == 0, np.nan,
                                             np.arange(512, dtype=np.float32).reshape(8, 8, 8))), "NaN or infinite"),
]


def _noise_volume(shape: tuple[int, ...]) -> bytes:
    return nifti_bytes(np.random.default_rng(sum(shape)).random(shape).astype(np.float32))


# One voxel thick along each axis, and a single voxel: (case id, bytes factory).
DEGENERATE_VOLUMES = [
    ("1x12x10", lambda: _noise_volume((1, 12, 10))),
    ("12x1x10", lambda: _noise_volume((12, 1, 10))),
    ("12x10x1", lambda: _noise_volume((12, 10, 1))),
    ("1x1x1", lambda: _noise_volume((1, 1, 1))),
]
