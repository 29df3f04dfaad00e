"""An uploaded ImageFolder zip (one folder per class) -> ImageDataset, read safely in memory.

Nothing is written to disk, and every entry is checked before it is read: names that would
escape a folder (``../``, absolute paths, drive letters) refuse the whole zip, and the entry
count, the declared uncompressed total and each image's pixels are capped. A lying header
cannot get past the caps: zipfile stops reading an entry at its declared size.
"""
from __future__ import annotations

import io
import zipfile
import zlib
from collections import Counter
from pathlib import PurePosixPath

import numpy as np

from core.data import ImageDataset
from core.errors import CNNLabError
from core.images import ACCEPTED_EXTENSIONS, decode_image, resize_to

MAX_ZIP_BYTES = 100 * 2**20
MAX_ENTRIES = 5000
MAX_TOTAL_BYTES = 400 * 2**20  # declared uncompressed size of all entries together
MAX_IMAGE_PIXELS = 25_000_000
MAX_CLASSES = 100
ACCEPTED_ZIP = (f"Accepted: a .zip up to {MAX_ZIP_BYTES // 2**20} MB with one folder per class (e.g. "
                f"`cats/1.jpg`, `dogs/2.png`), at most {MAX_ENTRIES} files and {MAX_TOTAL_BYTES // 2**20} MB "
                f"unpacked; images in {', '.join(ACCEPTED_EXTENSIONS)}.")
_SKIPPED_PARTS = {"__MACOSX", ".DS_Store", "Thumbs.db"}


def _unsafe(name: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    return path.is_absolute() or ".." in path.parts or (len(name) > 1 and name[1] == ":")


def _hidden(parts: tuple[str, ...]) -> bool:
    """Operating-system clutter (macOS resource forks, .DS_Store, dot files)."""
    return any(p in _SKIPPED_PARTS or p.startswith(".") for p in parts)


def _common_root(names: list[str]) -> tuple[str, ...]:
    """Zipping a folder adds one top-level folder above the class folders: look through it."""
    split = [PurePosixPath(n).parts for n in names if not _hidden(PurePosixPath(n).parts)]
    files = [p for p in split if len(p) >= 3]
    tops = {p[0] for p in split}
    return (files[0][0],) if files and len(tops) == 1 else ()


def read_imagefolder_zip(data: bytes, name: str = "upload.zip", size: int = 64) -> tuple[ImageDataset, list[str]]:
    """The zip's images resized to size x size RGB, labelled by folder; and notes for the user."""
    if len(data) > MAX_ZIP_BYTES:
        raise CNNLabError(f"The zip is {len(data) / 2**20:.0f} MB, over the limit. {ACCEPTED_ZIP}")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise CNNLabError(f"**{name}** is not a readable zip file. {ACCEPTED_ZIP}") from None
    if len(infos) > MAX_ENTRIES:
        raise CNNLabError(f"The zip holds {len(infos)} entries; the limit is {MAX_ENTRIES}. {ACCEPTED_ZIP}")
    escaping = [i.filename for i in infos if _unsafe(i.filename)]
    if escaping:
        raise CNNLabError(f"The zip was refused: the entry `{escaping[0][:80]}` points outside its folder "
                          f"(`..` or an absolute path). {ACCEPTED_ZIP}")
    total = sum(i.file_size for i in infos)
    if total > MAX_TOTAL_BYTES:
        raise CNNLabError(f"The zip unpacks to {total / 2**20:.0f} MB; the limit is {MAX_TOTAL_BYTES // 2**20} MB. "
                          f"{ACCEPTED_ZIP}")
    root = _common_root([i.filename for i in infos])
    folders: set[str] = set()
    images: list[np.ndarray] = []
    labels: list[str] = []
    skipped: Counter = Counter()
    for info in infos:
        parts = PurePosixPath(info.filename).parts[len(root):]
        if not parts or _hidden(parts):
            continue
        if info.is_dir() or len(parts) > 1:
            folders.add(parts[0])
        if info.is_dir():
            continue
        if len(parts) != 2:
            skipped["not directly inside a class folder"] += 1
            continue
        folder, file = parts
        if PurePosixPath(file).suffix.lower().lstrip(".") not in ACCEPTED_EXTENSIONS:
            skipped["not an image file"] += 1
            continue
        try:
            decoded = decode_image(archive.read(info), max_side=4 * size, max_pixels=MAX_IMAGE_PIXELS)
        except CNNLabError:
            skipped["unreadable or too large image"] += 1
            continue
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError, RuntimeError):
            # RuntimeError: an encrypted entry; NotImplementedError: an unsupported compression method
            skipped["damaged, encrypted or unsupported zip entry"] += 1
            continue
        images.append(resize_to(decoded.pixels, (size, size)))
        labels.append(folder)
    notes = [f"Skipped {n} file(s): {why}." for why, n in skipped.items()]
    counts = Counter(labels)
    empty = sorted(folders - set(counts))
    if empty:
        notes.append(f"Left out {len(empty)} class folder(s) with no usable images: {', '.join(empty[:10])}.")
    if not images:
        raise CNNLabError(f"No usable images were found in **{name}**. {ACCEPTED_ZIP}")
    if len(counts) < 2:
        raise CNNLabError(f"Only one class folder ({next(iter(counts))!r}) has images; a classifier needs at "
                          f"least two. {ACCEPTED_ZIP}")
    if len(counts) > MAX_CLASSES:
        raise CNNLabError(f"The zip has {len(counts)} class folders; the limit is {MAX_CLASSES}. {ACCEPTED_ZIP}")
    classes = tuple(sorted(counts))
    index = {c: i for i, c in enumerate(classes)}
    dataset = ImageDataset(np.stack(images), np.array([index[c] for c in labels], np.int64), classes,
                           f"Uploaded {name}")
    return dataset, notes
