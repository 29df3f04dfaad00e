"""NIfTI volumes: safe loading (nibabel), canonical orientation, windowing and the three views.

Untrusted uploads are checked from the header before any voxel is read: dimensions, voxel count
and the decompressed size are capped, so a hostile header cannot make us allocate gigabytes.
"""
from __future__ import annotations

import gzip
import io
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import nibabel as nib
import numpy as np

from core.errors import CNNLabError

MAX_FILE_BYTES = 200 * 2**20  # what an upload may weigh
MAX_VOXELS = 256 ** 3 * 2  # e.g. a 256^3 volume with two frames
MAX_SIDE = 2048
ACCEPTED = "Accepted: NIfTI-1/2 files (.nii or .nii.gz) with 3D or 4D data, up to 200 MB and 33 M voxels."
PLANES = ("axial", "coronal", "sagittal")


def sample_volumes() -> dict[str, Path]:
    """Real volumes that ship inside installed packages (no download)."""
    from core.lesions import MNI_T1, nilearn_file

    data = Path(nib.__file__).parent / "tests" / "data"
    return {
        "MNI152 T1 template (nilearn, 1 mm)": nilearn_file(MNI_T1),
        "anatomical.nii (nibabel test data, big-endian int16)": data / "anatomical.nii",
        "functional.nii (nibabel test data, 4D)": data / "functional.nii",
        "example4d.nii.gz (nibabel test data, 4D)": data / "example4d.nii.gz",
    }


@dataclass
class Volume:
    data: np.ndarray  # float32, (X, Y, Z) or (X, Y, Z, T), RAS+ voxel order after reorientation
    affine: np.ndarray  # voxel -> world (mm) for `data`
    zooms: tuple[float, ...]
    header: dict  # facts for the header panel
    notes: list[str] = field(default_factory=list)
    _stats: dict = field(default_factory=dict, repr=False)

    def stats(self, t: int = 0) -> "FrameStats":
        """Window and histogram facts of one frame, computed once (slider moves reuse them)."""
        if t not in self._stats:
            self._stats[t] = frame_stats(self.frame(t))
        return self._stats[t]

    @property
    def frames(self) -> int:
        return self.data.shape[3] if self.data.ndim == 4 else 1

    def frame(self, t: int = 0) -> np.ndarray:
        return self.data[..., t] if self.data.ndim == 4 else self.data


def _decompress(raw: bytes, limit: int) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as f:
            out = f.read(limit + 1)
    except (OSError, EOFError, zlib.error):
        raise CNNLabError(f"The .gz file is damaged or truncated. {ACCEPTED}") from None
    if len(out) > limit:
        raise CNNLabError(f"The file decompresses to more than {limit // 2**20} MB. {ACCEPTED}")
    return out


def load_volume(raw: bytes, name: str = "upload") -> Volume:
    """Decode untrusted NIfTI bytes (plain or gzipped) into a canonical float32 volume."""
    if not raw:
        raise CNNLabError(f"The file is empty. {ACCEPTED}")
    if len(raw) > MAX_FILE_BYTES:
        raise CNNLabError(f"The file is {len(raw) / 2**20:.0f} MB, over the {MAX_FILE_BYTES // 2**20} MB limit. {ACCEPTED}")
    if raw[:2] == b"\x1f\x8b":
        raw = _decompress(raw, MAX_VOXELS * 8 + 2**20)
    img = None
    for cls in (nib.Nifti1Image, nib.Nifti2Image):
        try:
            img = cls.from_bytes(raw)
            break
        except Exception:  # nibabel raises many types on a foreign or damaged header
            continue
    if img is None:
        raise CNNLabError(f"This is not a NIfTI file we can read. {ACCEPTED}")
    return _from_image(img, name)


def load_path(path: Path) -> Volume:
    return load_volume(Path(path).read_bytes(), Path(path).name)


def _from_image(img, name: str) -> Volume:
    shape = tuple(int(s) for s in img.header.get_data_shape())
    while len(shape) > 3 and shape[-1] == 1:  # (X, Y, Z, 1) and friends are 3D
        shape = shape[:-1]
    if len(shape) < 3:
        raise CNNLabError(f"This file holds {len(shape)}D data {shape}; the viewer needs a 3D volume "
                          f"(or a 4D series). {ACCEPTED}")
    if len(shape) > 4:
        raise CNNLabError(f"This file holds {len(shape)}D data {shape}; only 3D and 4D are supported. {ACCEPTED}")
    if min(shape) < 1 or max(shape) > MAX_SIDE or int(np.prod(shape)) > MAX_VOXELS:
        raise CNNLabError(f"The header declares dimensions {shape}, outside what we accept. {ACCEPTED}")
    header = img.header
    original_codes = "".join(nib.aff2axcodes(img.affine))
    notes = []
    if nib.affines.obliquity(img.affine).max() > 1e-3:
        notes.append("The affine is oblique: the views follow the closest axes, so anatomy may look slightly tilted.")
    try:
        canon = nib.as_closest_canonical(img)
        data = canon.get_fdata(dtype=np.float32)  # applies scl_slope / scl_inter
    except (ValueError, EOFError, OSError) as err:
        raise CNNLabError(f"The voxel data is damaged or shorter than the header says ({err}). {ACCEPTED}") from None
    data = data.reshape(shape) if data.ndim > len(shape) else data
    bad = int(np.size(data) - np.isfinite(data).sum())
    if bad:
        notes.append(f"{bad:,} voxels are NaN or infinite; they are shown as the window's minimum.")
    finite = data[np.isfinite(data)]
    if finite.size and finite.min() == finite.max():
        notes.append(f"Every voxel has the same value ({finite.min():g}): there is nothing to see.")
    slope, inter = header.get_slope_inter()
    facts = {
        "file": name,
        "shape": shape,
        "voxel size (mm)": tuple(round(float(z), 3) for z in header.get_zooms()[:3]),
        "stored dtype": str(header.get_data_dtype()),
        "orientation (file)": original_codes,
        "orientation (shown)": "".join(nib.aff2axcodes(canon.affine)),
        "qform code": int(header["qform_code"]),
        "sform code": int(header["sform_code"]),
        "scaling (slope, intercept)": (slope, inter),
        "affine (shown)": np.round(canon.affine, 3).tolist(),
    }
    return Volume(data, canon.affine, tuple(float(z) for z in canon.header.get_zooms()[:3]), facts, notes)


# ---------------------------------------------------------------- windowing and views
@dataclass(frozen=True)
class FrameStats:
    robust: tuple[float, float]  # 2nd-98th percentile window
    full: tuple[float, float]  # finite minimum and maximum
    counts: np.ndarray  # histogram of the finite voxels (HIST_BINS bins over `full`)
    edges: np.ndarray  # its HIST_BINS + 1 bin edges


HIST_BINS = 120


def frame_stats(data: np.ndarray) -> FrameStats:
    finite = data[np.isfinite(data)]
    full = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    # Binned here, once per frame: sending the voxels to the browser to bin would cost every slider move.
    counts, edges = np.histogram(finite[:: max(1, finite.size // 1_000_000)], HIST_BINS,
                                 range=full if full[1] > full[0] else (full[0] - 0.5, full[0] + 0.5))
    return FrameStats(_robust(finite), full, counts, edges)


def robust_window(data: np.ndarray, lo_pct: float = 2, hi_pct: float = 98) -> tuple[float, float]:
    """The 2nd-98th percentile of the finite voxels (on a subsample for speed); never lo == hi."""
    return _robust(data[np.isfinite(data)], lo_pct, hi_pct)


def _robust(finite: np.ndarray, lo_pct: float = 2, hi_pct: float = 98) -> tuple[float, float]:
    if finite.size == 0:
        return 0.0, 1.0
    sample = finite[:: max(1, finite.size // 1_000_000)]
    lo, hi = (float(v) for v in np.percentile(sample, [lo_pct, hi_pct]))
    if hi <= lo:
        lo, hi = float(finite.min()), float(finite.max())
    return (lo, hi) if hi > lo else (lo - 0.5, lo + 0.5)


def window(slice2d: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map [lo, hi] to 0-255; NaN and -inf go to 0, +inf to 255."""
    s = np.nan_to_num(slice2d.astype(np.float32), nan=lo, posinf=hi, neginf=lo)
    return np.round(np.clip((s - lo) / max(hi - lo, 1e-12), 0, 1) * 255).astype(np.uint8)


def plane_slice(vol3d: np.ndarray, plane: str, index: int) -> np.ndarray:
    """A 2D slice oriented for display: superior/anterior up, patient's right on the viewer's right
    (neurological); `display` flips for radiological."""
    if plane == "axial":
        return vol3d[:, :, index].T[::-1]  # rows: anterior -> posterior, cols: left -> right
    if plane == "coronal":
        return vol3d[:, index, :].T[::-1]  # rows: superior -> inferior, cols: left -> right
    return vol3d[index, :, :].T[::-1]  # sagittal: rows superior -> inferior, cols posterior -> anterior


def plane_axes(plane: str) -> tuple[int, int]:
    """(volume axis along the slice's columns, volume axis along its rows)."""
    return {"axial": (0, 1), "coronal": (0, 2), "sagittal": (1, 2)}[plane]


PLANE_AXIS = {"axial": 2, "coronal": 1, "sagittal": 0}


def display(slice_u8: np.ndarray, plane: str, zooms: tuple[float, ...], ijk: tuple[int, int, int],
            cmap: str = "gray", radiological: bool = False, heat_u8: np.ndarray | None = None,
            alpha: float = 0.0, threshold: int = 0, height: int = 320) -> np.ndarray:
    """Colour-map a slice, blend an optional heatmap slice (only where it is >= threshold), scale to
    true aspect (voxel sizes), draw the crosshair and L/R labels."""
    from core.viz import COLORMAPS

    rgb = cv2.cvtColor(slice_u8, cv2.COLOR_GRAY2RGB) if COLORMAPS.get(cmap) is None else \
        cv2.cvtColor(cv2.applyColorMap(slice_u8, COLORMAPS[cmap]), cv2.COLOR_BGR2RGB)
    if heat_u8 is not None and alpha > 0:
        heat_rgb = cv2.cvtColor(cv2.applyColorMap(heat_u8, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
        blended = cv2.addWeighted(rgb, 1 - alpha, heat_rgb, alpha, 0)
        rgb = np.where((heat_u8 >= threshold)[..., None], blended, rgb)
    col_axis, row_axis = plane_axes(plane)
    rows, cols = slice_u8.shape
    # Physical size of the slice in mm -> pixels, so anisotropic voxels keep true proportions.
    mm_w, mm_h = cols * zooms[col_axis], rows * zooms[row_axis]
    out_h = height
    out_w = max(1, int(round(height * mm_w / mm_h)))
    sx, sy = out_w / cols, out_h / rows
    cx = (ijk[col_axis] + 0.5) * sx
    cy = (rows - 1 - ijk[row_axis] + 0.5) * sy
    if radiological and plane != "sagittal":
        rgb = rgb[:, ::-1]
        cx = out_w - cx
    big = cv2.resize(np.ascontiguousarray(rgb), (out_w, out_h), interpolation=cv2.INTER_NEAREST)
    cv2.line(big, (int(cx), 0), (int(cx), out_h - 1), (0, 255, 0), 1)
    cv2.line(big, (0, int(cy)), (out_w - 1, int(cy)), (0, 255, 0), 1)
    if plane != "sagittal":
        left, right = ("R", "L") if radiological else ("L", "R")
        cv2.putText(big, left, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 0), 1, cv2.LINE_AA)
        cv2.putText(big, right, (out_w - 14, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 0), 1, cv2.LINE_AA)
    return big


def world_mm(affine: np.ndarray, ijk: tuple[int, int, int]) -> tuple[float, float, float]:
    x, y, z, _ = affine @ np.array([*ijk, 1.0])
    return float(x), float(y), float(z)


def montage(vol3d: np.ndarray, plane: str, lo: float, hi: float, count: int = 12, cols: int = 6) -> np.ndarray:
    """count evenly spaced slices of one plane, windowed, as one grey grid image."""
    from core.viz import tile

    n = vol3d.shape[PLANE_AXIS[plane]]
    picks = np.linspace(n * 0.15, n * 0.85, count).astype(int)
    tiles = [window(plane_slice(vol3d, plane, int(i)), lo, hi) for i in picks]
    h = max(t.shape[0] for t in tiles)
    w = max(t.shape[1] for t in tiles)
    padded = [cv2.cvtColor(cv2.copyMakeBorder(t, 0, h - t.shape[0], 0, w - t.shape[1], cv2.BORDER_CONSTANT),
                           cv2.COLOR_GRAY2RGB) for t in tiles]
    return tile(padded, cols=cols, pad=2, pad_value=0)
