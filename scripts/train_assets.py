"""Retrain the models shipped in assets/models/ (seeded; a few minutes on 2 CPU cores).

    python scripts/train_assets.py            # every model
    python scripts/train_assets.py shapesnet  # one

Writes <key>.safetensors, <key>.json (metrics read by the app) and <key>.md (the model card).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core import lesions  # noqa: E402
from core.data import SHAPE_CLASSES, make_shapes  # noqa: E402
from core.models import ASSETS, REGISTRY  # noqa: E402
from core.training import accuracy, dataset_tensor, fit  # noqa: E402

# Seeds are disjoint so train, validation and test data never coincide.
SPLITS = {"train": 101, "val": 202, "test": 303}
SHAPES_TASK = ("classify one synthetic shape per image: " + ", ".join(SHAPE_CLASSES) + ".",
               "`core.data.make_shapes` (random size, position, rotation, colour, textured background, pixel noise)")
LESION_TASK = ("tell a brain volume with a synthetic lesion from a healthy one (healthy, lesion).",
               "`core.lesions.make_set`: nilearn's MNI152 T1 template resampled to 64^3, with random rotation "
               "(+/-6 deg), shift (+/-3 voxels), intensity scaling and noise; positives get a Gaussian blob "
               "(radius 3-7 voxels) at a random point inside the brain, bright anywhere or dark in bright tissue")
# The 32x32 SimpleCNN has no batch norm and sees small shapes at half resolution: it needs more data.
RECIPES = {
    "simplecnn_shapes": {"epochs": 25, "lr": 4e-3, "batch": 64, "train": 16000, "val": 1000, "test": 2000},
    "shapesnet": {"epochs": 10, "lr": 6e-3, "batch": 64, "train": 6000, "val": 1000, "test": 2000},
    "lesion3d": {"epochs": 30, "lr": 1e-2, "batch": 8, "train": 1600, "val": 200, "test": 400},
}


def _shapes_data(key: str, recipe: dict):
    spec = REGISTRY[key]
    data = {name: make_shapes(recipe[name], size=64, seed=seed) for name, seed in SPLITS.items()}
    tensors = {name: (dataset_tensor(ds, spec.input_size, spec.mean, spec.std), torch.from_numpy(ds.labels))
               for name, ds in data.items()}
    return spec.build(), tensors, spec.label, spec.input_size, list(SHAPE_CLASSES), SHAPES_TASK, True


def _lesion_data(recipe: dict):
    samples, tensors = {}, {}
    for name, seed in SPLITS.items():
        samples[name] = lesions.make_set(recipe[name], seed)
        tensors[name] = (lesions.as_batch([s.volume for s in samples[name]]),
                         torch.tensor([s.label for s in samples[name]]))
    return (lesions.Lesion3DNet(), (samples, tensors), "Lesion3DNet (3D CNN, synthetic lesions in MNI152)",
            lesions.GRID, list(lesions.CLASSES), LESION_TASK, True)


def _fit(key: str, model, data, recipe: dict, flip: bool) -> float:
    """Train; return the final validation accuracy. The lesion model also learns where the lesion is
    (lesions.lesion_loss), from the masks the generator provides."""
    if key == "lesion3d":
        samples, tensors = data
        lesions.fit_lesion_net(model, samples["train"], epochs=recipe["epochs"], lr=recipe["lr"],
                               batch_size=recipe["batch"], seed=0, on_epoch=lambda e, loss: print(
                                   f"{key} epoch {e + 1}: loss {loss:.3f} val {accuracy(model, *tensors['val']):.3f}",
                                   flush=True))
        return accuracy(model, *tensors["val"])
    return fit(model, data["train"], data["val"], epochs=recipe["epochs"], lr=recipe["lr"],
               batch_size=recipe["batch"], seed=0, flip=flip,
               on_epoch=lambda e, loss, acc: print(f"{key} epoch {e + 1}: loss {loss:.3f} val {acc:.3f}",
                                                   flush=True)).val_acc[-1]


def train_one(key: str, out_dir: Path) -> dict:
    recipe = RECIPES[key]
    torch.manual_seed(0)
    model, data, label, size, classes, (task, data_text), flip = (
        _lesion_data(recipe) if key == "lesion3d" else _shapes_data(key, recipe))
    start = time.perf_counter()
    val_acc = _fit(key, model, data, recipe, flip)
    seconds = time.perf_counter() - start
    tensors = data[1] if key == "lesion3d" else data
    test_acc = accuracy(model, *tensors["test"])
    extra = _lesion_pointing(model, tensors["test"]) if key == "lesion3d" else {}
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out_dir / f"{key}.safetensors"))
    card = {
        "model": key,
        "architecture": type(model).__name__,
        "params": sum(p.numel() for p in model.parameters()),
        "input_size": size,
        "classes": classes,
        "task": task,
        "data_source": data_text,
        "data": {name: {"examples": recipe[name], "seed": seed} for name, seed in SPLITS.items()},
        "epochs": recipe["epochs"],
        "optimizer": f"Adam, one-cycle LR peak {recipe['lr']}, batch {recipe['batch']}"
                     + (", random left-right flips; loss: cross-entropy plus a per-cell BCE on lesion coverage"
                        if key == "lesion3d" else ", random horizontal flips" if flip else ""),
        "val_accuracy": round(val_acc, 4),
        "test_accuracy": round(test_acc, 4),
        "train_seconds": round(seconds, 1),
        "torch": torch.__version__,
        "trained_on": str(date.today()),
        "command": f"python scripts/train_assets.py {key}",
        **extra,
    }
    (out_dir / f"{key}.json").write_text(json.dumps(card, indent=2) + "\n")
    (out_dir / f"{key}.md").write_text(_card_markdown(label, card))
    return card


def _lesion_pointing(model, test) -> dict:
    """Share of held-out positives whose 3D Grad-CAM peak lies inside the lesion (the 3D pointing game)."""
    from core import explain
    from core.models import REGISTRY, LoadedModel

    samples = lesions.make_set(RECIPES["lesion3d"]["test"], SPLITS["test"])
    spec = REGISTRY["lesion3d"]
    loaded = LoadedModel(spec, model.eval(), True, "training", spec.class_names)
    hits = [bool(s.mask[lesions.peak(explain.cam(loaded, x[None], "Grad-CAM", spec.target_layer, 1))])
            for s, x in zip(samples, test[0]) if s.label == 1]
    return {"cam_pointing_game": round(sum(hits) / len(hits), 4)}


def _card_markdown(label: str, c: dict) -> str:
    dims = "x".join([str(c["input_size"])] * (3 if c["model"] == "lesion3d" else 2))
    split = ", ".join(f"{name} {c['data'][name]['examples']} (seed {c['data'][name]['seed']})" for name in SPLITS)
    return f"""# Model card: {label}

- **Architecture:** `{c['architecture']}`, {c['params']:,} parameters, input {dims}.
- **Task:** {c['task']}
- **Data:** {c['data_source']}. Splits: {split}; the test split is held out from training and model selection.
- **Training:** {c['epochs']} epochs, {c['optimizer']}; {c['train_seconds']} s on this machine's CPU.
- **Held-out test accuracy:** {c['test_accuracy']:.1%} (validation {c['val_accuracy']:.1%}).{_pointing_line(c)}
- **Rebuild:** `{c['command']}` (seeded; torch {c['torch']}, {c['trained_on']}).
- **Limits:** it has only seen this synthetic task. On anything else it still answers with one of its
  classes, and that answer means nothing. It is a teaching model, not a diagnostic or production tool.
"""


def _pointing_line(c: dict) -> str:
    if "cam_pointing_game" not in c:
        return ""
    return (f"\n- **3D Grad-CAM pointing game** (held-out positives, Grad-CAM at `features.block4`, peak "
            f"inside the lesion): {c['cam_pointing_game']:.1%}.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("keys", nargs="*", help=f"models to retrain, from {list(RECIPES)} (default: all)")
    parser.add_argument("--out", type=Path, default=ASSETS)
    args = parser.parse_args()
    unknown = set(args.keys) - set(RECIPES)
    if unknown:
        parser.error(f"unknown models {sorted(unknown)}; choose from {list(RECIPES)}")
    args.out.mkdir(parents=True, exist_ok=True)
    for key in args.keys or list(RECIPES):
        card = train_one(key, args.out)
        print(f"{key}: test accuracy {card['test_accuracy']:.4f} in {card['train_seconds']} s")


if __name__ == "__main__":
    main()
