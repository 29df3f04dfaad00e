"""Transfer learning: freezing, trainable counts, discriminative LRs, and transfer beating scratch."""
import io

import numpy as np
import pytest
import torch

from core import transfer
from core.data import EXTRA_SHAPES, TEXTURE_CLASSES, make_shapes, make_textures
from core.errors import CNNLabError
from core.models import load_model
from core.nets import build_net
from core.training import TrainConfig, Trainer


@pytest.fixture(scope="module")
def shapes_backbone():
    return transfer.backbone_from_loaded(load_model("shapesnet"))


@pytest.fixture(scope="module")
def new_shapes(shapes_backbone):
    return transfer.make_task(make_shapes(300, seed=71, classes=EXTRA_SHAPES),
                              make_shapes(150, seed=72, classes=EXTRA_SHAPES), shapes_backbone, "new shapes")


def _snapshot(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def test_freezing_really_freezes(shapes_backbone, new_shapes):
    net = transfer.TransferNet(shapes_backbone, 3, transfer.HeadSpec(), trainable_stages=1)
    before = _snapshot(net)
    train = new_shapes.shots(10, 0)
    cfg = TrainConfig(lr=1e-2, epochs=1, batch_size=16)
    Trainer(cfg, net, train, new_shapes.test, new_shapes.class_names, torch.full((3,), 0.5), torch.full((3,), 0.5),
            params=transfer.param_groups(net, 1e-2, 0.1)).run()
    after = net.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    # Frozen stages: weights *and* batch-norm running statistics untouched (they stay in eval mode).
    assert not any(k.startswith(("embed.body.block1", "embed.body.block2", "embed.body.block3")) for k in changed)
    assert any(k.startswith("embed.body.block4") and k.endswith("weight") for k in changed)
    assert {"head.0.weight", "head.0.bias"} <= changed


def test_trainable_counts_per_strategy(shapes_backbone):
    stages = shapes_backbone.stage_params()
    total = sum(stages.values())
    head = 64 * 3 + 3
    counts = {n: transfer.param_counts(transfer.TransferNet(shapes_backbone, 3, transfer.HeadSpec(), n))
              for n in (0, 1, 2, 4)}
    assert counts[0] == {"backbone": total, "head": head, "trainable": head}
    assert counts[1]["trainable"] == head + stages["block4"]
    assert counts[2]["trainable"] == head + stages["block4"] + stages["block3"]
    assert counts[4]["trainable"] == head + total == 60_688 + head


def test_head_editor_shapes():
    head = transfer.make_head(64, 5, transfer.HeadSpec(hidden_layers=2, width=32, dropout=0.5, activation="GELU"))
    assert [type(m).__name__ for m in head] == ["Linear", "GELU", "Dropout", "Linear", "GELU", "Dropout", "Linear"]
    assert sum(p.numel() for p in head.parameters()) == 64 * 32 + 32 + 32 * 32 + 32 + 32 * 5 + 5


def test_discriminative_lrs_per_param_group(shapes_backbone, new_shapes):
    net = transfer.TransferNet(shapes_backbone, 3, transfer.HeadSpec(), trainable_stages=2)
    groups = transfer.param_groups(net, 3e-3, 0.1)
    assert [(g["name"], g["lr"]) for g in groups] == [("head", 3e-3), ("backbone", pytest.approx(3e-4))]
    assert {id(p) for p in groups[0]["params"]} == {id(p) for p in net.head.parameters()}
    assert {id(p) for p in groups[1]["params"]} == {id(p) for p in net.embed.parameters() if p.requires_grad}
    cfg = TrainConfig(lr=3e-3, epochs=2, batch_size=16, schedule="onecycle")
    t = Trainer(cfg, net, new_shapes.shots(10, 0), new_shapes.test, new_shapes.class_names, torch.full((3,), 0.5),
                torch.full((3,), 0.5), params=groups)
    t.run()
    peaks = [g["max_lr"] for g in t.optimizer.param_groups]
    assert peaks == pytest.approx([3e-3, 3e-4])  # OneCycle keeps each group's own peak


@pytest.mark.slow
def test_feature_extractor_beats_scratch_with_ten_per_class(shapes_backbone, new_shapes):
    """Budget: 10 images per class of 3 new shapes (hexagon, heart, arrow), 60 Adam steps (OneCycle, LR 3e-3,
    batch 32), seed 0, 150 test images. Seeded: feature extractor 0.91, from scratch 0.34; chance 0.33."""
    train = new_shapes.shots(10, 0)
    fe = transfer.train_strategy("feature extractor", shapes_backbone, new_shapes, train, transfer.HeadSpec(),
                                 transfer.Budget())
    scratch = transfer.train_strategy("from scratch", shapes_backbone, new_shapes, train, transfer.HeadSpec(),
                                      transfer.Budget())
    assert fe.test_acc >= 0.8 and fe.test_acc > scratch.test_acc + 0.3
    assert fe.params["trainable"] == 195 and scratch.params["trainable"] == 60_688 + 195


def test_few_shot_sampling_is_balanced_and_seeded():
    labels = np.repeat(np.arange(3), 20)
    idx = transfer.few_shot(labels, 5, seed=1)
    assert np.bincount(labels[idx]).tolist() == [5, 5, 5]
    assert np.array_equal(idx, transfer.few_shot(labels, 5, seed=1))
    assert not np.array_equal(idx, transfer.few_shot(labels, 5, seed=2))


def test_linear_probe_ranking_is_deterministic(shapes_backbone):
    simple = transfer.backbone_from_loaded(load_model("simplecnn_shapes"))
    pool = make_shapes(300, seed=71, classes=EXTRA_SHAPES)
    runs = [transfer.rank([transfer.linear_probe(b, pool, seed=3) for b in (simple, shapes_backbone)])
            for _ in range(2)]
    assert [(p.key, p.accuracy) for p in runs[0]] == [(p.key, p.accuracy) for p in runs[1]]
    assert runs[0][0].key == "shapesnet" and runs[0][0].accuracy > 0.9
    assert "Use **ShapesNet" in transfer.recommend(runs[0], 3)


def test_recommendation_flags_domain_shift():
    probes = [transfer.Probe("a", "A", 0.36, 0.1, 10), transfer.Probe("b", "B", 0.30, 0.1, 5)]
    assert "No candidate separates these classes well" in transfer.recommend(probes, 3)


@pytest.mark.parametrize("arch,size,stages", [("simplecnn", 32, 2), ("vgg", 32, 2), ("resnet", 32, 4)])
def test_training_page_models_become_backbones(arch, size, stages):
    model = build_net(arch, 5, 1, width=8, depth=2)
    b = transfer.backbone_from_model("run-x", "mine", model, input_size=size, in_channels=1, mean=[0.5], std=[0.25],
                                     trained=True, source="test")
    assert len(b.stages) == stages
    net = transfer.TransferNet(b, 4, transfer.HeadSpec(), 1)
    assert net(torch.rand(2, 1, size, size)).shape == (2, 4)


@pytest.mark.parametrize("key", ["resnet18", "mobilenet_v3_small"])
def test_torchvision_backbones_are_staged(key):
    b = transfer.backbone_from_loaded(load_model(key))
    assert b.stages[0] == "stem" and len(b.stages) >= 4 and not b.trained  # offline: random weights, flagged
    b.input_size = 64
    assert transfer.TransferNet(b, 3, transfer.HeadSpec(), 1)(torch.rand(2, 3, 64, 64)).shape == (2, 3)


def test_grey_task_on_an_rgb_backbone_and_back(shapes_backbone):
    from core.data import load_digits

    digits = load_digits()
    x = transfer.to_input(digits, shapes_backbone)
    assert x.shape[1:] == (3, 64, 64) and torch.equal(x[:, 0], x[:, 2])


def test_textures_are_balanced_and_seeded():
    a, b = make_textures(40, seed=3), make_textures(40, seed=3)
    assert a.class_names == TEXTURE_CLASSES and np.bincount(a.labels).tolist() == [10] * 4
    assert np.array_equal(a.images, b.images) and a.images.shape == (40, 64, 64, 3)


def test_compare_stops_early_with_partial_results(shapes_backbone, new_shapes):
    calls = []
    out = transfer.compare(shapes_backbone, new_shapes, (1, 5), transfer.HeadSpec(), transfer.Budget(steps=20),
                           lambda f, t: calls.append(t), lambda: len(calls) > 1)
    assert list(out) == [1] and list(out[1]) == ["feature extractor"]


def test_export_reloads_with_weights_only(shapes_backbone, new_shapes):
    head = transfer.HeadSpec(hidden_layers=1, width=32)
    o = transfer.train_strategy("fine-tune", shapes_backbone, new_shapes, new_shapes.shots(5, 0), head,
                                transfer.Budget(steps=10))
    blob = torch.load(io.BytesIO(transfer.export_bytes(o, shapes_backbone, new_shapes.class_names, head)),
                      weights_only=True)
    net = transfer.TransferNet(shapes_backbone, 3, head, 1)
    net.load_state_dict(blob["state_dict"])
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(net.eval()(x), o.model.eval()(x))
    assert blob["class_names"] == list(EXTRA_SHAPES) and blob["strategy"] == "fine-tune"


def test_a_one_class_task_is_refused(shapes_backbone):
    one = make_shapes(10, seed=0, classes=("circle",))
    with pytest.raises(CNNLabError, match="at least two classes"):
        transfer.make_task(one, one, shapes_backbone)


@pytest.mark.parametrize("per_class", [(1, 6), (2, 2), (2, 2, 2), (3, 3, 3, 3), (1, 1, 5)])
def test_holdout_keeps_every_class_in_the_pool(per_class):
    from core.data import ImageDataset

    labels = np.repeat(np.arange(len(per_class)), per_class)
    ds = ImageDataset(np.zeros((len(labels), 4, 4, 3), np.uint8), labels, tuple("abcd"[:len(per_class)]), "tiny")
    pool, test = transfer.holdout(ds, 0.25, seed=0)
    assert set(pool.labels) == set(labels) and len(test) >= 1 and len(pool) + len(test) == len(labels)
    singles = [c for c, n in enumerate(per_class) if n == 1]
    assert not set(test.labels) & set(singles)  # a class's only image is trained on, not tested


def test_holdout_refuses_when_every_class_has_one_image():
    from core.data import ImageDataset

    ds = ImageDataset(np.zeros((2, 4, 4, 3), np.uint8), np.array([0, 1]), ("a", "b"), "tiny")
    with pytest.raises(CNNLabError, match="Every class has a single image"):
        transfer.holdout(ds, 0.25, seed=0)
