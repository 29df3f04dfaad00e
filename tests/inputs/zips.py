"""ImageFolder zips for the Training Monitor's upload tests: good ones and hostile ones."""
from __future__ import annotations

import io
import zipfile

import numpy as np
from PIL import Image


def png(color, size=(20, 20), mode="RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, color).save(buf, format="PNG")
    return buf.getvalue()


def jpeg(color, size=(31, 17)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="JPEG")
    return buf.getvalue()


def make_zip(entries: dict[str, bytes | None]) -> bytes:
    """name -> content (None = a directory entry)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            if data is None:
                z.writestr(zipfile.ZipInfo(name if name.endswith("/") else name + "/"), b"")
            else:
                z.writestr(name, data)
    return buf.getvalue()


def two_class_zip(per_class: int = 6, root: str = "") -> bytes:
    """Red squares vs blue squares, as PNG and JPEG of mixed sizes and modes."""
    entries = {}
    for i in range(per_class):
        entries[f"{root}red/{i}.png"] = png((200 + i, 20, 20), (16 + i, 20)) if i % 2 else jpeg((210, 30, 30))
        entries[f"{root}blue/{i}.png"] = png((20, 20, 200 + i, 255), (24, 24 + i), "RGBA") if i % 2 else \
            png(60 + i, (18, 18), "L")
    return make_zip(entries)


def random_noise_png(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


SLIP = make_zip({"red/1.png": png((255, 0, 0)), "../evil.png": png((0, 0, 0)), "blue/1.png": png((0, 0, 255))})
ABSOLUTE = make_zip({"red/1.png": png((255, 0, 0)), "/etc/evil.png": png((0, 0, 0)), "blue/1.png": png((0, 0, 255))})
ONE_CLASS = make_zip({"cats/1.png": png((255, 0, 0)), "cats/2.png": png((250, 0, 0))})
NON_IMAGES = make_zip({"a/readme.txt": b"hello", "b/data.csv": b"1,2,3", "b/fake.png": b"not a png"})
EMPTY_CLASS = make_zip({**{f"red/{i}.png": png((250, 0, i)) for i in range(3)},
                        **{f"blue/{i}.png": png((0, i, 250)) for i in range(3)}, "green/": None})
NOT_A_ZIP = b"PK\x03\x04 this is not really a zip" + bytes(100)
# A class with a single image (a 1x1 pixel at that) next to a normal one; one and two images per class.
ONE_IMAGE_CLASS = make_zip({"red/only.png": png((250, 10, 10), (1, 1)),
                            **{f"blue/{i}.png": png((10, 10, 200 + i), (3 + i, 40)) for i in range(6)}})
ONE_IMAGE_EACH = make_zip({"red/only.png": png((250, 10, 10)), "blue/only.png": png((10, 10, 250))})
TWO_IMAGES_EACH = make_zip({f"{name}/{i}.png": png(colour) for name, colour in (("red", (250, 10, 10)),
                                                                              ("blue", (10, 10, 250))) for i in range(2)})
