"""Multi-object shape scenes with exact per-pixel labels, and natural-looking images with no shape.

What the shipped shape models learn from, and what the lessons are scored on:
- ``draw_scene``: several shapes anywhere on a textured (or natural-looking) background, each of a
  random size, angle and colour, never touching each other, so every pixel's class is known;
- ``natural_image``: procedural photo-like pictures (clouds, landscapes, blurred blobs, star
  fields, pebbles, branches, lit surfaces, in colour or grey) that hold none of the classes: the
  "none of my classes" examples. They are made here on purpose: real photos are kept for testing.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from core.data import SHAPE_CLASSES, paint_shape, shape_mask_at, textured_background

BACKGROUND = -1  # label of pixels with no shape
SIZES = (6, 45)  # object diameters in px at a 64 px canvas; scaled with the canvas
CONTRAST = 120  # least RGB distance between a shape's colour and the background under it
DISTRACTORS = ("ellipse", "ring", "blob")  # flat outlines near the classes' that are none of them


@dataclass
class Scene:
    image: np.ndarray  # (H, W, 3) uint8
    labels: np.ndarray  # (H, W) int64: class index per pixel, BACKGROUND where no shape is
    objects: list[tuple[int, int, int, int]]  # (class, centre y, centre x, diameter) of every shape
    classes: tuple[str, ...] = SHAPE_CLASSES

    def present(self) -> np.ndarray:
        """(classes,) bool: which classes appear at least once."""
        found = np.zeros(len(self.classes), bool)
        for k, *_ in self.objects:
            found[k] = True
        return found

    def mask(self, k: int) -> np.ndarray:
        """(H, W) bool: every pixel of class k."""
        return self.labels == k


def draw_scene(rng: np.random.Generator, size: int | tuple[int, int] = 64, *, count: tuple[int, int] = (1, 5),
               classes: tuple[str, ...] = SHAPE_CLASSES, natural: float = 0.25,
               sizes: tuple[int, int] = SIZES, need: tuple[int, ...] = (), scale: float | None = None,
               distractors: tuple[int, int] = (0, 0)) -> Scene:
    """A scene (size x size, or size = (height, width)) holding ``count`` shapes (inclusive range;
    0 gives an empty scene).

    Diameters are drawn uniformly from ``sizes``: px at a 64 px side, scaled to the shorter side
    (or by ``scale``: 1 keeps them in px whatever the canvas, a bigger canvas then holds more). Shapes keep a 2 px gap, so none hides another; a shape that
    finds no room after a few tries is left out. ``natural``: the share of scenes drawn over a
    natural-looking picture instead of a textured one. ``need``: class indices that must appear
    (first), the rest are drawn at random. ``distractors``: how many other flat objects (ellipses,
    rings, blobs: outlines near the classes' but none of them) to add, labelled background.
    """
    h, w = (size, size) if isinstance(size, int) else size
    side = max(h, w)
    if rng.random() < natural:  # natural pictures are smooth: drawn at up to 128 px and enlarged
        image = cv2.resize(natural_image(min(side, 128), rng), (side, side)).astype(np.float32)[:h, :w].copy()
    else:
        image = textured_background(side, rng)[:h, :w].copy()
    labels = np.full((h, w), BACKGROUND, np.int64)
    taken = np.zeros((h, w), np.uint8)
    n = int(rng.integers(count[0], count[1] + 1))
    kinds = list(need) + [int(rng.integers(len(classes))) for _ in range(max(0, n - len(need)))]
    scale = min(h, w) / 64 if scale is None else scale
    objects = []
    extra = int(rng.integers(distractors[0], distractors[1] + 1))
    for kind in kinds + [None] * extra:
        for _ in range(12):
            # distractors start at 10 px: a tiny ellipse or ring is hard to tell from a tiny circle
            d = rng.uniform(sizes[0] if kind is not None else max(sizes[0], 10), sizes[1]) * scale
            r = d / 2
            cx, cy = rng.uniform(r, w - r), rng.uniform(r, h - r)
            if kind is None:
                other = DISTRACTORS[int(rng.integers(len(DISTRACTORS)))]
                mask = _thing_mask(other, max(h, w), cx, cy, d, rng)[:h, :w] > 0.5
            else:
                mask = shape_mask_at(classes[kind], (h, w), cx, cy, r, rng.uniform(0, 2 * np.pi))
            if mask.any() and not (taken.astype(bool) & mask).any():
                break
        else:
            continue
        paint_shape(image, mask, rng, CONTRAST)
        taken |= cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8))
        if kind is not None:
            labels[mask] = kind
            objects.append((kind, int(round(cy)), int(round(cx)), int(round(d))))
    image += rng.normal(0, rng.uniform(2, 8), image.shape)
    return Scene(np.clip(image, 0, 255).astype(np.uint8), labels, objects, classes)


def make_scenes(n: int, *, size: int = 64, seed: int = 0, **kwargs) -> list[Scene]:
    """n scenes, deterministic by seed (see draw_scene for the options)."""
    rng = np.random.default_rng(seed)
    return [draw_scene(rng, size, **kwargs) for _ in range(n)]


# What the shipped shape models see: ShapesNet the scenes too; SimpleCNN, with no global pooling and
# 32 px input, one shape per image or none.
MIX = {"single": 0.25, "scene": 0.35, "empty": 0.10, "natural": 0.30}
SINGLE_MIX = {"single": 0.65, "empty": 0.10, "natural": 0.25}


MIX_CHUNK = 500  # images per independently seeded chunk, so chunks can be drawn in parallel


def training_mix(n: int, *, seed: int, size: int = 64, mix: dict[str, float] = MIX,
                 workers: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The shipped shape models' data: n images (N, size, size, 3) uint8, multi-hot targets
    (N, classes) float32 and per-pixel labels (N, size, size) int8 (class, or BACKGROUND). A mix of one big shape per image (core.data.make_shapes), scenes of 1-5
    shapes, empty textured backgrounds and natural-looking pictures (no class at all); scenes and
    empty backgrounds may also hold up to two flat distractors (ellipses, rings, blobs).

    Drawn in chunks seeded (seed, chunk index), so the result is the same for any ``workers``
    (processes drawing chunks side by side)."""
    jobs = [(seed, i, min(MIX_CHUNK, n - start), size, tuple(mix.items())) for i, start in enumerate(range(0, n, MIX_CHUNK))]
    if workers > 1 and len(jobs) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            parts = list(pool.map(_mix_chunk, jobs))
    else:
        parts = [_mix_chunk(job) for job in jobs]
    if not parts:
        return (np.empty((0, size, size, 3), np.uint8), np.empty((0, len(SHAPE_CLASSES)), np.float32),
                np.empty((0, size, size), np.int8))
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))


def _mix_chunk(job) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from core.data import make_shapes

    seed, index, n, size, mix = job
    mix = dict(mix)
    rng = np.random.default_rng([seed, index])
    kinds = rng.choice(len(mix), n, p=list(mix.values()))
    names = list(mix)
    single = make_shapes(int(np.sum(kinds == names.index("single"))), size=size, seed=int(rng.integers(2**31)))
    images = np.empty((n, size, size, 3), np.uint8)
    targets = np.zeros((n, len(SHAPE_CLASSES)), np.float32)
    labels = np.full((n, size, size), BACKGROUND, np.int8)
    j = 0
    for i, kind in enumerate(kinds):
        name = names[kind]
        if name == "single":
            images[i], targets[i, single.labels[j]] = single.images[j], 1.0
            labels[i][single.masks[j]] = single.labels[j]
            j += 1
        elif name == "natural":
            images[i] = natural_image(size, rng)
        else:
            # Half the scenes are drawn 2 or 4 times larger and shrunk, as a photo or the pages'
            # 256 px scenes are for the model: soft, anti-aliased edges as well as hard ones.
            factor = int(rng.choice([1, 2, 4], p=[0.5, 0.3, 0.2]))
            scene = draw_scene(rng, size * factor, count=(1, 5) if name == "scene" else (0, 0),
                               natural=0.25 if name == "scene" else 0.0, distractors=(0, 2))
            small = (lambda a, how: a if factor == 1 else cv2.resize(a, (size, size), interpolation=how))
            images[i], targets[i] = small(scene.image, cv2.INTER_AREA), scene.present()
            labels[i] = small(scene.labels.astype(np.int16), cv2.INTER_NEAREST)
    return images, targets, labels


def lesson_scene(size: int = 256, seed: int = 0) -> Scene:
    """The pages' default scene: all five classes once, well apart, on a textured background, at
    picker size. Diameters are 13-24 px at 64 px (what the model sees), big enough to see at a
    glance and small enough for five to fit; seeds whose five do not all fit move on to the next."""
    for attempt in range(100):
        rng = np.random.default_rng([seed, attempt])
        scene = draw_scene(rng, size, count=(5, 5), natural=0.0, sizes=(13, 24),
                           need=tuple(int(k) for k in rng.permutation(len(SHAPE_CLASSES))))
        if scene.present().all():
            return scene
    raise RuntimeError("no lesson scene fits")  # unreachable: most attempts fit


# ---------------------------------------------------------------- natural-looking pictures
def _smooth_noise(size: int, rng: np.random.Generator, cells: int, channels: int = 1) -> np.ndarray:
    """Noise on a coarse grid, enlarged smoothly: float32 (size, size, channels), about N(0, 1)."""
    coarse = rng.normal(0, 1, (cells + 1, cells + 1, channels)).astype(np.float32)
    out = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    return out.reshape(size, size, channels)


def _fractal(size: int, rng: np.random.Generator, channels: int = 1) -> np.ndarray:
    """1/f-like noise (octaves of smooth noise, each half as strong), normalised to [0, 1]."""
    total = np.zeros((size, size, channels), np.float32)
    for octave in range(5):
        total += _smooth_noise(size, rng, 2 ** (octave + 1), channels) / 2 ** octave
    total -= total.min()
    return total / max(float(total.max()), 1e-6)


def _palette(rng: np.random.Generator, k: int) -> np.ndarray:
    """k related colours (a random base hue, nearby hues), RGB float 0-255."""
    hsv = np.zeros((1, k, 3), np.uint8)
    hsv[0, :, 0] = (rng.integers(180) + rng.integers(-20, 21, k)) % 180
    hsv[0, :, 1] = rng.integers(20, 200, k)
    hsv[0, :, 2] = rng.integers(40, 250, k)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0].astype(np.float32)


def _clouds(size, rng):
    t = _fractal(size, rng)
    a, b = _palette(rng, 2)
    return a * (1 - t) + b * t


def _landscape(size, rng):
    yy = np.linspace(0, 1, size, dtype=np.float32)[:, None, None]
    sky_top, sky_low, ground = _palette(rng, 3)
    horizon = rng.uniform(0.3, 0.7) + 0.08 * _smooth_noise(size, rng, 4)[0, :, 0]
    sky = sky_top * (1 - yy) + sky_low * yy
    soil = ground * (0.6 + 0.6 * _fractal(size, rng))
    below = (np.arange(size)[:, None] / size > horizon[None, :])[..., None]
    return np.where(below, soil, sky)


def _bokeh(size, rng):
    img = np.broadcast_to(_palette(rng, 1)[0], (size, size, 3)).astype(np.float32).copy()
    for _ in range(int(rng.integers(4, 14))):
        layer = np.zeros((size, size), np.float32)
        centre = tuple(int(v) for v in rng.integers(0, size, 2))
        axes = tuple(int(v) for v in rng.integers(size // 16 + 1, size // 3, 2))
        cv2.ellipse(layer, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
        layer = cv2.GaussianBlur(layer, (0, 0), rng.uniform(size / 30, size / 8))[..., None]
        img = img * (1 - 0.7 * layer) + _palette(rng, 1)[0] * 0.7 * layer
    return img


def _stars(size, rng):
    img = np.zeros((size, size), np.float32)
    for _ in range(int(rng.integers(20, 200))):
        y, x = rng.uniform(0, size, 2)
        img[int(y), int(x)] += rng.uniform(0.2, 1.0) * 255
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 1.5)) * rng.uniform(1, 4)
    haze = _fractal(size, rng)[..., 0] * rng.uniform(0, 60)
    tint = _palette(rng, 1)[0] / 255
    return (img + haze)[..., None] * (0.5 + tint)


def _pebbles(size, rng):
    """Voronoi cells, each shaded like a lit stone, with dark gaps: pebbles, cells, tiles."""
    n = int(rng.integers(8, 60))
    seeds = rng.uniform(0, size, (n, 2))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    d = np.sqrt((yy[..., None] - seeds[:, 0]) ** 2 + (xx[..., None] - seeds[:, 1]) ** 2)
    order = np.sort(d, -1)
    cell = d.argmin(-1)
    edge = np.clip((order[..., 1] - order[..., 0]) / rng.uniform(1, 4), 0, 1)
    colours = _palette(rng, n)[cell] * (0.7 + 0.3 * _fractal(size, rng))
    light = 1 - np.clip(order[..., 0] / (size / np.sqrt(n)), 0, 1) * rng.uniform(0.2, 0.7)
    return colours * (edge * light)[..., None]


def _branches(size, rng):
    img = _clouds(size, rng)
    colour = _palette(rng, 1)[0]
    for _ in range(int(rng.integers(3, 12))):
        pts = np.cumsum(rng.normal(0, size / 10, (6, 2)), 0) + rng.uniform(0, size, 2)
        cv2.polylines(img, [pts.astype(np.int32)], False, tuple(float(c) for c in colour),
                      int(rng.integers(1, 4)), cv2.LINE_AA)
    return cv2.GaussianBlur(img, (0, 0), 0.7)


def _lit_surface(size, rng):
    """Smooth irregular regions (thresholded noise) with a light gradient and fine texture."""
    t = _smooth_noise(size, rng, int(rng.integers(2, 6)))[..., 0] > rng.uniform(-0.5, 0.5)
    a, b = _palette(rng, 2)
    img = np.where(t[..., None], a, b)
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.8, 3))
    yy, xx = np.mgrid[0:size, 0:size] / size
    angle = rng.uniform(0, 2 * np.pi)
    light = 0.6 + 0.5 * (np.cos(angle) * xx + np.sin(angle) * yy)
    return img * light[..., None] + 25 * (_fractal(size, rng) - 0.5)


def _thing_mask(kind: str, size: int, cx: float, cy: float, d: float, rng: np.random.Generator) -> np.ndarray:
    """A float32 (size, size) mask of one object outline: a class shape, an ellipse, a ring or a blob."""
    from core.data import shape_mask_at

    if kind in ("ellipse", "ring", "blob"):
        mask = np.zeros((size, size), np.float32)
        axes = (max(1, int(d / 2)), max(1, int(d / 2 * (rng.uniform(0.35, 0.7) if kind == "ellipse" else 1))))
        cv2.ellipse(mask, (int(cx), int(cy)), axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
        if kind == "ring":
            cv2.circle(mask, (int(cx), int(cy)), int(d / 2 * rng.uniform(0.45, 0.85)), 0.0, -1)
        if kind == "blob":
            mask *= _smooth_noise(size, rng, 6)[..., 0] > -0.3
        return mask
    return shape_mask_at(kind, (size, size), cx, cy, d / 2, rng.uniform(0, 2 * np.pi)).astype(np.float32)


THING_KINDS = ("circle", "circle", "ring", "ring", "ellipse", "ellipse", "blob", "blob",
               "square", "triangle", "star", "cross")


def _dead_leaves(size, rng):
    """The dead-leaves model of natural images (Matheron; Lee, Mumford and Huang 2001): many patches of
    every size, each falling over the ones before. Its statistics (occlusion, sizes spread over
    scales) are close to those of photos. The leaves are ellipses, never the classes' shapes."""
    img = np.broadcast_to(_palette(rng, 1)[0], (size, size, 3)).astype(np.float32).copy()
    palette = _palette(rng, 6)
    for _ in range(int(rng.integers(60, 250))):
        r = size * 0.02 / max(rng.random(), 0.02) ** 0.6  # many small, few big (a power law)
        centre = tuple(int(v) for v in rng.uniform(0, size, 2))
        axes = (max(1, int(min(r, size))), max(1, int(min(r, size) * rng.uniform(0.3, 0.8))))
        colour = tuple(float(c) for c in palette[int(rng.integers(6))] + rng.normal(0, 12, 3))
        cv2.ellipse(img, centre, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1)
    return cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 1.2)) + 10 * (_fractal(size, rng) - 0.5)


def _collection(size, rng):
    """Many alike round things in rows: coins on a table, buttons, pills, cells, oranges in a crate."""
    return _things(size, rng, layout=2)


def _things(size, rng, layout: int | None = None):
    """Photo-like objects: cups, coins, wheels, fruit, badges, tiles. Their outlines may be the classes'
    own, but they are shaded, textured, nested (a rim round a different centre) or detailed inside,
    with soft or hard edges, tiny or filling the frame. The classes are shapes drawn flat in one
    colour, so the model must learn that an outline alone does not make one."""
    img = NATURAL_STYLES[int(rng.integers(3))](size, rng).astype(np.float32)  # clouds, landscape or bokeh
    texture = _fractal(size, rng) - 0.5  # one texture, shifted for each object (a fresh one each is slow)
    # and one fine grain (engraving, weave, skin, rust): a real object's surface varies from pixel to
    # pixel about three times as much as the classes' flat fill does (local std ~17 vs ~5 at 64 px)
    grain_fine = cv2.GaussianBlur(rng.normal(0, 1, (size, size)).astype(np.float32), (0, 0), 0.7)[..., None] * 2.2
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    # a few big things, many scattered small ones, or a collection in rows
    layout = int(rng.integers(3)) if layout is None else layout
    if layout == 2:  # coins on a table, buttons, tiles, a flag's stars: many alike, in jittered rows
        n_side = int(rng.integers(3, 8))
        step = size / n_side
        d_all = step * rng.uniform(0.5, 0.85)
        kind_all = ("circle", "circle", "circle", "ring", "ellipse", "square", "star", "cross",
                    "triangle")[int(rng.integers(9))]
        colour_all = _palette(rng, 1)[0]
        places = [((i + 0.5) * step + rng.normal(0, step * 0.08), (j + 0.5) * step + rng.normal(0, step * 0.08))
                  for i in range(n_side) for j in range(n_side)]
    else:
        count = int(rng.integers(8, 30)) if layout == 1 else int(rng.integers(1, 4))
        places = [tuple(rng.uniform(0, size, 2)) for _ in range(count)]
    for cx, cy in places:
        if layout == 2:
            d, kind = d_all * rng.uniform(0.85, 1.15), kind_all
        else:
            d = rng.uniform(0.05, 0.2) * size if layout == 1 else rng.uniform(0.2, 1.0) * size
            kind = THING_KINDS[int(rng.integers(len(THING_KINDS)))]
        mask = _thing_mask(kind, size, cx, cy, d, rng)
        # Everything below works on the object's own box (with room for its soft edge), not the frame.
        pad = int(d / 2) + 6
        y0, y1, x0, x1 = max(0, int(cy) - pad), min(size, int(cy) + pad), max(0, int(cx) - pad), min(size, int(cx) + pad)
        if y0 >= y1 or x0 >= x1:
            continue
        box = (slice(y0, y1), slice(x0, x1))
        mask = mask[box]
        # An outline of a class never comes plain (soft-edged, and nested, detailed or rimmed), except
        # in a collection: many alike in rows are no scene of the classes, whatever each one looks like.
        drawn_like_a_class = kind in ("circle", "square", "triangle", "star", "cross") and layout != 2
        alpha = cv2.GaussianBlur(mask, (0, 0), rng.uniform(1.0 if drawn_like_a_class else 0.4, 2.5))[..., None]
        # Light falls across the object (a gradient of +/-45 grey levels) over a visible texture.
        angle = rng.uniform(0, 2 * np.pi)
        shade = np.clip(((xx[box] - cx) * np.cos(angle) + (yy[box] - cy) * np.sin(angle)) / max(d, 1), -0.5, 0.5) * 90
        shift = tuple(int(v) for v in rng.integers(0, size, 2))
        colour = colour_all + rng.normal(0, 12, 3) if layout == 2 else _palette(rng, 1)[0]
        grain = rng.uniform(5, 30) if layout == 2 else rng.uniform(25, 70)
        fill = colour + shade[..., None] * (0.3 if layout == 2 else 1) + grain * np.roll(texture, shift, (0, 1))[box]
        if layout != 2 or rng.random() < 0.6:  # a collection may also be plain: a flag's stars, tiles
            fill = fill + rng.uniform(25, 70) * np.roll(grain_fine, shift, (0, 1))[box]
        structure = rng.integers(3 if drawn_like_a_class else 4)
        if structure == 0:  # nested: a centre of another colour (a cup of coffee, an iris, a target)
            inner = _thing_mask("circle" if kind == "ring" else kind, size, cx, cy, d * rng.uniform(0.4, 0.8), rng)[box]
            fill = fill * (1 - inner[..., None]) + (_palette(rng, 1)[0] + shade[..., None] * 0.5) * inner[..., None]
        elif structure == 1:  # detail inside: spots and strokes (an engraving, a label, veins)
            detail = np.zeros((size, size), np.float32)
            for _ in range(int(rng.integers(3, 12))):
                p, q = rng.uniform(cx - d / 2, cx + d / 2, 2), rng.uniform(cy - d / 2, cy + d / 2, 2)
                cv2.line(detail, (int(p[0]), int(q[0])), (int(p[1]), int(q[1])), 1.0, int(rng.integers(1, 3)))
            fill = fill - detail[box][..., None] * rng.uniform(40, 100)
        elif structure == 2:  # a rim: darker edge, lighter middle (a coin, a ball, a plate)
            rim = cv2.GaussianBlur(cv2.erode(mask, np.ones((3, 3), np.uint8), iterations=int(rng.integers(1, 4))),
                                   (0, 0), 1.0)
            fill = fill * (0.55 + 0.45 * rim[..., None])
        img[box] = img[box] * (1 - alpha) + fill * alpha
    return img


NATURAL_STYLES = (_clouds, _landscape, _bokeh, _stars, _pebbles, _branches, _lit_surface, _things, _things,
                  _collection, _collection, _dead_leaves, _dead_leaves)


def natural_image(size: int, rng: np.random.Generator) -> np.ndarray:
    """A natural-looking picture with no shape class in it: uint8 (size, size, 3). Drawn at twice the
    size and shrunk (as a photo is for the model), sometimes grey, blurred or vignetted."""
    big = NATURAL_STYLES[int(rng.integers(len(NATURAL_STYLES)))](2 * size, rng)
    img = cv2.resize(np.clip(big, 0, 255).astype(np.float32), (size, size), interpolation=cv2.INTER_AREA)
    if rng.random() < 0.3:  # a grey photo
        img = np.repeat(img.mean(-1, keepdims=True), 3, -1)
    if rng.random() < 0.3:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 1.5))
    if rng.random() < 0.3:
        yy, xx = np.mgrid[0:size, 0:size] / size - 0.5
        img = img * (1 - rng.uniform(0.2, 0.8) * (xx ** 2 + yy ** 2))[..., None]
    img = img + rng.normal(0, rng.uniform(0, 6), img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)
