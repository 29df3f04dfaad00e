"""Convolution and pooling as a learner sees them: kernels, output sizes, receptive fields,
and the seed's 5x5 example worked step by step. The maths runs through torch.nn.functional,
the same code a real Conv2d uses.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from core.errors import CNNLabError
from core.images import resize_to

_S = np.array
KERNEL_PRESETS: dict[str, np.ndarray] = {
    "identity": _S([[0, 0, 0], [0, 1, 0], [0, 0, 0]], float),
    "box blur": np.full((3, 3), 1 / 9),
    "Gaussian": _S([[1, 2, 1], [2, 4, 2], [1, 2, 1]], float) / 16,
    "sharpen": _S([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], float),
    "Sobel x": _S([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], float),
    "Sobel y": _S([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], float),
    "Prewitt x": _S([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]], float),
    "Laplacian": _S([[0, 1, 0], [1, -4, 1], [0, 1, 0]], float),
    "emboss": _S([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], float),
    "outline": _S([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], float),
}
KERNEL_SIZES = (3, 5, 7)
PADDINGS = ("valid", "same", "explicit")
BORDERS = ("zeros", "reflect", "replicate")
CHANNEL_MODES = ("per channel", "summed (Conv2d 3->1)", "grey")
POOLS = ("max", "average", "global average")
MAX_KERNEL_ABS = 1000.0

# The course's worked example: a 5x5 input and a vertical-edge kernel.
SEED_INPUT = _S([[1, 2, 0, 1, 3], [4, 5, 2, 1, 0], [3, 1, 1, 0, 2], [2, 0, 1, 3, 1], [1, 1, 0, 2, 4]], float)
SEED_KERNEL = _S([[1, 0, -1], [1, 0, -1], [1, 0, -1]], float)


def working_image(rgb: np.ndarray, max_side: int = 512) -> np.ndarray:
    """The photo as float32 in [0, 1], long side capped so every slider change stays fast."""
    h, w = rgb.shape[:2]
    if max(h, w) > max_side:
        scale = max_side / max(h, w)
        rgb = resize_to(rgb, (max(1, round(w * scale)), max(1, round(h * scale))))
    return rgb.astype(np.float32) / 255.0


def kernel_to_param(kernel: np.ndarray) -> str:
    """Kernel values for a URL: comma-separated, row by row, short decimals."""
    return ",".join(f"{v:.4g}" for v in np.asarray(kernel).ravel())


def kernel_from_param(text: str) -> np.ndarray:
    """Parse kernel_to_param's output; CNNLabError when it is not a valid 3x3, 5x5 or 7x7 kernel."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise CNNLabError("The link's kernel `k` must be comma-separated numbers.") from None
    size = math.isqrt(len(values))
    if size * size != len(values) or size not in KERNEL_SIZES:
        raise CNNLabError(f"The link's kernel `k` has {len(values)} numbers; it needs 9, 25 or 49.")
    return validate_kernel(np.array(values).reshape(size, size))


def kernel_of_size(preset: str, size: int) -> np.ndarray:
    """A preset centred in a size x size grid of zeros (same response, bigger editable grid)."""
    base = KERNEL_PRESETS[preset]
    out = np.zeros((size, size))
    o = (size - base.shape[0]) // 2
    out[o:o + base.shape[0], o:o + base.shape[1]] = base
    return out


def validate_kernel(kernel) -> np.ndarray:
    k = np.asarray(kernel, dtype=float)
    if k.ndim != 2 or k.shape[0] != k.shape[1] or k.shape[0] not in KERNEL_SIZES:
        raise CNNLabError(f"The kernel must be square with size {', '.join(map(str, KERNEL_SIZES))}; got {k.shape}.")
    if not np.all(np.isfinite(k)):
        raise CNNLabError("The kernel has an empty or non-numeric cell (NaN or infinity). Enter a number in every cell.")
    if np.abs(k).max() > MAX_KERNEL_ABS:
        raise CNNLabError(f"Kernel values must lie between -{MAX_KERNEL_ABS:g} and {MAX_KERNEL_ABS:g}.")
    return k


@dataclass(frozen=True)
class ConvSettings:
    kernel_size: int = 3
    stride: int = 1
    padding: str = "same"  # valid | same | explicit
    amount: int = 1  # used when padding == "explicit"
    border: str = "zeros"  # zeros | reflect | replicate
    dilation: int = 1
    channels: str = CHANNEL_MODES[0]

    @property
    def pad(self) -> int:
        """Pixels added on each side."""
        if self.padding == "valid":
            return 0
        if self.padding == "same":
            return self.dilation * (self.kernel_size - 1) // 2  # exact for odd kernels; keeps size at stride 1
        return self.amount

    @property
    def span(self) -> int:
        """How many input pixels one dilated kernel covers per side."""
        return self.dilation * (self.kernel_size - 1) + 1


def output_size(n: int, k: int, s: int, p: int, d: int) -> int:
    """PyTorch's Conv2d/MaxPool2d size rule: floor((n + 2p - d(k-1) - 1) / s) + 1 (may be <= 0)."""
    return math.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1


def formula_latex(n: int, st: ConvSettings, axis: str = "H") -> str:
    """The output-size formula along one axis ("H" down the rows, "W" across the columns) with this
    run's numbers filled in, for st.latex. PyTorch takes kernel, stride, padding and dilation as
    (H, W) pairs; the playground's are square, so both axes get the same numbers."""
    k, s, p, d = st.kernel_size, st.stride, st.pad, st.dilation
    out = output_size(n, k, s, p, d)
    a = axis
    return (rf"\left\lfloor \frac{{{a}_{{in}} + 2p_{a} - d_{a}(k_{a}-1) - 1}}{{s_{a}}} \right\rfloor + 1 = "
            rf"\left\lfloor \frac{{{n} + 2\cdot{p} - {d}\cdot({k}-1) - 1}}{{{s}}} \right\rfloor + 1 = {out}")


def conv2d_line(st: ConvSettings, in_channels: int) -> str:
    """The nn.Conv2d call that computes what the playground shows."""
    if st.channels == "per channel":
        c_in, c_out, extra = in_channels, in_channels, f", groups={in_channels}"
    elif st.channels == "grey":
        c_in, c_out, extra = 1, 1, ""
    else:
        c_in, c_out, extra = in_channels, 1, ""
    border = "" if st.border == "zeros" else f", padding_mode='{st.border}'"
    return (f"nn.Conv2d({c_in}, {c_out}, kernel_size={st.kernel_size}, stride={st.stride}, "
            f"padding={st.pad}, dilation={st.dilation}{extra}{border}, bias=False)")


def to_grey(rgb: np.ndarray) -> np.ndarray:
    """RGB (H, W, 3) float -> (H, W, 1) with the ITU-R 601 luma weights OpenCV and Pillow use."""
    if rgb.shape[2] == 1:
        return rgb
    return (rgb @ np.array([0.299, 0.587, 0.114], dtype=rgb.dtype))[..., None]


def convolve(image: np.ndarray, kernel: np.ndarray, st: ConvSettings) -> np.ndarray:
    """Cross-correlate an (H, W, C) float image with one k x k kernel -> (C_out, H', W').

    per channel: the kernel runs on each channel separately (C_out = C, a depthwise conv).
    summed: one kernel per input channel, results added (C_out = 1, like Conv2d(3, 1)).
    grey: the image is turned to luma first (C_out = 1).
    """
    k = validate_kernel(kernel)
    if k.shape[0] != st.kernel_size:
        raise CNNLabError(f"The kernel is {k.shape[0]}x{k.shape[0]} but the settings say {st.kernel_size}.")
    img = to_grey(image) if st.channels == "grey" else image
    h, w, c = img.shape
    out_h, out_w = (output_size(n, st.kernel_size, st.stride, st.pad, st.dilation) for n in (h, w))
    if out_h < 1 or out_w < 1:
        raise CNNLabError(
            f"The output would be empty ({out_h}x{out_w}): the dilated kernel spans {st.span} pixels but the "
            f"padded input is only {h + 2 * st.pad}x{w + 2 * st.pad}. Use a smaller kernel, dilation or stride, "
            "or more padding.")
    if st.border == "reflect" and st.pad >= min(h, w):
        raise CNNLabError(f"Reflect padding of {st.pad} needs an input larger than {st.pad} pixels per side; "
                          f"this one is {h}x{w}. Use zeros or replicate.")
    x = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32)).unsqueeze(0)
    weight = torch.from_numpy(k.astype(np.float32))
    if st.pad and st.border != "zeros":
        x = F.pad(x, (st.pad,) * 4, mode="reflect" if st.border == "reflect" else "replicate")
        padding = 0
    else:
        padding = st.pad
    if st.channels == "per channel":
        weight, groups = weight.expand(c, 1, *k.shape), c
    else:
        weight, groups = weight.expand(1, c, *k.shape), 1
    with torch.no_grad():
        out = F.conv2d(x, weight.contiguous(), stride=st.stride, padding=padding, dilation=st.dilation, groups=groups)
    return out[0].numpy()


def receptive_field(row: int, col: int, st: ConvSettings) -> tuple[np.ndarray, np.ndarray]:
    """Input row and column indices (may be negative or past the edge: padding) read by output (row, col)."""
    taps = np.arange(st.kernel_size) * st.dilation
    return row * st.stride - st.pad + taps, col * st.stride - st.pad + taps


def patch_at(image: np.ndarray, st: ConvSettings, row: int, col: int) -> np.ndarray:
    """The (k, k, C) input values the kernel multiplies for output (row, col), padding included."""
    img = to_grey(image) if st.channels == "grey" else image
    rows, cols = receptive_field(row, col, st)
    mode = {"zeros": "constant", "reflect": "reflect", "replicate": "edge"}[st.border]
    padded = np.pad(img, ((st.pad, st.pad), (st.pad, st.pad), (0, 0)), mode=mode) if st.pad else img
    return padded[np.ix_(rows + st.pad, cols + st.pad)]


def pixel_breakdown(image: np.ndarray, kernel: np.ndarray, st: ConvSettings, row: int, col: int,
                    channel: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    """(input values under the kernel, their products with it, the sum) for one output pixel.

    Per-channel mode shows that channel's values; the summed modes show the channel sum, since the
    same kernel multiplies every channel and the products add up.
    """
    patch = patch_at(image, st, row, col)
    values = patch[..., min(channel, patch.shape[2] - 1)] if st.channels == "per channel" else patch.sum(2)
    products = values * np.asarray(kernel)
    return values, products, float(products.sum())


def _matrix_latex(m: np.ndarray, fmt) -> str:
    rows = (" & ".join(fmt(v) for v in row) for row in m)
    return r"\begin{bmatrix}" + r" \\ ".join(rows) + r"\end{bmatrix}"


def breakdown_latex(values: np.ndarray, kernel: np.ndarray, products: np.ndarray, total: float) -> str:
    """pixel_breakdown as one formula: input values (x) kernel = products, summed. One st.latex, where
    three tables cost the live view an Arrow conversion and a data grid each. The kernel keeps up to 4
    decimals (a Gaussian's 0.0625); kernels larger than 3x3 show the rest to 2 decimals and put the
    products on a second line, so the three matrices fit a page's width."""
    digits = 2 if len(kernel) > 3 else 3
    fixed = lambda v: f"{round(v, digits) + 0.0:.{digits}f}"  # noqa: E731  (+ 0.0: a rounded -0.0001 reads 0)
    lhs = _matrix_latex(values, fixed) + r" \odot " + _matrix_latex(kernel, lambda v: f"{round(v, 4) + 0.0:g}")
    rhs = _matrix_latex(products, fixed) + rf" \;\xrightarrow{{\;\sum\;}}\; {total:.4f}"
    if len(kernel) > 3:
        return r"\begin{aligned} & " + lhs + r" \\ = \; & " + rhs + r"\end{aligned}"
    return lhs + " = " + rhs


def pool(fmap: np.ndarray, kind: str, window: int = 2, stride: int = 2) -> np.ndarray:
    """Pool a (C, H, W) map: max, average, or global average (-> (C, 1, 1))."""
    x = torch.from_numpy(np.ascontiguousarray(fmap, dtype=np.float32)).unsqueeze(0)
    if kind == "global average":
        return F.adaptive_avg_pool2d(x, 1)[0].numpy()
    if min(fmap.shape[1:]) < window:
        raise CNNLabError(f"The map is {fmap.shape[1]}x{fmap.shape[2]}, smaller than the {window}x{window} window.")
    fn = F.max_pool2d if kind == "max" else F.avg_pool2d
    return fn(x, window, stride)[0].numpy()


@dataclass(frozen=True)
class Step:
    row: int
    col: int
    patch: np.ndarray
    products: np.ndarray
    total: float


def worked_steps(x: np.ndarray = SEED_INPUT, k: np.ndarray = SEED_KERNEL) -> list[Step]:
    """Every window position of a stride-1, unpadded cross-correlation, in reading order."""
    n = k.shape[0]
    steps = []
    for i in range(x.shape[0] - n + 1):
        for j in range(x.shape[1] - n + 1):
            patch = x[i:i + n, j:j + n]
            products = patch * k
            steps.append(Step(i, j, patch, products, float(products.sum())))
    return steps


def step_result(steps: list[Step], upto: int, shape: tuple[int, int]) -> np.ndarray:
    """The output grid after the first upto + 1 steps; cells not reached yet are NaN."""
    out = np.full(shape, np.nan)
    for s in steps[:upto + 1]:
        out[s.row, s.col] = s.total
    return out
