import gzip
import struct

import numpy as np
import pytest

from core.data import EXTRA_SHAPES, SHAPE_CLASSES, load_digits, load_torchvision_dataset, make_shapes
from core.errors import CNNLabError


def test_shapes_are_deterministic_by_seed():
    a, b, c = make_shapes(20, seed=3), make_shapes(20, seed=3), make_shapes(20, seed=4)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.masks, b.masks)
    assert not np.array_equal(a.images, c.images)


def test_shapes_have_balanced_labels_and_matching_masks():
    ds = make_shapes(100, size=64, seed=0)
    assert ds.images.shape == (100, 64, 64, 3) and ds.images.dtype == np.uint8
    assert ds.masks.shape == (100, 64, 64) and ds.masks.dtype == bool
    assert np.bincount(ds.labels).tolist() == [20] * 5
    assert ds.class_names == SHAPE_CLASSES
    for img, mask in zip(ds.images, ds.masks):
        area = mask.mean()
        assert 0.02 < area < 0.5
        # The mask marks the object: its colour differs clearly from the background's.
        inside, outside = img[mask].mean(0), img[~mask].mean(0)
        assert np.linalg.norm(inside - outside) > 40


def test_circle_mask_area_matches_geometry():
    ds = make_shapes(50, seed=1, classes=("circle",))
    for mask in ds.masks:
        ys, xs = np.nonzero(mask)
        radius = (xs.max() - xs.min() + 1) / 2
        assert mask.sum() == pytest.approx(np.pi * radius ** 2, rel=0.12)


def test_extra_shapes_draw_and_unknown_shapes_are_refused():
    ds = make_shapes(6, seed=2, classes=EXTRA_SHAPES)
    assert ds.masks.reshape(6, -1).any(1).all()
    with pytest.raises(CNNLabError, match="Unknown shape"):
        make_shapes(2, classes=("circle", "dodecahedron"))


def test_digits_ship_offline():
    ds = load_digits(size=32)
    assert ds.images.shape == (1797, 32, 32, 1)
    assert set(ds.labels.tolist()) == set(range(10))
    x, y = ds.tensors()
    assert x.shape == (1797, 1, 32, 32) and 0.0 <= float(x.min()) and float(x.max()) <= 1.0


def test_torchvision_dataset_absent_offline_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path))
    with pytest.raises(CNNLabError, match="downloads are off"):
        load_torchvision_dataset("CIFAR-10")


def _idx(path, magic, dims, payload: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") if str(path).endswith(".gz") else open(path, "wb") as f:
        f.write(struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + payload)


def test_torchvision_dataset_present_locally_is_used(tmp_path, monkeypatch):
    """A local MNIST copy (here a fabricated 3-image one in the real IDX format) is loaded, not downloaded."""
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path))
    raw = tmp_path / "MNIST" / "raw"
    images = np.arange(3 * 28 * 28, dtype=np.uint32).astype(np.uint8).reshape(3, 28, 28)
    labels = np.array([7, 2, 1], np.uint8)
    for split, n in (("train", 3), ("t10k", 3)):
        _idx(raw / f"{split}-images-idx3-ubyte", 2051, (n, 28, 28), images.tobytes())
        _idx(raw / f"{split}-labels-idx1-ubyte", 2049, (n,), labels.tobytes())
    ds = load_torchvision_dataset("MNIST")
    assert ds.images.shape == (3, 28, 28, 1)
    np.testing.assert_array_equal(ds.images[..., 0], images)
    assert ds.labels.tolist() == [7, 2, 1] and ds.class_names[7] == "7"


def test_unknown_torchvision_dataset():
    with pytest.raises(CNNLabError, match="Unknown dataset"):
        load_torchvision_dataset("ImageNet-22k")


def test_shapes_without_masks_are_the_same_images():
    with_masks, without = make_shapes(40, seed=7), make_shapes(40, seed=7, keep_masks=False)
    assert without.masks is None and with_masks.masks.shape == (40, 64, 64)
    assert np.array_equal(with_masks.images, without.images) and np.array_equal(with_masks.labels, without.labels)
