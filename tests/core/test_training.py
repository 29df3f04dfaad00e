import numpy as np
import pytest
import torch

from core.data import make_shapes
from core.errors import CNNLabError
from core.models import REGISTRY, ShapesNet
from core.training import accuracy, dataset_tensor, fit


@pytest.mark.slow
def test_small_seeded_budget_learns_shapes():
    spec = REGISTRY["shapesnet"]
    train, val = make_shapes(1500, seed=11), make_shapes(200, seed=12)
    xt = (dataset_tensor(train, 64, spec.mean, spec.std), torch.from_numpy(train.labels))
    xv = (dataset_tensor(val, 64, spec.mean, spec.std), torch.from_numpy(val.labels))
    torch.manual_seed(0)
    model = ShapesNet()
    before = accuracy(model, *xv)
    hist = fit(model, xt, xv, epochs=12, lr=3e-3, batch_size=32, seed=0)
    assert hist.train_loss[-1] < hist.train_loss[0]
    # Seeded, yet float order differs between CPUs: 8 epochs ended at 0.835 on one machine and 0.735 on
    # another. 12 end at 0.92-0.925 here with one thread or two; chance is 0.2.
    assert hist.val_acc[-1] >= 0.75 and before < 0.4


def test_fit_is_deterministic_for_a_seed():
    data = make_shapes(64, seed=5)
    x = (dataset_tensor(data, 32, (0.5,) * 3, (0.5,) * 3), torch.from_numpy(data.labels))
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = REGISTRY["simplecnn_shapes"].build()
        runs.append(fit(model, x, x, epochs=1, seed=7).train_loss)
    assert runs[0] == runs[1]


def test_dataset_tensor_resizes_and_normalises():
    data = make_shapes(3, size=64, seed=0)
    x = dataset_tensor(data, 32, (0.5,) * 3, (0.5,) * 3)
    assert x.shape == (3, 3, 32, 32) and -1.0 <= float(x.min()) and float(x.max()) <= 1.0


def test_split_counts_and_sample_images_describe_the_split_without_making_it():
    from core.training import sample_images, split_counts, split_dataset

    ds = make_shapes(103, seed=5)
    train, val, _, _, notes = split_dataset(ds, size=32, val_fraction=0.25, limit=90, seed=3)
    assert split_counts(ds, val_fraction=0.25, limit=90, seed=3) == (len(train), len(val), notes)
    # The preview's images are the subset's first, resized exactly as the split resizes them.
    idx = np.random.default_rng(3).permutation(103)[:4]
    expected = dataset_tensor(type(ds)(ds.images[idx], ds.labels[idx], ds.class_names, ds.name), 32,
                              (0.0,) * 3, (1.0,) * 3)
    assert torch.equal(sample_images(ds, 4, size=32, limit=90, seed=3), expected)
    with pytest.raises(CNNLabError, match="cannot make both"):
        split_counts(ds, val_fraction=0.5, limit=1, seed=0)
