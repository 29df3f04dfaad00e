"""Uploaded ImageFolder zips: what is read, and what is refused with a message."""
import zipfile

import numpy as np
import pytest

from core import imagefolder
from core.errors import CNNLabError
from core.imagefolder import read_imagefolder_zip
from tests.inputs import zips


def test_reads_classes_from_folders_with_mixed_sizes_and_modes():
    ds, notes = read_imagefolder_zip(zips.two_class_zip(), size=32)
    assert ds.class_names == ("blue", "red")
    assert ds.images.shape == (12, 32, 32, 3) and ds.images.dtype == np.uint8
    assert np.bincount(ds.labels).tolist() == [6, 6]
    red = ds.images[ds.labels == 1].reshape(-1, 3).mean(0)
    assert red[0] > 150 and red[2] < 80  # the red folder's pixels are red
    assert notes == []


def test_looks_through_one_top_level_folder():
    ds, _ = read_imagefolder_zip(zips.two_class_zip(root="my_data/"))
    assert ds.class_names == ("blue", "red") and len(ds) == 12


def test_skips_clutter_and_notes_stray_files():
    data = zips.make_zip({"__MACOSX/red/._1.png": b"junk", "red/.DS_Store": b"x", "notes.txt": b"hi",
                          **{f"red/{i}.png": zips.png((250, 0, 0)) for i in range(2)},
                          **{f"blue/{i}.png": zips.png((0, 0, 250)) for i in range(2)}})
    ds, notes = read_imagefolder_zip(data)
    assert len(ds) == 4
    assert notes == ["Skipped 1 file(s): not directly inside a class folder."]


@pytest.mark.parametrize("data,message", [
    (zips.SLIP, "`../evil.png` points outside its folder"),
    (zips.ABSOLUTE, "`/etc/evil.png` points outside its folder"),
    (zips.ONE_CLASS, "Only one class folder ('cats') has images"),
    (zips.NON_IMAGES, "No usable images were found"),
    (zips.NOT_A_ZIP, "is not a readable zip file"),
    (b"", "is not a readable zip file"),
])
def test_refuses_bad_zips_with_a_message(data, message):
    with pytest.raises(CNNLabError, match="Accepted: a .zip") as err:
        read_imagefolder_zip(data, "upload.zip")
    assert message in str(err.value)


def test_empty_class_folder_is_left_out_with_a_note():
    ds, notes = read_imagefolder_zip(zips.EMPTY_CLASS)
    assert ds.class_names == ("blue", "red")
    assert "Left out 1 class folder(s) with no usable images: green." in notes


def test_too_many_entries_refused(monkeypatch):
    monkeypatch.setattr(imagefolder, "MAX_ENTRIES", 10)
    with pytest.raises(CNNLabError, match="holds 12 entries; the limit is 10"):
        read_imagefolder_zip(zips.two_class_zip())


def test_zip_bomb_refused_from_the_declared_size(monkeypatch):
    monkeypatch.setattr(imagefolder, "MAX_TOTAL_BYTES", 1 << 20)
    bomb = zips.make_zip({"a/zeros.png": bytes(8 << 20), "b/1.png": zips.png((0, 0, 0))})
    assert len(bomb) < 100_000  # 8 MB of zeros deflate to a few KB
    with pytest.raises(CNNLabError, match="unpacks to 8 MB; the limit is 1 MB"):
        read_imagefolder_zip(bomb)


def test_damaged_entries_are_skipped_not_fatal():
    good = zips.two_class_zip()
    broken = bytearray(good)
    # Corrupt the first entry's compressed bytes (after its 30-byte local header and name).
    with zipfile.ZipFile(__import__("io").BytesIO(good)) as z:
        first = z.infolist()[0]
    start = first.header_offset + 30 + len(first.filename)
    broken[start:start + 8] = b"\xff" * 8
    ds, notes = read_imagefolder_zip(bytes(broken))
    assert len(ds) == 11 and any("Skipped 1 file(s)" in n for n in notes)
